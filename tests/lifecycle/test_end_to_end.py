"""Each path of the lifecycle end to end: SCIM requests from the identity provider, decisions of
people through the admin's case page, and everything else done by a real Celery worker (the
filesystem broker in the SQLite pass, Redis in the PostgreSQL pass): its steps, and the sweep,
sent to it as beat sends it; the cases of deactivations, opened by it from the directory's
outbox. Time passes by moving a case's due dates into the past.

joiner; leaver by deactivation and by DELETE under each policy, to the purge, which leaves no
personal data; rehire inside the grace period (same id, groups back) and after the purge (a new
account); legal hold with its four-eyes release; early deletion; a burst quarantined, then
released."""

import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from directory.celery import app
from directory.models import DeprovisionAction, User, UserState
from lifecycle.models import Burst, BurstState, CaseState, OffboardingCase
from lifecycle.nudges import NUDGE_SECONDS
from lifecycle.tasks import sweep
from tests.lifecycle.test_cases import deactivate as deactivate_only
from tests.lifecycle.test_cases import policy
from tests.lifecycle.test_decisions import LEGAL_PERMISSIONS
from tests.lifecycle.test_purge import leaver_body, personal_data_left
from tests.support.processes import OutputWatcher, celery_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PAST = timedelta(seconds=1)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[OutputWatcher]:
    """One worker for the module's tests (each test's rows are its own: the flush between tests
    empties the tables, and a task left from an earlier test finds no case of its id)."""
    with django_db_blocker.unblock(), celery_worker() as running:
        yield running


@pytest.fixture(autouse=True)
def idle_worker_at_the_end(worker):
    """Each test ends with the worker idle, so that the flush after it (TRUNCATE) meets no task of
    its still running: a trailing nudge (due within NUDGE_SECONDS), then whatever is queued
    before a marker task, which the worker (one process, solo) runs in order."""
    yield
    time.sleep(NUDGE_SECONDS + 0.2)
    marker = app.tasks["celery.accumulate"].delay()
    worker.wait_for(f"[{marker.id}] succeeded", timeout=60)


def deactivate(scim, uid) -> None:
    """The IdP deactivates the user; the worker the request nudged opens its case."""
    deactivate_only(scim, uid, consume=False)
    wait_until(lambda: OffboardingCase.objects.filter(subject_id=uid).exists(), 60)


def case_of(uid) -> OffboardingCase:
    return OffboardingCase.objects.get(subject_id=uid)


def steps_done(uid) -> None:
    wait_until(
        lambda: OffboardingCase.objects.filter(subject_id=uid, steps_finished_at__isnull=False).exists(), 60
    )


def swept_until(uid, state: str) -> None:
    """Let the worker sweep (as beat would) until the case is in ``state``."""
    sweep.delay()
    wait_until(lambda: OffboardingCase.objects.filter(subject_id=uid, state=state).exists(), 60)


def swept(worker: OutputWatcher, uid) -> str:
    """One sweep by the worker, to its end; the case's state then."""
    sent = sweep.delay()
    worker.wait_for(f"[{sent.id}] succeeded", timeout=60)
    return case_of(uid).state


def due_now(uid) -> None:
    """The grace period has ended."""
    OffboardingCase.objects.filter(subject_id=uid).update(deletion_due_at=timezone.now() - PAST)


def purge_due_now(uid) -> None:
    OffboardingCase.objects.filter(subject_id=uid).update(purge_due_at=timezone.now() - PAST)


def decide(client, uid, decision: str, reason: str, **form):
    """A person's decision through the admin's case page; the message it shows."""
    url = reverse("admin:lifecycle_offboardingcase_decide", args=[case_of(uid).pk])
    response = client.post(url, {"decision": decision, "reason": reason, **form}, follow=True)
    return [str(m) for m in response.context["messages"]]


def test_a_joiner_is_provisioned_with_no_case(worker, scim, tenant):
    uid = scim.create_user("joiner@example.com", name={"givenName": "Jo"})["id"]
    team = scim.create_group("Team", members=[uid])
    user = scim.get(f"/Users/{uid}").json()
    assert user["active"] is True and [g["value"] for g in user["groups"]] == [team["id"]]
    assert not OffboardingCase.objects.exists()


