"""A case's audit events: on its user's trail, naming the case, its state before and after, and
the reason given (``lifecycle.services`` and ``lifecycle.bursts`` record every transition so);
and its history, read back."""

from __future__ import annotations

from typing import Any

from directory.models import AuditEvent
from directory.services.audit import Actor, audit_event
from lifecycle.models import OffboardingCase


def case_event(
    case: OffboardingCase,
    actor: Actor,
    event: str,
    before: str,
    reason: str = "",
    *,
    label: str | None = None,
    after: str | None = None,
    **more: Any,
) -> AuditEvent:
    """The case's audit event, not saved: on the user's trail (``target`` the user, ``label`` its
    userName, read from the case's user if not given), naming the case, its state ``before`` and
    ``after`` (by default, the case's state now)."""
    return audit_event(
        tenant=case.tenant,
        actor=actor,
        action=f"offboarding.{event}",
        target_type="user",
        target_id=case.subject_id,
        target_label=label if label is not None else case_label(case),
        changes={
            "case": case.pk,
            "state": {"before": before or None, "after": after or case.state},
            **({"reason": reason} if reason else {}),
            **more,
        },
    )


def case_record(
    case: OffboardingCase, actor: Actor, event: str, before: str, reason: str = "", **more: Any
) -> None:
    """Append the case's audit event (``case_event``'s arguments)."""
    case_event(case, actor, event, before, reason, **more).save()


def case_label(case: OffboardingCase) -> str:
    user = case.user
    return user.user_name if user is not None else str(case.subject_id)


def case_history(case: OffboardingCase, limit: int = 500) -> list[AuditEvent]:
    """The audit events of the case's person, oldest first (the newest ``limit`` of them): its
    transitions, decisions and notes, each with actor, time and reason (``case_event``), and the
    IdP's writes. The admin's case page and the HR screen's show it."""
    events = AuditEvent.objects.filter(
        tenant_id=case.tenant_id, target_type="user", target_id=str(case.subject_id)
    ).order_by("-occurred_at", "-pk")
    return list(events[:limit])[::-1]
