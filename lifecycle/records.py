"""A case's audit events: on its user's trail, naming the case, its state before and after, and
the reason given (``lifecycle.services`` and ``lifecycle.bursts`` record every transition so)."""

from __future__ import annotations

from typing import Any

from directory.services.audit import Actor, audit_record
from lifecycle.models import OffboardingCase


def case_record(
    case: OffboardingCase, actor: Actor, event: str, before: str, reason: str = "", **more: Any
) -> None:
    """The case's audit event: on the user's trail (``target`` the user), naming the case."""
    audit_record(
        tenant=case.tenant,
        actor=actor,
        action=f"offboarding.{event}",
        target_type="user",
        target_id=case.subject_id,
        target_label=case_label(case),
        changes={
            "case": case.pk,
            "state": {"before": before or None, "after": case.state},
            **({"reason": reason} if reason else {}),
            **more,
        },
    )


def case_label(case: OffboardingCase) -> str:
    user = case.user
    return user.user_name if user is not None else str(case.subject_id)
