"""Bearer-token authentication: the token selects the tenant (never a session or a redirect)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission

from directory.db import token_cache
from directory.models import ScimToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ScimBearerAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        if len(credential) > 200:
            raise AuthenticationFailed("The bearer token is not valid.")
        token = token_cache.find(credential)
        now = timezone.now()
        if token is None:
            raise AuthenticationFailed("The bearer token is not valid.")
        if token.revoked_at is not None:
            raise AuthenticationFailed("The bearer token has been revoked.")
        if token.expires_at is not None and token.expires_at <= now:
            raise AuthenticationFailed("The bearer token has expired.")
        if not token.tenant.is_active:
            raise AuthenticationFailed("The bearer token's tenant is deactivated.")
        slug = request.parser_context["kwargs"].get("tenant_slug") if request.parser_context else None
        if slug is not None and slug != token.tenant.slug:
            raise AuthenticationFailed(f"The bearer token is not valid for tenant {slug!r}.")
        # Record use at most once a minute, not with a write on every request.
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return (None, token)

    def authenticate_header(self, request):
        return 'Bearer realm="scim"'


class HasScimToken(BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, ScimToken):
            raise NotAuthenticated("Authentication required: send 'Authorization: Bearer <token>'.")
        return True
