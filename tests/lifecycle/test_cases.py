"""Offboarding cases driven through SCIM requests: each policy, for a deactivation and for a
DELETE; the rehire that cancels a case; the clock that deletes and purges (``cases_sweep``, the
``lifecycle_sweep`` command); the host application's signals. After every step the case and its
user agree (``case_agrees``)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from directory.models import AuditEvent, DeprovisionAction, Group, Membership, PendingDeactivation, User
from directory.services.tenants import tenant_update
from lifecycle import signals
from lifecycle.deactivations import deactivations_consume
from lifecycle.models import CaseState, OffboardingCase, case_agrees
from lifecycle.services import case_approve, cases_sweep
from tests.scim_api.conftest import CORE_USER, PATCH_URN
from tests.support.processes import wait_until

DAY = timedelta(days=1)


def policy(tenant, actor, *, on_deactivate=None, on_delete=None, **settings):
    values = {k: v for k, v in {"on_deactivate": on_deactivate, "on_delete": on_delete}.items() if v}
    tenant_update(tenant=tenant, actor=actor, **values, **settings)


def deactivate(scim, uid, *, consume: bool = True):
    """The IdP deactivates the user; then (``consume``) the case is opened from the pending
    deactivation, as the worker the request nudged does next."""
    operation = {"op": "replace", "path": "active", "value": False}
    response = scim.patch(f"/Users/{uid}", {"schemas": [PATCH_URN], "Operations": [operation]})
    assert response.status_code == 200, response.content
    if consume:
        deactivations_consume()
        # With a worker running, it may have taken the row first: its case commits with the row's
        # deletion.
        wait_until(lambda: not PendingDeactivation.objects.filter(user_id=uid).exists(), timeout=30)
    return response


def case_of(uid) -> OffboardingCase:
    return OffboardingCase.objects.get(subject_id=uid)


def user_state(uid) -> str | None:
    return User.objects.filter(pk=uid).values_list("state", flat=True).first()


def agrees(uid) -> bool:
    return all(case_agrees(case, user_state(uid)) for case in OffboardingCase.objects.filter(subject_id=uid))


@pytest.fixture
def received():
    """What the host application's signals carried, by signal name."""
    calls: dict[str, list] = {}

    def receiver(signal_name):
        def on(sender, **kwargs):
            calls.setdefault(signal_name, []).append(kwargs)

        return on

    connected = [
        (getattr(signals, n), receiver(n))
        for n in ("user_suspended", "user_reactivated", "user_deleted", "user_purged")
    ]
    for signal, on in connected:
        signal.connect(on)
    yield calls
    for signal, on in connected:
        signal.disconnect(on)


@pytest.mark.parametrize(
    ("action", "state", "due"),
    [
        (DeprovisionAction.SUSPEND, CaseState.SUSPENDED, None),
        (DeprovisionAction.DELETE_AFTER_GRACE, CaseState.SUSPENDED, "grace"),
        (DeprovisionAction.DELETE_AFTER_REVIEW, CaseState.PENDING_REVIEW, "grace"),
        (DeprovisionAction.DELETE_NOW, CaseState.DELETED, "at once"),
    ],
)
def test_a_deactivation_opens_the_case_the_policy_says(
    scim, tenant, system_actor, received, action, state, due
):
    policy(tenant, system_actor, on_deactivate=action)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    case = case_of(uid)
    assert (case.trigger, case.action, case.state) == ("deactivate", action, state)
    assert case.opened_by == "token okta"
    if due is None:
        assert case.deletion_due_at is None
    else:
        wait = tenant.offboarding_grace_period if due == "grace" else timedelta(0)
        assert case.deletion_due_at - case.deprovisioned_at == wait
    assert agrees(uid)
    assert [c["user_id"] for c in received["user_suspended"]] == [User.objects.get(pk=uid).pk]
    expected_get = 404 if action == DeprovisionAction.DELETE_NOW else 200
    assert scim.get(f"/Users/{uid}").status_code == expected_get
    events = AuditEvent.objects.filter(target_id=uid, action__startswith="offboarding.").order_by("id")
    assert events[0].action == "offboarding.opened" and events[0].actor_label == "token okta"


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (DeprovisionAction.SUSPEND, CaseState.SUSPENDED),
        (DeprovisionAction.DELETE_AFTER_GRACE, CaseState.SUSPENDED),
        (DeprovisionAction.DELETE_AFTER_REVIEW, CaseState.PENDING_REVIEW),
        (DeprovisionAction.DELETE_NOW, CaseState.DELETED),
    ],
)
def test_a_delete_hides_the_user_at_once_and_keeps_it_in_its_case(scim, tenant, system_actor, action, state):
    policy(tenant, system_actor, on_delete=action)
    uid = scim.create_user("ann@example.com")["id"]
    group = scim.create_group("Team", members=[uid])
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert scim.get(f"/Users/{uid}").status_code == 404
    case = case_of(uid)
    assert (case.trigger, case.state) == ("delete", state)
    assert case.idp_deleted_at is not None
    assert case.restore == {"groups": [group["id"]]}
    assert agrees(uid)


