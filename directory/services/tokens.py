"""Issuing and revoking SCIM bearer tokens."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from directory.models import ScimToken, Tenant
from directory.services.audit import Actor, audit_record


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@transaction.atomic
def token_create(
    *, tenant: Tenant, name: str, actor: Actor, expires_at: datetime | None = None
) -> tuple[ScimToken, str]:
    """Issue a token; the plaintext returned here is the only copy there will ever be."""
    token, plaintext = ScimToken.objects.create_token(
        tenant=tenant, name=name, created_by=actor.admin, expires_at=expires_at
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="token.created",
        target_type="token",
        target_id=token.pk,
        target_label=f"{name} ({token.prefix}…)",
        changes={"expires_at": {"before": None, "after": _stamp(expires_at)}},
    )
    return token, plaintext


@transaction.atomic
def token_revoke(*, token: ScimToken, actor: Actor) -> ScimToken:
    """Revoke at once; revoking a revoked token changes nothing and records nothing."""
    token = ScimToken.objects.select_for_update().select_related("tenant").get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            tenant=token.tenant,
            actor=actor,
            action="token.revoked",
            target_type="token",
            target_id=token.pk,
            target_label=f"{token.name} ({token.prefix}…)",
            changes={"revoked_at": {"before": None, "after": _stamp(token.revoked_at)}},
        )
    return token
