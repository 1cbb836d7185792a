"""A deactivation's case, opened from the directory's outbox: the request writes the user, its
audit event and a pending deactivation, and tells the host; a worker opens the case from the row
as of the deactivation; whatever acts on the user next drains the row first, so the order holds
(off and on again is a flap, a DELETE after it one case); two workers, or a worker and the
user's reactivation at once (PostgreSQL, barrier-released), open each case once."""

import threading

import pytest
from django.db import connections, transaction

from directory.models import AuditEvent, DeprovisionAction, PendingDeactivation
from lifecycle import deactivations
from lifecycle.deactivations import deactivations_consume
from lifecycle.models import CaseState, OffboardingCase
from tests.lifecycle.test_cases import agrees, deactivate, policy, received, user_state  # noqa: F401
from tests.scim_api.conftest import CORE_USER, ERROR_URN, PATCH_URN
from tests.support.parallel import at_once, patch_body

pytestmark = pytest.mark.django_db

REACTIVATE = {"op": "replace", "path": "active", "value": True}


def test_the_request_leaves_a_pending_deactivation_and_tells_the_host(scim, tenant, received):  # noqa: F811
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid, consume=False)
    assert user_state(uid) == "suspended" and not OffboardingCase.objects.exists()
    pending = PendingDeactivation.objects.get()
    event = AuditEvent.objects.get(pk=pending.event_id)
    assert (str(pending.user_id), pending.tenant_id) == (uid, tenant.pk)
    assert event.action == "user.updated" and event.changes["active"] == {"before": True, "after": False}
    [suspended] = received["user_suspended"]
    assert (str(suspended["user_id"]), suspended["case"], suspended["at"]) == (uid, None, event.occurred_at)

    assert deactivations_consume() == 1
    case = OffboardingCase.objects.get(subject_id=uid)
    assert (case.deprovisioned_at, case.opened_by) == (event.occurred_at, "token okta")
    assert case.state == CaseState.PENDING_REVIEW and agrees(uid)
    assert not PendingDeactivation.objects.exists()
    assert deactivations_consume() == 0
    assert len(received["user_suspended"]) == 1  # the worker does not tell the host again


def test_a_reactivation_before_the_worker_is_a_flap(scim, tenant):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid, consume=False)
    assert (
        scim.patch(f"/Users/{uid}", {"schemas": [PATCH_URN], "Operations": [REACTIVATE]}).status_code == 200
    )
    case = OffboardingCase.objects.get(subject_id=uid)
    assert (case.state, case.flaps) == (CaseState.CANCELLED, 1)
    assert user_state(uid) == "active" and not PendingDeactivation.objects.exists()
    assert deactivations_consume() == 0 and OffboardingCase.objects.count() == 1


def test_a_delete_before_the_worker_is_one_case(scim, tenant, system_actor):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_NOW)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid, consume=False)
    assert scim.delete(f"/Users/{uid}").status_code == 204
    case = OffboardingCase.objects.get(subject_id=uid)
    assert case.trigger == "deactivate" and case.idp_deleted_at is not None
    assert user_state(uid) == "deleted" and agrees(uid)
    assert not PendingDeactivation.objects.exists()


def test_the_worker_deletes_at_once_when_the_policy_says_so(scim, tenant, system_actor):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_NOW)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid, consume=False)
    assert scim.get(f"/Users/{uid}").json()["active"] is False
    assert deactivations_consume() == 1
    assert OffboardingCase.objects.get(subject_id=uid).state == CaseState.DELETED
    assert scim.get(f"/Users/{uid}").status_code == 404


