"""The lifecycle's Celery tasks: another interface onto its services (they load by id and call
one). Each is safe to run twice and at once on several workers."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from lifecycle.burst_decisions import burst_finish
from lifecycle.bursts import burst_alert
from lifecycle.deactivations import deactivations_consume
from lifecycle.notifications import reviewers_digest_due, reviews_digest, reviews_notify
from lifecycle.services import SWEEP_BATCH, cases_due, cases_sweep
from lifecycle.step_runs import case_steps_run, steps_dispatch
from lifecycle.sweep import lifecycle_sweep


@shared_task(name="lifecycle.tasks.run_case_steps")
def run_case_steps(case_id: int) -> dict[str, str]:
    """Run the due offboarding steps of one case (``lifecycle.step_runs``)."""
    return case_steps_run(case_id=case_id)


@shared_task(name="lifecycle.tasks.consume_deactivations")
def consume_deactivations() -> int:
    """Open the cases of the deactivations since (``lifecycle.deactivations``)."""
    return deactivations_consume()


@shared_task(name="lifecycle.tasks.dispatch_steps")
def dispatch_steps() -> int:
    """Send the steps of the cases opened since (``lifecycle.step_runs.steps_nudge``)."""
    return steps_dispatch()


@shared_task(name="lifecycle.tasks.sweep")
def sweep() -> dict[str, int]:
    """``lifecycle.sweep.lifecycle_sweep``, scheduled by beat; ``manage.py lifecycle_sweep``
    runs the same. With more due cases than one batch, LIFECYCLE_SWEEP_WORKERS - 1 helpers are
    sent first, so that as many workers share them (each takes the batches the others have not
    locked)."""
    due = cases_due()
    if sum(cases[: SWEEP_BATCH + 1].count() for cases in due.values()) > SWEEP_BATCH:
        for _ in range(settings.LIFECYCLE_SWEEP_WORKERS - 1):
            sweep_cases.delay()
    return lifecycle_sweep()


@shared_task(name="lifecycle.tasks.sweep_cases")
def sweep_cases() -> dict[str, int]:
    """A helper of the sweep: due deletions and purges only."""
    return cases_sweep()


@shared_task(name="lifecycle.tasks.alert_burst")
def alert_burst(burst_id: int) -> bool:
    """Email the administrators about a burst of deprovisions (``lifecycle.bursts``), once."""
    return burst_alert(burst_id=burst_id)


@shared_task(name="lifecycle.tasks.finish_burst")
def finish_burst(burst_id: int) -> int:
    """Carry out an administrator's release or revert of a burst, case by case."""
    return burst_finish(burst_id=burst_id)


@shared_task(name="lifecycle.tasks.notify_reviews")
def notify_reviews() -> int:
    """Tell HR reviewers of the cases newly pending review (``lifecycle.notifications.reviews_nudge``)."""
    return reviews_notify()


@shared_task(bind=True, name="lifecycle.tasks.review_digest", max_retries=6, default_retry_delay=600)
def review_digest(self) -> int:
    """The HR reviewers' daily digest, scheduled by beat ("hr-review-digest"). A digest whose send
    failed is tried again in ten minutes, up to six times (those sent are not sent again)."""
    sent = reviews_digest()
    if self.request.retries < self.max_retries and reviewers_digest_due(today=timezone.now().date()).exists():
        raise self.retry()
    return sent
