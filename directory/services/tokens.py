"""Issuing, rotating and revoking SCIM bearer tokens, and host applications' API keys."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from directory.errors import NotAllowedNow
from directory.models import ApiKey, ScimToken, Tenant
from directory.services.audit import Actor, audit_record


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@transaction.atomic
def token_create(
    *, tenant: Tenant, name: str, actor: Actor, expires_at: datetime | None = None
) -> tuple[ScimToken, str]:
    """Issue a token; the plaintext returned here is the only copy there will ever be."""
    return _issue(ScimToken, "token", tenant=tenant, name=name, actor=actor, expires_at=expires_at)


@transaction.atomic
def token_revoke(*, token: ScimToken, actor: Actor) -> ScimToken:
    """Revoke at once; revoking a revoked token changes nothing and records nothing."""
    return _revoke(ScimToken, "token", token, actor)


@transaction.atomic
def api_key_create(
    *, tenant: Tenant | None, name: str, actor: Actor, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a host application's API key, of one tenant or (None) of every tenant; the plaintext
    returned here is the only copy there will ever be. A key of every tenant is an event of none."""
    return _issue(ApiKey, "api_key", tenant=tenant, name=name, actor=actor, expires_at=expires_at)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke at once; revoking a revoked key changes nothing and records nothing."""
    return _revoke(ApiKey, "api_key", key, actor)


def _issue(model, kind: str, *, tenant, name: str, actor: Actor, expires_at: datetime | None):
    credential, plaintext = model.objects.issue(
        tenant=tenant, name=name, created_by=actor.admin, expires_at=expires_at
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action=f"{kind}.created",
        target_type=kind,
        target_id=credential.pk,
        target_label=f"{name} ({credential.prefix}…)",
        changes={"expires_at": {"before": None, "after": _stamp(expires_at)}},
    )
    return credential, plaintext


def _revoke(model, kind: str, credential, actor: Actor):
    credential = model.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=credential.pk)
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
        audit_record(
            tenant=credential.tenant,
            actor=actor,
            action=f"{kind}.revoked",
            target_type=kind,
            target_id=credential.pk,
            target_label=f"{credential.name} ({credential.prefix}…)",
            changes={"revoked_at": {"before": None, "after": _stamp(credential.revoked_at)}},
        )
    return credential


# The longest two tokens of one connection may both work: long enough to change the identity
# provider's setting in a change window, short enough that a leaked old token dies soon.
MAX_OVERLAP = timedelta(days=30)


@transaction.atomic
def token_rotate(
    *, token: ScimToken, actor: Actor, overlap_until: datetime, expires_at: datetime | None = None
) -> tuple[ScimToken, str]:
    """Issue a token to replace ``token`` (same tenant and name, ``expires_at`` its own); the old
    one keeps working until ``overlap_until`` (now: at once), so that the identity provider can be
    given the new one without a failed sync. The old token's row is locked: a parallel rotation or
    revocation goes first or refuses this one, never two replacements. Returns the new token and
    its plaintext (shown once)."""
    old = ScimToken.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=token.pk)
    now = timezone.now()
    if old.revoked_at is not None:
        raise NotAllowedNow("This token is revoked; issue a new token instead.")
    if old.rotated_to_id is not None:
        raise NotAllowedNow(f"This token was already rotated, to the token {old.rotated_to}.")
    if old.expires_at is not None and old.expires_at <= now:
        raise NotAllowedNow("This token has expired; issue a new token instead.")
    if overlap_until < now - timedelta(minutes=1) or overlap_until > now + MAX_OVERLAP:
        raise NotAllowedNow(f"The old token's end must be between now and {MAX_OVERLAP.days} days from now.")
    if expires_at is not None and expires_at <= max(now, overlap_until):
        raise NotAllowedNow("The new token must expire after the old one stops working.")
    end = max(now, overlap_until)
    if old.expires_at is not None:
        end = min(end, old.expires_at)
    new, plaintext = token_create(tenant=old.tenant, name=old.name, actor=actor, expires_at=expires_at)
    before = old.expires_at
    old.expires_at, old.rotated_to = end, new
    old.save(update_fields=["expires_at", "rotated_to"])
    audit_record(
        tenant=old.tenant,
        actor=actor,
        action="token.rotated",
        target_type="token",
        target_id=old.pk,
        target_label=f"{old.name} ({old.prefix}…)",
        changes={
            "expires_at": {"before": _stamp(before), "after": _stamp(end)},
            "rotated_to": {"before": None, "after": f"{new.name} ({new.prefix}…)"},
        },
    )
    return new, plaintext