@pytest.mark.parametrize("trigger", ["deactivate", "delete"])
@pytest.mark.parametrize(
    "action",
    [
        DeprovisionAction.SUSPEND,
        DeprovisionAction.DELETE_AFTER_GRACE,
        DeprovisionAction.DELETE_AFTER_REVIEW,
        DeprovisionAction.DELETE_NOW,
    ],
)
def test_a_leaver_under_each_policy(worker, scim, tenant, system_actor, client, person, trigger, action):
    policy(tenant, system_actor, **{"on_deactivate" if trigger == "deactivate" else "on_delete": action})
    boss = scim.create_user("boss@example.com")["id"]
    uid = scim.post("/Users", leaver_body(manager=boss)).json()["id"]
    team = scim.create_group("Team", members=[uid, boss])

    if trigger == "deactivate":
        deactivate(scim, uid)
        if action == DeprovisionAction.DELETE_NOW:  # the worker deletes once it opened the case
            wait_until(lambda: case_of(uid).state == CaseState.DELETED, 60)
            assert scim.get(f"/Users/{uid}").status_code == 404
        else:
            assert scim.get(f"/Users/{uid}").json()["active"] is False  # access ended in the request
    else:
        assert scim.delete(f"/Users/{uid}").status_code == 204
        assert scim.get(f"/Users/{uid}").status_code == 404
        members = scim.get(f"/Groups/{team['id']}").json()["members"]
        assert [m["value"] for m in members] == [boss]
        found = scim.get("/Users?filter=" + quote('userName eq "ann.leaver@example.com"')).json()
        assert found["totalResults"] == 0
    steps_done(uid)
    assert case_of(uid).data_successor_id is not None and str(case_of(uid).data_successor_id) == boss

    if action == DeprovisionAction.SUSPEND:
        assert case_of(uid).deletion_due_at is None
        assert swept(worker, uid) == CaseState.SUSPENDED  # nothing more: suspended it stays
        return
    if action == DeprovisionAction.DELETE_AFTER_REVIEW:
        assert case_of(uid).state == CaseState.PENDING_REVIEW
        due_now(uid)
        assert swept(worker, uid) == CaseState.PENDING_REVIEW  # not without HR's approval
        client.force_login(person("hr", "view_offboardingcase", "review_offboarding"))
        assert decide(client, uid, "approve", "confirmed with the manager") == [
            "Done: the case is now deleted (kept until purged)."
        ]  # approved after the grace period ended: deleted at once
    elif action == DeprovisionAction.DELETE_AFTER_GRACE:
        due_now(uid)
        swept_until(uid, CaseState.DELETED)
    assert case_of(uid).state == CaseState.DELETED
    assert User.objects.get(pk=uid).state == UserState.DELETED

    purge_due_now(uid)
    swept_until(uid, CaseState.PURGED)
    assert not User.objects.filter(pk=uid).exists()
    assert personal_data_left() == []


@pytest.mark.parametrize("trigger", ["deactivate", "delete"])
def test_a_rehire_in_the_grace_period_restores_the_same_account(worker, scim, tenant, trigger):
    uid = scim.create_user("ann@example.com", externalId="emp-1")["id"]
    team = scim.create_group("Team", members=[uid])
    if trigger == "deactivate":
        deactivate(scim, uid)
    else:
        assert scim.delete(f"/Users/{uid}").status_code == 204
    steps_done(uid)

    if trigger == "deactivate":  # Okta: the same user, active again
        back = scim.patch_ops(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True}).json()
    else:  # Entra and others: the person is created again
        response = scim.post("/Users", {"userName": "ann@example.com", "externalId": "emp-1"})
        assert response.status_code == 201, response.content
        back = response.json()
    assert back["id"] == uid and back["active"] is True
    assert [g["value"] for g in scim.get(f"/Users/{uid}").json()["groups"]] == [team["id"]]
    assert case_of(uid).state == CaseState.CANCELLED
    assert swept(worker, uid) == CaseState.CANCELLED


def test_a_rehire_after_the_purge_is_a_new_account(worker, scim, tenant, system_actor):
    policy(tenant, system_actor, on_delete=DeprovisionAction.DELETE_NOW)
    uid = scim.create_user("ann@example.com", externalId="emp-1")["id"]
    assert scim.delete(f"/Users/{uid}").status_code == 204
    purge_due_now(uid)
    swept_until(uid, CaseState.PURGED)
    again = scim.post("/Users", {"userName": "ann@example.com", "externalId": "emp-1"})
    assert again.status_code == 201 and again.json()["id"] != uid


def test_a_legal_hold_blocks_deletion_until_someone_else_releases_it(
    worker, scim, tenant, system_actor, client, person
):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    legal = ("view_offboardingcase", *LEGAL_PERMISSIONS)
    counsel, auditor = person("counsel", *legal), person("auditor", *legal)
    client.force_login(counsel)
    decide(client, uid, "hold", "litigation hold 2026-14")
    due_now(uid)
    assert swept(worker, uid) == CaseState.ON_HOLD
    assert decide(client, uid, "release", "matter closed") == [
        "counsel placed this hold: someone else must release it (four eyes)."
    ]
    assert swept(worker, uid) == CaseState.ON_HOLD
    client.force_login(auditor)
    assert decide(client, uid, "release", "matter closed") == ["Done: the case is now suspended."]
    swept_until(uid, CaseState.DELETED)


def test_an_early_deletion(worker, scim, tenant, client, person):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)  # the default policy: deletion once HR approves, after the grace period
    client.force_login(person("hr", "view_offboardingcase", "review_offboarding", "approve_early_deletion"))
    assert decide(client, uid, "approve_early", "asked to be forgotten") == [
        "Done: the case is now deleted (kept until purged)."
    ]
    assert scim.get(f"/Users/{uid}").status_code == 404
    steps_done(uid)


def test_a_burst_is_quarantined_then_released(worker, scim, tenant, system_actor, admin_client):
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        burst_count=2,
        burst_percent=0,
    )
    ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(3)]
    for uid in ids:
        deactivate(scim, uid)
        assert scim.get(f"/Users/{uid}").json()["active"] is False  # access ends all the same
    burst = Burst.objects.get()
    wait_until(lambda: Burst.objects.filter(pk=burst.pk, alerted_at__isnull=False).exists(), 60)
    for uid in ids:
        due_now(uid)
    assert {swept(worker, uid) for uid in ids} == {CaseState.QUARANTINED}  # no deletion in a burst

    url = reverse("admin:lifecycle_burst_decide", args=[burst.pk])
    admin_client.post(url, {"outcome": "release", "reason": "the reorganisation was announced"})
    wait_until(lambda: Burst.objects.filter(pk=burst.pk, finished_at__isnull=False).exists(), 60)
    assert Burst.objects.get().state == BurstState.RELEASED
    for uid in ids:  # back where they were, due dates and all: the next sweep deletes them
        swept_until(uid, CaseState.DELETED)
