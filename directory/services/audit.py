"""Who acts, and the record of what they did."""

from dataclasses import dataclass
from typing import Any

from directory.models import ActorType, AuditEvent, ScimToken, Tenant


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
        return cls(
            type=ActorType.ADMIN, label=f"admin {admin.get_username()}", admin=admin, request_id=request_id
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
) -> AuditEvent:
    """The event ``audit_record`` appends, not saved yet (``audited_writes`` writes it with the change)."""
    return AuditEvent(
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
