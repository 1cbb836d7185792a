"""The offboarding steps of a case: run, retried with backoff, failed loudly, never twice, taken
over from a worker that died; the steps Roster ships; a host application's own."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from directory.models import AuditEvent
from lifecycle import signals, steps
from lifecycle.models import CaseStep, OffboardingCase, StepStatus
from lifecycle.services import case_cancel
from lifecycle.step_runs import backoff, case_steps_run, lease, steps_dispatch, steps_resend
from tests.lifecycle.test_cases import deactivate
from tests.scim_api.conftest import ENTERPRISE


@pytest.fixture
def leaver(scim):
    """A user with a manager (who has a work email), deactivated: its case is open."""
    boss = scim.create_user(
        "boss@example.com", displayName="Boss", emails=[{"value": "boss@example.com", "primary": True}]
    )
    uid = scim.create_user(
        "ann@example.com", displayName="Ann", **{ENTERPRISE: {"manager": {"value": boss["id"]}}}
    )["id"]
    deactivate(scim, uid)
    return OffboardingCase.objects.get(subject_id=uid), boss["id"]


class Flaky(list):
    """A host application's step that fails the first ``failures`` times it runs (its runs kept)."""

    failures = 0

    def __call__(self, context) -> None:
        self.append(context.case.pk)
        if len(self) <= self.failures:
            raise ConnectionError(f"directory service down (run {len(self)})")


@pytest.fixture
def flaky():
    step = Flaky()
    steps.register("archive_mailbox", step, label="Archive the mailbox", max_attempts=3)
    yield step
    steps.unregister("archive_mailbox")


def statuses(case) -> dict[str, str]:
    return dict(CaseStep.objects.filter(case=case).values_list("name", "status"))


def test_the_shipped_steps_run_and_the_case_finishes_once(leaver):
    case, boss = leaver
    revoked = []
    signals.revoke_sessions.connect(on := lambda sender, **kw: revoked.append(kw["user_id"]))
    try:
        assert case_steps_run(case_id=case.pk) == {
            "revoke_sessions": "done",
            "record_data_successor": "done",
            "notify_manager": "done",
        }
    finally:
        signals.revoke_sessions.disconnect(on)
    case.refresh_from_db()
    assert revoked == [case.subject_id]
    assert str(case.data_successor_id) == boss
    assert case.steps_finished_at is not None
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"] and message.subject == "Ann no longer has access"
    assert "Hello Boss" in message.body
    finished = case.steps_finished_at
    assert case_steps_run(case_id=case.pk) == {}  # finished: nothing runs again
    case.refresh_from_db()
    assert case.steps_finished_at == finished and len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="offboarding.steps_finished").count() == 1


def test_a_failing_step_is_retried_with_backoff_then_done(leaver, flaky):
    case, _ = leaver
    flaky.failures = 1
    now = timezone.now()
    assert case_steps_run(case_id=case.pk, now=now)["archive_mailbox"] == "pending"
    step = CaseStep.objects.get(case=case, name="archive_mailbox")
    assert step.attempts == 1 and "directory service down" in step.last_error
    assert step.next_attempt_at >= now + backoff(1) - timedelta(seconds=1)
    assert case_steps_run(case_id=case.pk, now=now)["archive_mailbox"] == "pending"  # not due yet
    assert len(flaky) == 1
    later = step.next_attempt_at + timedelta(seconds=1)
    assert case_steps_run(case_id=case.pk, now=later)["archive_mailbox"] == "done"
    step.refresh_from_db()
    assert (step.attempts, step.last_error) == (2, "")
    case.refresh_from_db()
    assert case.steps_finished_at is not None and not case.steps_failed
    assert backoff(1) < backoff(2) < backoff(3) and backoff(30) == timedelta(hours=1)


def test_a_step_that_keeps_failing_flags_the_case(leaver, flaky):
    case, _ = leaver
    flaky.failures = 99
    moment = timezone.now()
    for _ in range(3):
        case_steps_run(case_id=case.pk, now=moment)
        moment += timedelta(hours=2)
    step = CaseStep.objects.get(case=case, name="archive_mailbox")
    assert (step.status, step.attempts) == (StepStatus.FAILED, 3)
    case.refresh_from_db()
    assert case.steps_failed and case.steps_finished_at is None
    event = AuditEvent.objects.get(action="offboarding.step_failed")
    assert event.changes["step"] == "archive_mailbox" and event.changes["attempts"] == 3
    assert steps_resend(now=moment + timedelta(days=1)) == 0  # flagged: for a person to look at


def test_a_step_a_dead_worker_held_is_taken_over_after_its_lease(leaver, flaky):
    case, _ = leaver
    assert steps_dispatch() == 1  # its steps sent to a worker, which runs them
    case_steps_run(case_id=case.pk)
    CaseStep.objects.filter(case=case, name="archive_mailbox").update(
        status=StepStatus.RUNNING, finished_at=None, claimed_at=timezone.now()
    )
    OffboardingCase.objects.filter(pk=case.pk).update(steps_finished_at=None)
    soon = timezone.now() + timedelta(seconds=5)
    assert case_steps_run(case_id=case.pk, now=soon)["archive_mailbox"] == "running"  # still its
    assert steps_resend(now=soon) == 0
    after = timezone.now() + lease() + timedelta(seconds=5)
    assert steps_resend(now=after) == 1
    assert case_steps_run(case_id=case.pk, now=after)["archive_mailbox"] == "done"
    assert CaseStep.objects.get(case=case, name="archive_mailbox").attempts == 2


def test_a_cancelled_case_runs_no_step(leaver, system_actor):
    case, _ = leaver
    case_cancel(
        tenant=case.tenant, user_id=case.subject_id, actor=system_actor, at=timezone.now(), reason="rehired"
    )
    assert case_steps_run(case_id=case.pk) == {}
    assert not CaseStep.objects.filter(case=case).exists()
    assert mail.outbox == []


def test_steps_never_sent_are_dispatched_and_a_lost_message_is_sent_again(leaver):
    """A case is opened with its steps still to send: the nudge's dispatch (or the sweep's, should
    the nudge be lost) sends them once; should that message be lost too, they are sent again once
    the lease is over."""
    case, _ = leaver
    assert case.steps_enqueued_at is None
    assert steps_resend() == 0  # never sent: the dispatch's, not the resend's
    assert steps_dispatch() == 1
    assert steps_dispatch() == 0  # sent once
    case.refresh_from_db()
    assert case.steps_enqueued_at >= case.deprovisioned_at
    assert steps_resend() == 0  # just sent: not lost yet
    assert steps_resend(now=timezone.now() + lease() + timedelta(seconds=1)) == 1