def test_a_reactivation_cancels_the_case_and_a_quick_one_is_a_flap(scim, tenant, system_actor, received):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    operation = {"op": "replace", "path": "active", "value": True}
    response = scim.patch(f"/Users/{uid}", {"schemas": [PATCH_URN], "Operations": [operation]})
    assert response.status_code == 200
    case = case_of(uid)
    assert case.state == CaseState.CANCELLED and case.flaps == 1 and case.last_flap_at is not None
    assert user_state(uid) == "active"
    assert len(received["user_reactivated"]) == 1
    deactivate(scim, uid)  # a second case: the first is history
    assert OffboardingCase.objects.filter(subject_id=uid, state=CaseState.PENDING_REVIEW).count() == 1
    assert agrees(uid)


def test_entra_deactivates_then_deletes_one_case(scim, tenant, system_actor):
    """Entra deactivates a leaver, and deletes it later: the DELETE is recorded on the open case."""
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    assert scim.delete(f"/Users/{uid}").status_code == 204
    case = OffboardingCase.objects.get(subject_id=uid)
    assert case.trigger == "deactivate" and case.idp_deleted_at is not None
    assert case.state == CaseState.PENDING_REVIEW
    assert agrees(uid)


def test_the_sweep_deletes_when_the_grace_period_ends_and_purges_later(scim, tenant, system_actor, received):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    uid = scim.create_user("ann@example.com")["id"]
    scim.create_group("Team", members=[uid])
    deactivate(scim, uid)
    now = timezone.now()
    assert cases_sweep(now=now + tenant.offboarding_grace_period - DAY) == {"deleted": 0, "purged": 0}
    assert cases_sweep(now=now + tenant.offboarding_grace_period + DAY) == {"deleted": 1, "purged": 0}
    case = case_of(uid)
    assert case.state == CaseState.DELETED and user_state(uid) == "deleted"
    assert scim.get(f"/Users/{uid}").status_code == 404
    assert len(case.restore["groups"]) == 1 and not Membership.objects.filter(member_user_id=uid).exists()
    assert agrees(uid)
    later = case.purge_due_at + DAY
    assert cases_sweep(now=later) == {"deleted": 0, "purged": 1}
    case.refresh_from_db()
    assert case.state == CaseState.PURGED and case.user is None and str(case.subject_id) == uid
    assert not User.objects.filter(pk=uid).exists() and Group.objects.count() == 1
    assert agrees(uid)
    assert [len(received.get(n, [])) for n in ("user_deleted", "user_purged")] == [1, 1]
    assert cases_sweep(now=later) == {"deleted": 0, "purged": 0}  # nothing twice


def test_hr_approves_at_the_end_of_the_grace_period_or_early(scim, tenant, admin_user):
    first, second = (scim.create_user(f"{n}@example.com")["id"] for n in ("ann", "ben"))
    deactivate(scim, first)
    deactivate(scim, second)
    case_approve(case_id=case_of(first).pk, by=admin_user, reason="left the company")
    assert case_of(first).state == CaseState.APPROVED and user_state(first) == "suspended"
    case_approve(case_id=case_of(second).pk, by=admin_user, reason="asked by legal", early=True)
    assert case_of(second).state == CaseState.DELETED and user_state(second) == "deleted"
    event = AuditEvent.objects.filter(target_id=second, action="offboarding.approved").get()
    assert event.changes["reason"] == "asked by legal" and event.changes["early"] is True
    assert cases_sweep(now=timezone.now() + tenant.offboarding_grace_period + DAY)["deleted"] == 1
    assert case_of(first).state == CaseState.DELETED and agrees(first) and agrees(second)


