"""The offboarding steps in a real Celery worker, through a real broker (the filesystem broker in
the SQLite pass, Redis in the PostgreSQL pass): a deprovision's steps run; a worker killed
(SIGKILL) in the middle of a step leaves a case that finishes exactly once after a restart; a
broker unreachable while identity providers deprovision loses nothing once it is back; a burst's
alert is sent and its revert carried out by the worker."""

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from directory.celery import app
from directory.models import AuditEvent, PendingDeactivation
from lifecycle.burst_decisions import burst_revert
from lifecycle.models import Burst, CaseStep, OffboardingCase, StepStatus
from lifecycle.step_runs import steps_resend
from lifecycle.sweep import lifecycle_sweep
from tests.lifecycle.test_cases import deactivate, policy, user_state
from tests.support.processes import broker_at, celery_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def finished(case_id) -> bool:
    return OffboardingCase.objects.filter(pk=case_id, steps_finished_at__isnull=False).exists()


def test_a_deprovision_s_steps_run_in_a_worker(scim):
    with celery_worker():
        uid = scim.create_user("ann@example.com")["id"]
        deactivate(scim, uid)
        case = OffboardingCase.objects.get(subject_id=uid)
        wait_until(lambda: finished(case.pk), timeout=60)
    assert set(CaseStep.objects.filter(case=case).values_list("status", flat=True)) == {StepStatus.DONE}


def test_a_worker_killed_mid_step_leaves_a_case_that_finishes_once(scim, tmp_path, settings):
    settings.LIFECYCLE_STEP_LEASE_SECONDS = 1
    log, go = tmp_path / "steps.log", tmp_path / "go"
    env = {
        "LIFECYCLE_STEPS": "tests.support.steps:slow_step",
        "STEP_LOG": str(log),
        "STEP_GO": str(go),
        "LIFECYCLE_STEP_LEASE_SECONDS": "1",
    }
    with celery_worker(env) as worker:
        uid = scim.create_user("ann@example.com")["id"]
        deactivate(scim, uid)
        case = OffboardingCase.objects.get(subject_id=uid)
        wait_until(lambda: log.exists() and "start" in log.read_text(), timeout=60)
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
    assert not finished(case.pk)
    go.touch()
    with celery_worker(env, purge=False):
        # The killed worker's claim outlives its lease: the sweep sends the case's steps again.
        wait_until(lambda: steps_resend(now=timezone.now() + timedelta(seconds=2)) > 0 or finished(case.pk))
        wait_until(lambda: finished(case.pk), timeout=60)
    assert log.read_text().splitlines() == [f"start {case.pk}", f"start {case.pk}", f"end {case.pk}"]
    attempts = dict(CaseStep.objects.filter(case=case).values_list("name", "attempts"))
    assert attempts == {"revoke_sessions": 1, "record_data_successor": 1, "notify_manager": 1, "slow_step": 2}
    assert AuditEvent.objects.filter(action="offboarding.steps_finished", target_id=uid).count() == 1


def test_a_broker_down_while_users_are_deprovisioned_loses_nothing(scim):
    with broker_at("redis://127.0.0.1:9/0"):  # nothing listens there: every send fails
        ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(3)]
        for uid in ids:
            deactivate(scim, uid, consume=False)  # answered normally: access ends whatever the broker does
        assert (
            scim.delete(f"/Users/{ids[2]}").status_code == 204
        )  # Entra's next step, its case in the request
    assert PendingDeactivation.objects.count() == 2  # the third was drained by its DELETE
    assert [user_state(uid) for uid in ids] == ["suspended", "suspended", "deleted"]
    app.control.purge()  # nothing of an earlier test's in the queue: only what this sweep sends
    done = lifecycle_sweep()  # the broker is back: the sweep finds what the lost nudges left
    assert (done["deactivations"], done["steps_sent"]) == (2, 3)
    cases = list(OffboardingCase.objects.filter(subject_id__in=ids).values_list("pk", flat=True))
    assert len(cases) == 3
    with celery_worker(purge=False):  # and a worker runs what it sent
        wait_until(lambda: all(finished(pk) for pk in cases), timeout=60)


def test_a_burst_is_alerted_and_reverted_by_the_worker(scim, tenant, system_actor, admin_user):
    policy(tenant, system_actor, burst_count=2, burst_percent=0)
    with celery_worker():
        ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(3)]
        deactivate(scim, ids[0])
        deactivate(scim, ids[1])
        assert scim.delete(f"/Users/{ids[2]}").status_code == 204
        burst = Burst.objects.get()
        wait_until(lambda: Burst.objects.filter(pk=burst.pk, alerted_at__isnull=False).exists(), timeout=60)
        burst_revert(burst_id=burst.pk, by=admin_user, reason="a wrong assignment")
        wait_until(lambda: Burst.objects.filter(pk=burst.pk, finished_at__isnull=False).exists(), timeout=60)
    assert [user_state(uid) for uid in ids] == ["active", "active", "active"]
    assert scim.get(f"/Users/{ids[2]}").json()["active"] is True
