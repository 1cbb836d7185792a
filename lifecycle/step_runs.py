"""Running a case's offboarding steps (``lifecycle.steps``), from a Celery worker.

The database is the source of truth: a case is opened with nothing but a timestamp saying its steps
were asked for (``steps_enqueued_at``) and a task sent after the commit; the task creates the
case's step rows, and runs each due one. A step is *claimed* in a short transaction of its own
(its row locked, skipped if another worker holds it; status ``running``, one more attempt), run
outside any transaction (it may talk to other systems), and its outcome recorded in another:
``done``; or, on an exception, ``pending`` again with its next attempt after an exponential
backoff; or, after its last attempt, ``failed`` with the case flagged (``steps_failed``), never
stuck silently. When every step is done the case records ``steps_finished_at``, once.

Whatever is lost (a message, when the broker was down at commit; a worker killed mid-step, whose
claim then outlives its lease) the sweep finds and sends again (``steps_resend``). Running a case's
steps twice at once, or again after they finished, does nothing more.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from directory.services.audit import Actor, audit_record
from lifecycle.models import OPEN_STATES, CaseStep, OffboardingCase, StepStatus
from lifecycle.nudges import Nudge
from lifecycle.steps import StepContext, registered, step_named

logger = logging.getLogger(__name__)
ACTOR = Actor.system("lifecycle steps")


def lease() -> timedelta:
    """How long a claimed step may run before a sweep takes its worker for dead."""
    return timedelta(seconds=settings.LIFECYCLE_STEP_LEASE_SECONDS)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: doubling from LIFECYCLE_STEP_BACKOFF_SECONDS, at
    most an hour."""
    return timedelta(seconds=min(3600, settings.LIFECYCLE_STEP_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


# At most one message per process per second, however many cases its requests open; the worker's
# ``steps_dispatch`` then sends each case's task.
steps_nudge = Nudge("lifecycle.tasks.dispatch_steps")
"""After the transaction that opened cases commits, wake a worker to send their steps
(``steps_dispatch``); a nudge lost loses nothing: the cases say their steps are still to send,
and the sweep sends them."""


def steps_dispatch(*, now=None, tenant=None, limit: int = 1000) -> int:
    """Send the steps of the open cases whose steps were never sent (a case is opened with
    ``steps_enqueued_at`` empty): marked sent, each case's task sent on commit. Cases another
    dispatch holds are skipped. Returns how many."""
    now = now or timezone.now()
    cases = OffboardingCase.objects.filter(
        steps_enqueued_at=None, steps_finished_at=None, steps_failed=False, state__in=OPEN_STATES
    )
    if tenant is not None:
        cases = cases.filter(tenant=tenant)
    with transaction.atomic():
        ids = list(
            cases.select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        OffboardingCase.objects.filter(pk__in=ids).update(steps_enqueued_at=now)
        for case_id in ids:
            case_steps_send(case_id)
    return len(ids)


def case_steps_send(case_id: int, *, countdown: float | None = None) -> None:
    """Send the task that runs the case's steps, once the transaction commits. A broker that
    cannot be reached loses nothing: the error is logged (``robust``), and the sweep sends it
    again (the case says its steps are still to run)."""
    from lifecycle.tasks import run_case_steps

    def send() -> None:
        run_case_steps.apply_async((case_id,), countdown=countdown)

    transaction.on_commit(send, robust=True)


def case_steps_run(*, case_id: int, now=None) -> dict[str, str]:
    """Run the due steps of the case (creating its step rows the first time): ``{name: status}``
    after this run. Steps waiting for their next attempt are sent again for then."""
    case = OffboardingCase.objects.select_related("tenant", "user").filter(pk=case_id).first()
    if case is None or case.state not in OPEN_STATES or case.steps_finished_at is not None:
        return {}
    _ensure_rows(case)
    outcome: dict[str, str] = {}
    waits: list = []
    for step_id, name in CaseStep.objects.filter(case=case).order_by("position").values_list("pk", "name"):
        status, wait = _run_one(step_id, case, now or timezone.now())
        outcome[name] = status
        if wait is not None:
            waits.append(wait)
    if waits:
        moment = min(waits)
        with transaction.atomic():
            case_steps_send(case.pk, countdown=max(0.0, (moment - timezone.now()).total_seconds()))
    return outcome


def _ensure_rows(case: OffboardingCase) -> None:
    """The case's step rows, one per registered step (a step registered since is added)."""
    CaseStep.objects.bulk_create(
        [
            CaseStep(case=case, name=step.name, position=position)
            for position, step in enumerate(registered())
        ],
        ignore_conflicts=True,
    )


def _run_one(step_id: int, case: OffboardingCase, now) -> tuple[str, object]:
    """Claim, run and record one step: its status, and when it is due next if it waits."""
    claimed = _claim(step_id, now)
    if isinstance(claimed, tuple):
        return claimed
    step = step_named(claimed.name)
    error = "" if step is not None else f"No step {claimed.name!r} is registered any more."
    if step is not None:
        try:
            step.run(StepContext(case=case, tenant=case.tenant, user=case.user, now=now))
        except Exception as failure:  # a step's own failure: retried, recorded, never the worker's
            logger.warning("Offboarding step %s of case %s failed: %r", claimed.name, case.pk, failure)
            error = f"{type(failure).__name__}: {failure}"[:2000]
    return _record(claimed, case, step.max_attempts if step else 1, error, timezone.now())


def _claim(step_id: int, now) -> CaseStep | tuple[str, object]:
    """The step, now ``running`` for this worker; or why not: ``(status, next due time)``."""
    with transaction.atomic():
        step = CaseStep.objects.select_for_update(skip_locked=True).filter(pk=step_id).first()
        if step is None:
            return ("running", None)  # another worker holds it
        if step.status in (StepStatus.DONE, StepStatus.FAILED):
            return (step.status, None)
        if step.status == StepStatus.RUNNING and step.claimed_at and step.claimed_at > now - lease():
            return (step.status, None)
        if step.next_attempt_at is not None and step.next_attempt_at > now:
            return (step.status, step.next_attempt_at)
        step.status, step.attempts, step.claimed_at = StepStatus.RUNNING, step.attempts + 1, now
        step.save(update_fields=["status", "attempts", "claimed_at"])
        return step


def _record(step: CaseStep, case: OffboardingCase, max_attempts: int, error: str, now) -> tuple[str, object]:
    with transaction.atomic():
        updated = CaseStep.objects.select_for_update().get(pk=step.pk)
        if updated.status != StepStatus.RUNNING or updated.claimed_at != step.claimed_at:
            return (updated.status, None)  # taken over meanwhile (this worker outlived its lease)
        wait = None
        if not error:
            updated.status, updated.finished_at, updated.last_error = StepStatus.DONE, now, ""
        elif updated.attempts >= max_attempts:
            updated.status, updated.last_error = StepStatus.FAILED, error
            OffboardingCase.objects.filter(pk=case.pk).update(steps_failed=True)
            _event(case, "step_failed", step=updated.name, attempts=updated.attempts, error=error)
        else:
            wait = now + backoff(updated.attempts)
            updated.status, updated.last_error, updated.next_attempt_at = StepStatus.PENDING, error, wait
        updated.save()
        if not error:
            _finish_if_done(case, now)
        return (updated.status, wait)


def _finish_if_done(case: OffboardingCase, now) -> None:
    """Record, once, that every step of the case is done."""
    if CaseStep.objects.filter(case=case).exclude(status=StepStatus.DONE).exists():
        return
    if OffboardingCase.objects.filter(pk=case.pk, steps_finished_at=None).update(steps_finished_at=now):
        _event(case, "steps_finished")


def _event(case: OffboardingCase, event: str, **changes) -> None:
    audit_record(
        tenant=case.tenant,
        actor=ACTOR,
        action=f"offboarding.{event}",
        target_type="user",
        target_id=case.subject_id,
        target_label=case.user.user_name if case.user else str(case.subject_id),
        changes={"case": case.pk, **changes},
    )


def steps_resend(*, now=None, tenant=None) -> int:
    """Send again the steps of open cases that should be running and are not: asked for but not
    run since (the broker lost the message, or was down at commit), or claimed by a worker that
    has not finished within the lease (killed). Returns how many cases."""
    now = now or timezone.now()
    stale = now - lease()
    cases = OffboardingCase.objects.filter(
        state__in=OPEN_STATES, steps_finished_at=None, steps_failed=False, steps_enqueued_at__lt=stale
    )
    if tenant is not None:
        cases = cases.filter(tenant=tenant)
    # Of those, the ones with a step still to run whose time has come (or no step rows yet).
    waiting = (
        Q(steps__isnull=True)
        | Q(steps__status=StepStatus.PENDING, steps__next_attempt_at__isnull=True)
        | Q(steps__status=StepStatus.PENDING, steps__next_attempt_at__lte=now)
        | Q(steps__status=StepStatus.RUNNING, steps__claimed_at__lt=stale)
    )
    ids = list(cases.filter(waiting).values_list("pk", flat=True).distinct()[:1000])
    if ids:
        with transaction.atomic():
            OffboardingCase.objects.filter(pk__in=ids).update(steps_enqueued_at=now)
            for case_id in ids:
                case_steps_send(case_id)
    return len(ids)
