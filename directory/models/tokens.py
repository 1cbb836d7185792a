"""SCIM bearer tokens. Only a SHA-256 hash is stored; the plaintext is shown once, at creation.

A fast hash is right here (unlike passwords): a token carries 256 bits of randomness, so no
dictionary or brute-force attack applies, and every SCIM request must verify one cheaply.
"""

import hashlib
import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "roster_"  # noqa: S105 (a label, not a secret)


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ScimTokenManager(models.Manager["ScimToken"]):
    def create_token(
        self,
        *,
        tenant,
        name: str,
        created_by=None,
        expires_at: datetime | None = None,
    ) -> tuple["ScimToken", str]:
        """Create a token; return it with its plaintext, which is not stored anywhere."""
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(
            tenant=tenant,
            name=name,
            prefix=plaintext[: len(TOKEN_PREFIX) + 6],
            secret_hash=token_hash(plaintext),
            created_by=created_by,
            expires_at=expires_at,
        )
        return token, plaintext

    def find(self, plaintext: str) -> "ScimToken | None":
        """The token with this plaintext, usable or not; None when there is none."""
        digest = token_hash(plaintext)
        token = self.select_related("tenant").filter(secret_hash=digest).first()
        # The lookup is by a hash the caller cannot steer; the comparison is still constant-time so
        # that no code path compares secrets with ==.
        if token is None or not hmac.compare_digest(token.secret_hash, digest):
            return None
        return token


class ScimToken(models.Model):
    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=100, help_text="Which connection uses it, e.g. 'okta'.")
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The first characters, to recognise it."
    )
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Rotation (directory.services.tokens.token_rotate): the token issued to replace this one;
    # both work until this one's expires_at, the overlap's end the administrator chose.
    rotated_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rotated_from", editable=False
    )

    objects = ScimTokenManager()

    class Meta:
        verbose_name = "SCIM token"
        ordering = ["tenant", "name", "created_at"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired, and its tenant is active."""
        now = now or timezone.now()
        if self.revoked_at is not None or not self.tenant.is_active:
            return False
        return self.expires_at is None or now < self.expires_at