def test_the_command_sweeps_now(scim, tenant, system_actor):
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        offboarding_grace_period=timedelta(0),
    )
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    out = StringIO()
    call_command("lifecycle_sweep", "--tenant", "acme", stdout=out)
    assert out.getvalue() == "Deleted 1, purged 0; steps sent again for 0 case(s).\n"
    assert case_of(uid).state == CaseState.DELETED


def test_a_user_has_one_open_case_at_most(scim, tenant):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    existing = case_of(uid)
    duplicate = OffboardingCase(
        tenant=tenant, user_id=uid, subject_id=uid, trigger="deactivate", action="suspend"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert OffboardingCase.objects.get() == existing


def test_a_user_created_inactive_has_no_case(scim, tenant):
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann", "active": False})
    assert response.status_code == 201
    assert not OffboardingCase.objects.exists()


def _post(scim, user_name, **attributes):
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": user_name, **attributes})
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)  # the groups come back once the restore commits
@pytest.mark.parametrize("by", ["externalId", "userName"])
def test_a_rehire_before_the_purge_restores_the_same_account(scim, tenant, by):
    extra = {"externalId": "emp-1"} if by == "externalId" else {}
    uid = _post(scim, "ann@example.com", **extra)["id"]
    team = scim.create_group("Team", members=[uid])
    assert scim.delete(f"/Users/{uid}").status_code == 204
    again = _post(
        scim, "ANN@example.com" if by == "userName" else "ann.new@example.com", title="Back", **extra
    )
    assert again["id"] == uid and again["title"] == "Back"
    assert [g["value"] for g in scim.get(f"/Users/{uid}").json()["groups"]] == [team["id"]]
    assert case_of(uid).state == CaseState.CANCELLED
    trail = list(AuditEvent.objects.filter(target_id=uid).order_by("id").values_list("action", flat=True))
    assert trail[0] == "user.created" and "user.restored" in trail and trail[-1] == "offboarding.cancelled"
    assert agrees(uid)


def test_after_the_purge_a_rehire_is_a_new_account(scim, tenant, system_actor):
    policy(tenant, system_actor, on_delete=DeprovisionAction.DELETE_NOW)
    uid = _post(scim, "ann@example.com", externalId="emp-1")["id"]
    assert scim.delete(f"/Users/{uid}").status_code == 204
    cases_sweep(now=timezone.now() + tenant.purge_after + DAY)
    assert case_of(uid).state == CaseState.PURGED
    again = _post(scim, "ann@example.com", externalId="emp-1")
    assert again["id"] != uid


def test_a_rehire_after_the_lifecycle_deleted_the_user(scim, tenant, system_actor):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    uid = _post(scim, "ann@example.com", externalId="emp-7")["id"]
    deactivate(scim, uid)
    cases_sweep(now=timezone.now() + tenant.offboarding_grace_period + DAY)
    assert user_state(uid) == "deleted"
    assert _post(scim, "ann@example.com", externalId="emp-7")["id"] == uid
    assert user_state(uid) == "active" and case_of(uid).state == CaseState.CANCELLED


def test_a_sweep_with_many_due_cases_asks_other_workers_to_help(
    scim, tenant, system_actor, monkeypatch, settings
):
    """More due cases than a batch: the sweep sends LIFECYCLE_SWEEP_WORKERS - 1 helpers first (each
    a worker taking the batches the others have not locked); fewer, it does them alone."""
    from lifecycle import services, tasks

    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    monkeypatch.setattr(services, "SWEEP_BATCH", 2)
    settings.LIFECYCLE_SWEEP_WORKERS = 3
    sent = []
    monkeypatch.setattr(tasks.sweep_cases, "delay", lambda: sent.append("helper"))
    for i in range(3):
        deactivate(scim, scim.create_user(f"u{i}@example.com")["id"])
    OffboardingCase.objects.update(deletion_due_at=timezone.now() - DAY)  # the grace period is over
    assert tasks.sweep()["deleted"] == 3
    assert sent == ["helper", "helper"]
    deactivate(scim, scim.create_user("late@example.com")["id"])
    OffboardingCase.objects.filter(state=CaseState.SUSPENDED).update(deletion_due_at=timezone.now() - DAY)
    assert tasks.sweep()["deleted"] == 1 and len(sent) == 2
