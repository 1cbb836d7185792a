"""What people decide about a case: approval (early approval a permission of its own), a longer
grace period, cancellation, a legal hold released by someone else (four eyes). Each needs its
permission and a reason, and is refused precisely otherwise."""

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.errors import InvalidReference, NotAllowedNow, NotPermitted
from directory.models import AuditEvent, DeprovisionAction
from lifecycle.models import CaseState
from lifecycle.services import (
    case_approve,
    case_cancel_by,
    case_extend,
    case_hold,
    case_release,
    case_successor_set,
    cases_sweep,
)
from tests.lifecycle.test_cases import DAY, case_of, deactivate, policy, user_state

HR_PERMISSIONS = ["review_offboarding"]
LEGAL_PERMISSIONS = ["place_legal_hold", "release_legal_hold", "extend_grace_period", "cancel_offboarding"]


@pytest.fixture
def pending(scim):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    return case_of(uid)


def test_approval_needs_the_permission_and_a_reason(pending, person):
    clerk, hr = person("clerk"), person("hr", *HR_PERMISSIONS)
    with pytest.raises(NotPermitted, match="clerk may not approve the deletion"):
        case_approve(case_id=pending.pk, by=clerk, reason="gone")
    with pytest.raises(NotAllowedNow, match="a reason is required"):
        case_approve(case_id=pending.pk, by=hr, reason="  ")
    with pytest.raises(NotPermitted, match=r"lifecycle\.approve_early_deletion"):
        case_approve(case_id=pending.pk, by=hr, reason="gone", early=True)
    case_approve(case_id=pending.pk, by=hr, reason="gone")
    with pytest.raises(NotAllowedNow, match="is deletion approved: it cannot approve"):
        case_approve(case_id=pending.pk, by=hr, reason="again")
    event = AuditEvent.objects.get(action="offboarding.approved")
    assert (event.actor_type, event.actor_label, event.changes["reason"]) == ("admin", "admin hr", "gone")


def test_a_grace_period_is_extended_later_only(pending, person):
    legal = person("legal", *LEGAL_PERMISSIONS)
    due = pending.deletion_due_at
    with pytest.raises(NotAllowedNow, match="extend it past that"):
        case_extend(case_id=pending.pk, by=legal, until=due - DAY, reason="sooner")
    case_extend(case_id=pending.pk, by=legal, until=due + 10 * DAY, reason="litigation expected")
    assert case_of(pending.subject_id).deletion_due_at == due + 10 * DAY


def test_a_legal_hold_is_released_by_someone_else_and_blocks_deletion_meanwhile(
    scim, tenant, system_actor, person
):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    first, second = person("counsel", *LEGAL_PERMISSIONS), person("auditor", *LEGAL_PERMISSIONS)
    case = case_hold(case_id=case_of(uid).pk, by=first, reason="subpoena 2026-17")
    assert case.state == CaseState.ON_HOLD and case.held_by == first
    due = timezone.now() + tenant.offboarding_grace_period + DAY
    assert cases_sweep(now=due)["deleted"] == 0 and user_state(uid) == "suspended"
    with pytest.raises(NotPermitted, match="someone else must release it"):
        case_release(case_id=case.pk, by=first, reason="done")
    released = case_release(case_id=case.pk, by=second, reason="matter closed")
    assert released.state == CaseState.SUSPENDED
    assert cases_sweep(now=due)["deleted"] == 1 and user_state(uid) == "deleted"
    decided = AuditEvent.objects.filter(
        target_id=uid, action__in=["offboarding.held", "offboarding.released"]
    )
    actions = list(decided.order_by("id").values_list("action", "actor_label"))
    assert actions == [("offboarding.held", "admin counsel"), ("offboarding.released", "admin auditor")]


def test_an_administrator_cancels_an_offboarding(pending, person, tenant):
    legal = person("legal", *LEGAL_PERMISSIONS)
    case_cancel_by(case_id=pending.pk, by=legal, reason="transferred, not leaving")
    assert case_of(pending.subject_id).state == CaseState.CANCELLED
    assert user_state(pending.subject_id) == "suspended"  # the IdP gives access back, not this
    assert cases_sweep(now=timezone.now() + timedelta(days=400)) == {"deleted": 0, "purged": 0}


def test_hr_names_another_data_successor(scim, pending, person):
    hr = person("hr", *HR_PERMISSIONS)
    other = scim.create_user("bob@example.com")["id"]
    with pytest.raises(InvalidReference, match="can take over the data"):
        case_successor_set(case_id=pending.pk, by=hr, successor_id=pending.subject_id, reason="self")
    with pytest.raises(NotPermitted):
        case_successor_set(case_id=pending.pk, by=person("clerk"), successor_id=other, reason="x")
    case = case_successor_set(case_id=pending.pk, by=hr, successor_id=other, reason="bob runs the team now")
    assert str(case.data_successor_id) == other
    event = AuditEvent.objects.get(action="offboarding.successor_named")
    assert event.changes["data_successor"] == {"before": None, "after": other}
