"""Who acts, and the record of what they did."""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models

from directory.models import ActorType, AuditEvent, ScimToken, Tenant
from directory.services.audit_chain import personal_digest, redaction_mac
from directory.services.events import events_nudge


@dataclass(frozen=True)
class Actor:
    """The party a write is attributed to: an IdP's token, an administrator or a system task."""

    type: ActorType
    label: str
    token: ScimToken | None = None
    admin: Any = None  # settings.AUTH_USER_MODEL
    request_id: str = ""

    @classmethod
    def for_token(cls, token: ScimToken, request_id: str = "") -> "Actor":
        return cls(type=ActorType.TOKEN, label=f"token {token.name}", token=token, request_id=request_id)

    @classmethod
    def for_admin(cls, admin, request_id: str = "") -> "Actor":
        """A person signed in: an administrator (staff), or an HR reviewer (lifecycle.reviewers)."""
        kind = "admin" if getattr(admin, "is_staff", True) else "reviewer"
        return cls(
            type=ActorType.ADMIN, label=f"{kind} {admin.get_username()}", admin=admin, request_id=request_id
        )

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(type=ActorType.SYSTEM, label=label)

    @classmethod
    def for_client(cls, address: str | None) -> "Actor":
        """Someone not logged in, known only by the address a request came from."""
        return cls(type=ActorType.CLIENT, label=f"client {address or 'unknown'}")


def audit_record(*, tenant: Tenant | None, **details: Any) -> AuditEvent:
    """Append one event (``audit_event``'s arguments). Call inside the transaction of the write it
    describes. ``tenant`` is None only for events of no tenant's directory (the admin login's)."""
    event = audit_event(tenant=tenant, **details)
    event.save()
    return event


def audit_event(
    *,
    tenant: Tenant | None,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    target_label: str = "",
    changes: dict | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """The event ``audit_record`` appends, not saved yet (``audited_writes`` writes it with the
    change); ``at``: when it occurred, the write's own time (default: now)."""
    event = AuditEvent(
        tenant=tenant,
        actor_type=actor.type,
        actor_token=actor.token,
        actor_admin=actor.admin,
        actor_label=actor.label[:200],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:300],
        changes=changes or {},
        request_id=actor.request_id,
    )
    if at is not None:
        event.occurred_at = at
    events_nudge(action)  # published to the host application after it commits (issue 22)
    return event


def input_ignored_record(
    *, tenant: Tenant, actor: Actor, target_type: str, target_id: object, target_label: str, ignored
) -> None:
    """Record what a write that changed nothing ignored (extensions the tenant has not declared,
    RFC 7644 section 3.3) as ``<type>.input_ignored``, unless the resource's latest event already
    names exactly that: identity providers re-send the same profile on every sync, and once is
    evidence enough until the resource changes or other input is ignored."""
    paths = sorted(set(ignored))
    latest = (
        AuditEvent.objects.filter(tenant=tenant, target_type=target_type, target_id=str(target_id))
        .order_by("-id")
        .values_list("changes", flat=True)
        .first()
    )
    if isinstance(latest, dict) and latest.get("ignored") == paths:
        return
    audit_record(
        tenant=tenant,
        actor=actor,
        action=f"{target_type}.input_ignored",
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        changes={"ignored": paths},
    )


PURGED = "[purged]"


def audit_redact(
    *,
    tenant: Tenant,
    actor: Actor,
    target_type: str,
    target_id: object,
    personal: list[str],
    keep: frozenset[str],
    note: dict | None = None,
) -> int:
    """The one path that rewrites audit events (the purge's; migration 0020 lets nothing else
    through): in the events about ``target_id``, the label and every value of ``changes`` become
    ``[purged]``, except under the keys in ``keep`` (states, ids, decisions: no personal data),
    where only the ``personal`` strings (the person's names, addresses, userName) are replaced.
    Who acted, what, on what and when stay. An ``audit.redacted`` event records it. Returns how
    many events were redacted. Call inside the purge's transaction."""
    events = list(
        AuditEvent.objects.filter(tenant=tenant, target_type=target_type, target_id=str(target_id))
        .exclude(action="audit.redacted")
        .values_list("pk", "target_label", "changes")
    )
    rewritten = [
        (pk, PURGED if label else "", _redacted(changes or {}, keep, personal))
        for pk, label, changes in events
    ]
    with _redacting():
        for pk, label, changes in rewritten:
            # QuerySet.update itself: AuditEventQuerySet refuses every other caller.
            models.QuerySet.update(AuditEvent.objects.filter(pk=pk), target_label=label, changes=changes)
    # What each event now holds, MACed, so that the hash chain still verifies it (audit_chain).
    macs = {str(pk): redaction_mac(pk, personal_digest(label, changes)) for pk, label, changes in rewritten}
    audit_record(
        tenant=tenant,
        actor=actor,
        action="audit.redacted",
        target_type=target_type,
        target_id=target_id,
        changes={"events": len(rewritten), **(note or {}), "chain_macs": macs},
    )
    return len(rewritten)


def _redacted(value: Any, keep: frozenset[str], personal: list[str], *, kept: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v, keep, personal, kept=kept or k in keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, keep, personal, kept=kept) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if not kept:
        return PURGED
    if isinstance(value, str):
        return text_redact(value, personal)
    return value


def text_redact(text: str, personal: list[str]) -> str:
    """``text`` with each of the ``personal`` strings replaced (ignoring case; longest first, so a
    full name goes before its parts; none shorter than three characters)."""
    for word in sorted({p for p in personal if len(p) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(word), PURGED, text, flags=re.IGNORECASE)
    return text


@contextmanager
def _redacting():
    """Open, for the statements inside, the trigger's one exception (migration 0020): only inside
    a transaction, whose end closes it whatever happens."""
    if not connection.in_atomic_block:
        raise RuntimeError("Audit events are redacted only inside the purge's transaction.")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('roster.audit_redaction', 'on', true)")
        else:
            cursor.execute("INSERT INTO directory_audit_redaction (flag) VALUES (1)")
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('roster.audit_redaction', 'off', true)")
            else:
                cursor.execute("DELETE FROM directory_audit_redaction")
