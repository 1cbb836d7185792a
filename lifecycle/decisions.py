"""What a person may decide about a case, and the deciding: the one table the admin's case page
(and the HR screen) offers its choices from, so a page never offers what the case's state or the
person's permissions refuse. Each decision is a service of ``lifecycle.services``, which checks
both again under the case's lock and records the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from directory.errors import InvalidReference, NotAllowedNow
from directory.identifiers import lookup_key, parse_id
from directory.models import User
from lifecycle import services
from lifecycle.models import OPEN_STATES, CaseState, OffboardingCase


@dataclass(frozen=True)
class Decision:
    label: str
    permission: str  # lifecycle.<permission>
    transition: str | None = None  # the case's transition (django-fsm) it takes, if one
    states: tuple[str, ...] = ()  # otherwise, the states it is offered in
    needs: str = ""  # "until" (a date) or "successor" (a user)


DECISIONS: dict[str, Decision] = {
    "approve": Decision("Approve the deletion when the grace period ends", "review_offboarding", "approve"),
    "approve_early": Decision("Approve the deletion now", "approve_early_deletion", "approve"),
    "extend": Decision(
        "Extend the grace period",
        "extend_grace_period",
        states=(CaseState.SUSPENDED, CaseState.PENDING_REVIEW, CaseState.APPROVED),
        needs="until",
    ),
    "hold": Decision("Place a legal hold", "place_legal_hold", "hold"),
    "release": Decision("Release the legal hold", "release_legal_hold", "release_hold"),
    "cancel": Decision("Cancel the offboarding (nothing more happens)", "cancel_offboarding", "cancel"),
    "successor": Decision(
        "Name the data successor", "review_offboarding", states=OPEN_STATES, needs="successor"
    ),
}


def case_decisions_available(case: OffboardingCase, by) -> dict[str, Decision]:
    """The decisions ``by`` may take on ``case`` now: its state allows them and ``by`` holds their
    permission; a hold is not offered for release to the person who placed it (four eyes)."""
    transitions = {t.name for t in case.get_available_state_transitions()}  # type: ignore[attr-defined]
    return {
        key: decision
        for key, decision in DECISIONS.items()
        if (decision.transition in transitions if decision.transition else case.state in decision.states)
        and by.has_perm(f"lifecycle.{decision.permission}")
        and not (key == "release" and case.held_by_id == by.pk)
    }


def case_decide(
    *, case_id: int, by, decision: str, reason: str, until: datetime | None = None, successor: str = ""
) -> OffboardingCase:
    """Take ``decision`` (a key of DECISIONS) on the case. ``until``: the new end of the grace
    period (extend); ``successor``: the data successor's id or userName (successor)."""
    if decision not in DECISIONS:
        raise NotAllowedNow(f"Choose a decision: one of {', '.join(DECISIONS)}.")
    if decision in ("approve", "approve_early"):
        return services.case_approve(case_id=case_id, by=by, reason=reason, early=decision == "approve_early")
    if decision == "extend":
        if until is None:
            raise NotAllowedNow("Give the date the grace period is extended to (YYYY-MM-DD).")
        return services.case_extend(case_id=case_id, by=by, until=until, reason=reason)
    if decision == "successor":
        return services.case_successor_set(
            case_id=case_id, by=by, successor_id=_user_id(case_id, successor), reason=reason
        )
    act = {"hold": services.case_hold, "release": services.case_release, "cancel": services.case_cancel_by}
    return act[decision](case_id=case_id, by=by, reason=reason, now=timezone.now())


def _user_id(case_id: int, reference: str):
    """A user of the case's tenant by id or userName (as SCIM matches it: RFC 7643 §4.1.1)."""
    reference = reference.strip()
    if not reference:
        raise InvalidReference("Give the data successor's userName or id.")
    found = parse_id(reference)
    if found is not None:
        return found
    tenant_id = OffboardingCase.objects.filter(pk=case_id).values_list("tenant_id", flat=True).first()
    found = (
        User.objects.filter(tenant_id=tenant_id, user_name_key=lookup_key(reference))
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise InvalidReference(f"No user named {reference!r} in this case's tenant.")
    return found
