"""What a person may decide about a case, and the deciding: the one table the admin's case page
(and the HR screen) offers its choices from, so a page never offers what the case's state or the
person's permissions refuse. Each decision is a service of ``lifecycle.services``, which checks
both again under the case's lock and records the reason."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, time

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from directory.errors import InvalidReference, NotAllowedNow
from directory.identifiers import lookup_key, parse_id
from directory.models import User, UserState
from lifecycle import services
from lifecycle.models import OPEN_STATES, CaseState, OffboardingCase


class CaseChanged(NotAllowedNow):
    """The case moved on since the person looked at it (``case_stamp``)."""


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
    "note": Decision("Add a note", "review_offboarding", states=tuple(CaseState.values)),
}
APPROVALS = ("approve", "approve_early")


def case_decisions_available(case: OffboardingCase, by) -> dict[str, Decision]:
    """The decisions ``by`` may take on ``case`` now: its state allows them and ``by`` holds their
    permission; four eyes: a hold is not offered for release to the person who placed it, nor a
    deletion for approval to the person who gave its first approval."""
    transitions = {t.name for t in case.get_available_state_transitions()}  # type: ignore[attr-defined]
    return {
        key: decision
        for key, decision in DECISIONS.items()
        if (decision.transition in transitions if decision.transition else case.state in decision.states)
        and by.has_perm(f"lifecycle.{decision.permission}")
        and not (key == "release" and case.held_by_id == by.pk)
        and not (key in APPROVALS and case.first_approved_by_id == by.pk)
    }


def case_stamp(case: OffboardingCase) -> str:
    """What a person saw of a case when choosing a decision (a form carries it back): its state
    and everything a decision weighs. A decision on a case whose stamp has changed since (someone
    else acted, or the clock or the IdP moved it on) is refused, so nobody approves what they
    did not see."""
    seen = (
        case.state,
        case.resume_state,
        case.deletion_due_at.isoformat() if case.deletion_due_at else "",
        case.held_by_id,
        case.data_successor_id,
        case.first_approved_by_id,
        case.idp_deleted_at.isoformat() if case.idp_deleted_at else "",
        case.tenant.four_eyes_deletion,
    )
    return hashlib.sha256(repr(seen).encode()).hexdigest()[:16]


def case_decide(
    *,
    case_id: int,
    by,
    decision: str,
    reason: str,
    until: datetime | None = None,
    successor: str = "",
    seen: str = "",
) -> OffboardingCase:
    """Take ``decision`` (a key of DECISIONS) on the case. ``until``: the new end of the grace
    period (extend); ``successor``: the data successor's id or userName (successor); ``seen``:
    the case's ``case_stamp`` when the person chose (refused if it has changed since)."""
    if decision not in DECISIONS:
        raise NotAllowedNow(f"Choose a decision: one of {', '.join(DECISIONS)}.")
    if "\x00" in reason or "\x00" in successor:
        raise NotAllowedNow("The text holds a NUL character, which cannot be stored: remove it.")
    # With a stamp, it is compared under the case's lock, held until the decision commits.
    with transaction.atomic() if seen else nullcontext():
        if seen:
            _stamp_check(case_id, seen)
        return _decide(
            case_id=case_id, by=by, decision=decision, reason=reason, until=until, successor=successor
        )


def _stamp_check(case_id: int, seen: str) -> None:
    """Lock the case; refuse (CaseChanged) if its stamp is no longer ``seen``."""
    case = (
        OffboardingCase.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .filter(pk=case_id)
        .first()
    )
    if case is not None and case_stamp(case) != seen:
        raise CaseChanged(
            f"Case {case_id} changed since you opened it: it is now {case.get_state_display().lower()}"
            f"{_due_text(case)}. Nothing was done; look at it again and decide anew."
        )


def case_decide_posted(*, case_id: int, by, posted) -> OffboardingCase:
    """``case_decide`` with what a page's decision form posted: ``decision``, ``reason``,
    ``until`` (YYYY-MM-DD), ``successor`` and ``seen`` (the stamp of the case the page showed)."""
    return case_decide(
        case_id=case_id,
        by=by,
        decision=posted.get("decision", ""),
        reason=posted.get("reason", ""),
        until=day_end(posted.get("until", "")),
        successor=posted.get("successor", ""),
        seen=posted.get("seen", ""),
    )


def _due_text(case: OffboardingCase) -> str:
    return f", due {case.deletion_due_at:%Y-%m-%d}" if case.deletion_due_at else ""


def _decide(*, case_id: int, by, decision: str, reason: str, until, successor: str) -> OffboardingCase:
    if decision in APPROVALS:
        return services.case_approve(case_id=case_id, by=by, reason=reason, early=decision == "approve_early")
    if decision == "extend":
        if until is None:
            raise NotAllowedNow("Give the date the grace period is extended to (YYYY-MM-DD).")
        return services.case_extend(case_id=case_id, by=by, until=until, reason=reason)
    if decision == "successor":
        return services.case_successor_set(
            case_id=case_id, by=by, successor_id=_user_id(case_id, successor), reason=reason
        )
    if decision == "note":
        return services.case_note(case_id=case_id, by=by, reason=reason)
    act = {"hold": services.case_hold, "release": services.case_release, "cancel": services.case_cancel_by}
    return act[decision](case_id=case_id, by=by, reason=reason, now=timezone.now())


def day_end(value: str) -> datetime | None:
    """A date typed in a form (YYYY-MM-DD) as the end of that day in the current time zone (the
    reviewer's, on the HR screen); None if it is no date."""
    try:
        day = parse_date(value.strip())
    except ValueError:
        return None
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


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
        .exclude(state=UserState.DELETED)  # a hidden namesake is no successor
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise InvalidReference(f"No user named {reference!r} in this case's tenant.")
    return found