ROUNDS = 10
USERS = 4


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_worker_and_reactivations_at_once_open_each_case_once(api, tenant):
    """Per round: USERS deactivated users; released together, a worker consuming their pending
    deactivations and the IdP reactivating each. Whoever comes first, each user ends active
    with exactly one case, cancelled (opened as of its deactivation), and nothing pending."""
    for round_ in range(ROUNDS):
        ids = [
            api.create("Users", {"schemas": [CORE_USER], "userName": f"r{round_}u{i}"})["id"]
            for i in range(USERS)
        ]
        for uid in ids:
            assert api("PATCH", f"/Users/{uid}", patch_body({**REACTIVATE, "value": False}))[0] == 200

        def act(i: int, ids=ids):
            if i == USERS:
                try:
                    return deactivations_consume()
                finally:
                    connections.close_all()
            return api("PATCH", f"/Users/{ids[i]}", patch_body(REACTIVATE))[0]

        results = at_once(USERS + 1, act)
        assert results[:USERS] == [200] * USERS, results
        assert not PendingDeactivation.objects.exists()
        for uid in ids:
            assert user_state(uid) == "active"
            cases = OffboardingCase.objects.filter(subject_id=uid)
            assert list(cases.values_list("state", flat=True)) == [CaseState.CANCELLED], (round_, uid)


def test_a_row_that_fails_is_left_and_the_others_go_on(scim, tenant, monkeypatch, caplog):
    from lifecycle import services

    ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(2)]
    for uid in ids:
        deactivate(scim, uid, consume=False)
    opening = services.case_open

    def case_open(**kwargs):
        if str(kwargs["user_id"]) == ids[0]:
            raise RuntimeError("a receiver of the host failed")
        return opening(**kwargs)

    monkeypatch.setattr(services, "case_open", case_open)
    nudged = []
    monkeypatch.setattr(deactivations, "deactivations_nudge", lambda: nudged.append(1))
    assert deactivations_consume() == 1
    assert nudged == []  # a failure waits for the sweep: retried at once, it would spin
    assert [str(p.user_id) for p in PendingDeactivation.objects.all()] == [ids[0]]  # left, whole
    assert "left for the next sweep" in caplog.text
    assert not OffboardingCase.objects.filter(subject_id=ids[0]).exists()
    monkeypatch.setattr(services, "case_open", opening)
    assert deactivations_consume() == 1 and not PendingDeactivation.objects.exists()


def test_a_host_receiver_that_fails_does_not_fail_the_deactivation(scim, tenant, caplog):
    from lifecycle.signals import user_suspended

    def failing(sender, **kwargs):
        raise ConnectionError("session store down")

    user_suspended.connect(failing)
    try:
        uid = scim.create_user("ann@example.com")["id"]
        deactivate(scim, uid)  # 200: the write stands
    finally:
        user_suspended.disconnect(failing)
    assert user_state(uid) == "suspended" and OffboardingCase.objects.filter(subject_id=uid).exists()
    assert "user_suspended receiver" in caplog.text


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_reactivation_yields_to_a_deletion_holding_its_case(api, tenant):
    """A sweep deleting the user holds its case and waits for the user's row; the reactivation
    holds that row and needs the case: it answers 503 with Retry-After at once (NOWAIT) instead
    of deadlocking, and changes nothing."""
    uid = api.create("Users", {"schemas": [CORE_USER], "userName": "ann"})["id"]
    assert api("PATCH", f"/Users/{uid}", patch_body({**REACTIVATE, "value": False}))[0] == 200
    deactivations_consume()
    case = OffboardingCase.objects.get(subject_id=uid)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                OffboardingCase.objects.select_for_update().get(pk=case.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        status, body = api("PATCH", f"/Users/{uid}", patch_body(REACTIVATE))
    finally:
        release.set()
        holder.join(timeout=30)
    assert status == 503, body
    assert body["schemas"] == [ERROR_URN] and body["status"] == "503" and body["detail"], body
    assert user_state(uid) == "suspended" and OffboardingCase.objects.get(pk=case.pk).state == case.state
    assert api("PATCH", f"/Users/{uid}", patch_body(REACTIVATE))[0] == 200  # the retry goes through
