"""The burst guard, through SCIM requests: a tenant's deprovisions above its count or share within
the window quarantine it once (access still ends; no deletion or purge proceeds; administrators are
alerted); an administrator releases the burst (its cases go on) or reverts it (its users get their
access back, deleted ones restored with their groups). Decisions need ``decide_burst`` and a
reason; the sweep finishes what a request or a lost message left."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from directory.errors import NotAllowedNow, NotPermitted
from directory.models import AuditEvent, DeprovisionAction, Membership
from lifecycle.burst_decisions import burst_finish, burst_release, burst_revert
from lifecycle.bursts import bursts_mark
from lifecycle.models import Burst, BurstState, CaseState, OffboardingCase
from lifecycle.services import cases_sweep
from lifecycle.sweep import lifecycle_sweep
from tests.lifecycle.test_cases import DAY, agrees, case_of, deactivate, policy, user_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def decider(django_user_model):
    """A staff member who may decide bursts, with an address for the alert."""
    user = django_user_model.objects.create_user(
        "secops", email="secops@example.com", password="x", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename="decide_burst"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def guarded(tenant, system_actor):
    """A tenant that deletes when the grace period ends, and whose burst guard trips above 3."""
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        on_delete=DeprovisionAction.DELETE_AFTER_GRACE,
        burst_count=3,
        burst_percent=0,
    )
    return tenant


def users(scim, n: int, prefix: str = "u") -> list[str]:
    return [scim.create_user(f"{prefix}{i}@example.com")["id"] for i in range(n)]


def after_grace(tenant):
    return timezone.now() + tenant.offboarding_grace_period + DAY


def test_deprovisions_above_the_count_quarantine_the_tenant_once(scim, guarded, decider):
    ids = users(scim, 6)
    for uid in ids[:3]:
        deactivate(scim, uid)
    assert not Burst.objects.exists()
    assert {case_of(uid).state for uid in ids[:3]} == {CaseState.SUSPENDED}

    deactivate(scim, ids[3])  # the fourth: more than 3
    assert scim.delete(f"/Users/{ids[4]}").status_code == 204  # answered as usual
    (burst,) = Burst.objects.all()
    assert (burst.state, burst.deprovisions) == (BurstState.OPEN, 4)
    assert burst.rule == "4 deprovisions within 15 min (more than 3)"
    for uid in ids[:5]:
        case = case_of(uid)
        assert (case.state, case.burst_id) == (CaseState.QUARANTINED, burst.pk)
        assert agrees(uid)  # access ended all the same
    assert scim.get(f"/Users/{ids[0]}").json()["active"] is False
    assert scim.get(f"/Users/{ids[4]}").status_code == 404

    # The clock deletes nothing of the tenant meanwhile; a second sweep does not alert again.
    done = lifecycle_sweep(now=after_grace(guarded))
    assert (done["deleted"], done["alerts"]) == (0, 1)
    assert lifecycle_sweep(now=after_grace(guarded))["alerts"] == 0
    assert {user_state(uid) for uid in ids[:4]} == {"suspended"}
    (alert,) = mail.outbox
    assert alert.to == ["secops@example.com"]
    assert "Burst of deprovisions in Acme" in alert.subject
    assert f"/admin/lifecycle/burst/{burst.pk}/change/" in alert.body
    detected = AuditEvent.objects.get(action="burst.detected")
    assert detected.changes["deprovisions"] == 4 and detected.actor_label == "burst guard"
    assert AuditEvent.objects.filter(action="offboarding.quarantined").count() == 5


def test_a_share_of_the_users_counts_from_five_deprovisions(scim, tenant, system_actor):
    policy(tenant, system_actor, burst_count=0, burst_percent=10)
    ids = users(scim, 20)
    for uid in ids[:4]:  # 20 % of the tenant, but four leavers are not yet a burst
        deactivate(scim, uid)
    assert not Burst.objects.exists()
    deactivate(scim, ids[4])
    (burst,) = Burst.objects.all()
    assert burst.rule == "5 deprovisions of 20 users within 15 min (more than 10 %)"
    assert burst.users == 20


def test_a_tenant_without_thresholds_has_no_guard(scim, tenant, system_actor):
    policy(tenant, system_actor, burst_count=0, burst_percent=0)
    for uid in users(scim, 8):
        deactivate(scim, uid)
    assert not Burst.objects.exists()


def test_a_burst_holds_deletion_at_once_until_released(scim, tenant, system_actor, decider):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_NOW, burst_count=2, burst_percent=0)
    ids = users(scim, 4)
    deactivate(scim, ids[0])
    deactivate(scim, ids[1])
    assert user_state(ids[0]) == "deleted" and user_state(ids[1]) == "deleted"  # before the burst
    deactivate(scim, ids[2])
    assert user_state(ids[2]) == "suspended"  # the burst holds the deletion
    assert {case_of(uid).state for uid in ids[:3]} == {CaseState.QUARANTINED}
    assert lifecycle_sweep(now=after_grace(tenant) + tenant.purge_after)["purged"] == 0

    burst = Burst.objects.get()
    burst_release(burst_id=burst.pk, by=decider, reason="reorganisation, confirmed with HR")
    assert burst_finish(burst_id=burst.pk) == 3
    assert [case_of(uid).state for uid in ids[:3]] == [
        CaseState.DELETED,
        CaseState.DELETED,
        CaseState.SUSPENDED,
    ]
    assert cases_sweep()["deleted"] == 1  # the held deletion, now
    assert user_state(ids[2]) == "deleted" and all(agrees(uid) for uid in ids)


def test_release_lets_the_cases_go_on(scim, guarded, decider):
    ids = users(scim, 5)
    for uid in ids:
        deactivate(scim, uid)
    burst = Burst.objects.get()
    released = burst_release(burst_id=burst.pk, by=decider, reason="planned layoff")
    assert (released.state, released.decided_by) == (BurstState.RELEASED, decider)
    # Carried out by the task (or the sweep, had its message been lost).
    assert lifecycle_sweep()["burst_cases"] == 5
    assert {case_of(uid).state for uid in ids} == {CaseState.SUSPENDED}
    assert Burst.objects.get().finished_at is not None
    assert cases_sweep(now=after_grace(guarded))["deleted"] == 5
    event = AuditEvent.objects.get(action="burst.released")
    assert (event.actor_label, event.changes["reason"]) == ("admin secops", "planned layoff")
    assert AuditEvent.objects.filter(action="offboarding.released", actor_label="admin secops").count() == 5

    # The window starts again at the decision: the next leaver is not a burst of six.
    other = scim.create_user("late@example.com")["id"]
    deactivate(scim, other)
    assert Burst.objects.count() == 1 and case_of(other).state == CaseState.SUSPENDED


def test_revert_gives_every_user_its_access_back(scim, guarded, decider, django_capture_on_commit_callbacks):
    ids = users(scim, 5)
    group = scim.create_group("Sales", members=ids[3:5])
    for uid in ids[:3]:
        deactivate(scim, uid)
    for uid in ids[3:]:
        assert scim.delete(f"/Users/{uid}").status_code == 204
    burst = Burst.objects.get()
    burst_revert(burst_id=burst.pk, by=decider, reason="wrong group rule in Entra")
    with django_capture_on_commit_callbacks(execute=True):  # the groups are given back on commit
        assert burst_finish(burst_id=burst.pk) == 5
    for uid in ids:
        body = scim.get(f"/Users/{uid}").json()
        assert (body["id"], body["active"]) == (uid, True)  # the same accounts
        case = case_of(uid)
        assert case.state == CaseState.CANCELLED and agrees(uid)
    assert Membership.objects.filter(group_id=group["id"]).count() == 2  # the deleted ones' group back
    cancelled = AuditEvent.objects.filter(action="offboarding.cancelled").first()
    assert cancelled.changes["reason"] == f"burst {burst.pk} reverted: wrong group rule in Entra"
    assert AuditEvent.objects.filter(action="user.restored").count() == 2
    assert burst_finish(burst_id=burst.pk) == 0  # done once


def test_a_revert_cannot_take_a_user_name_given_to_someone_else(scim, guarded, decider):
    ids = users(scim, 4)
    for uid in ids:
        assert scim.delete(f"/Users/{uid}").status_code == 204
    # A new person, of another externalId, is given the userName (not a rehire).
    scim.create_user("u0@example.com", externalId="someone-else")
    assert user_state(ids[0]) == "deleted"
    burst = Burst.objects.get()
    burst_revert(burst_id=burst.pk, by=decider, reason="mistake")
    assert burst_finish(burst_id=burst.pk) == 4
    assert case_of(ids[0]).state == CaseState.SUSPENDED and user_state(ids[0]) == "deleted"
    failed = AuditEvent.objects.get(action="offboarding.revert_failed")
    assert "u0@example.com" in failed.changes["reason"]
    assert {user_state(uid) for uid in ids[1:]} == {"active"}
    assert Burst.objects.get().finished_at is not None


def test_deciding_needs_the_permission_a_reason_and_an_open_burst(scim, guarded, decider, django_user_model):
    for uid in users(scim, 4):
        deactivate(scim, uid)
    burst = Burst.objects.get()
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    with pytest.raises(NotPermitted, match=r"clerk may not release a burst \(lifecycle\.decide_burst\)"):
        burst_release(burst_id=burst.pk, by=clerk, reason="fine")
    with pytest.raises(NotAllowedNow, match="a reason is required"):
        burst_revert(burst_id=burst.pk, by=decider, reason=" ")
    burst_release(burst_id=burst.pk, by=decider, reason="fine")
    with pytest.raises(NotAllowedNow, match="released: the cases go on: decided already"):
        burst_revert(burst_id=burst.pk, by=decider, reason="changed my mind")


def test_the_sweep_quarantines_cases_a_request_did_not_see(scim, tenant, system_actor, decider):
    """A request that opened its case while another was opening the burst did not see the burst:
    the sweep marks the case, and a revert takes it too."""
    ids = users(scim, 3)
    for uid in ids[:2]:
        deactivate(scim, uid)
    start = timezone.now() - timedelta(minutes=5)
    burst = Burst.objects.create(tenant=tenant, window_start=start, deprovisions=2, rule="test")
    assert lifecycle_sweep()["quarantined"] == 2
    assert bursts_mark(burst, skip_locked=False) == 0
    deactivate(scim, ids[2])
    unmarked = OffboardingCase.objects.filter(subject_id=ids[2])
    unmarked.update(state=CaseState.SUSPENDED, burst=None)  # as if opened in that instant
    burst_revert(burst_id=burst.pk, by=decider, reason="test")
    assert burst_finish(burst_id=burst.pk) == 3
    assert {user_state(uid) for uid in ids} == {"active"}
