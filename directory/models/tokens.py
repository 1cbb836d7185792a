"""SCIM bearer tokens. Only a SHA-256 hash is stored; the plaintext is shown once, at creation.

A fast hash is right here (unlike passwords): a token carries 256 bits of randomness, so no
dictionary or brute-force attack applies, and every SCIM request must verify one cheaply.
"""

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "roster_"  # noqa: S105 (a label, not a secret)


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class CredentialManager(models.Manager):
    """Issuing and finding bearer credentials (SCIM tokens, host applications' API keys)."""

    def issue(self, *, created_by=None, expires_at: datetime | None = None, **fields) -> tuple:
        """Create one; return it with its plaintext, which is not stored anywhere."""
        start: str = getattr(self.model, "PLAINTEXT_PREFIX")  # noqa: B009 (each model's own)
        plaintext = start + secrets.token_urlsafe(32)
        credential = self.create(
            prefix=plaintext[: len(start) + 6],
            secret_hash=token_hash(plaintext),
            created_by=created_by,
            expires_at=expires_at,
            **fields,
        )
        return credential, plaintext

    def find(self, plaintext: str):
        """The credential with this plaintext, usable or not; None when there is none."""
        digest = token_hash(plaintext)
        credential: Any = self.select_related("tenant").filter(secret_hash=digest).first()
        # The lookup is by a hash the caller cannot steer; the comparison is still constant-time so
        # that no code path compares secrets with ==.
        if credential is None or not hmac.compare_digest(credential.secret_hash, digest):
            return None
        return credential


class ScimTokenManager(CredentialManager):
    def create_token(
        self, *, tenant, name: str, created_by=None, expires_at: datetime | None = None
    ) -> tuple["ScimToken", str]:
        """Create a token; return it with its plaintext, which is not stored anywhere."""
        return self.issue(tenant=tenant, name=name, created_by=created_by, expires_at=expires_at)


class Credential(models.Model):
    """What a bearer credential keeps: a SHA-256 of its plaintext and its first characters, who
    issued it and when, its last use, expiry and revocation. ``PLAINTEXT_PREFIX`` starts each one's
    plaintext (secret scanners recognise it)."""

    PLAINTEXT_PREFIX: str

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

    class Meta:
        abstract = True

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired, and its tenant (where it has one) is active."""
        now = now or timezone.now()
        tenant = self.tenant  # type: ignore[attr-defined]
        if self.revoked_at is not None or (tenant is not None and not tenant.is_active):
            return False
        return self.expires_at is None or now < self.expires_at


class ScimToken(Credential):
    PLAINTEXT_PREFIX = TOKEN_PREFIX

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=100, help_text="Which connection uses it, e.g. 'okta'.")
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


class ApiKey(Credential):
    """A host application's key to Roster's own API (the event feed, issue 22): not a SCIM token,
    which an identity provider holds. Scoped to one tenant, or (empty) to every tenant. Hashed and
    shown once, like a token."""

    PLAINTEXT_PREFIX = "roster_ak_"

    tenant = models.ForeignKey(
        "directory.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="The tenant whose events it may read; empty: every tenant's.",
    )
    name = models.CharField(max_length=100, help_text="Which host application uses it, e.g. 'billing'.")

    objects = CredentialManager()

    class Meta:
        verbose_name = "host application API key"
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return f"{self.tenant.slug if self.tenant else 'every tenant'}/{self.name} ({self.prefix}…)"
