"""The lifecycle's Celery tasks: another interface onto its services (they load by id and call
one). Each is safe to run twice and at once on several workers."""

from celery import shared_task

from lifecycle.burst_decisions import burst_finish
from lifecycle.bursts import burst_alert
from lifecycle.step_runs import case_steps_run
from lifecycle.sweep import lifecycle_sweep


@shared_task(name="lifecycle.tasks.run_case_steps")
def run_case_steps(case_id: int) -> dict[str, str]:
    """Run the due offboarding steps of one case (``lifecycle.step_runs``)."""
    return case_steps_run(case_id=case_id)


@shared_task(name="lifecycle.tasks.sweep")
def sweep() -> dict[str, int]:
    """``lifecycle.sweep.lifecycle_sweep``, scheduled by beat; ``manage.py lifecycle_sweep``
    runs the same."""
    return lifecycle_sweep()


@shared_task(name="lifecycle.tasks.alert_burst")
def alert_burst(burst_id: int) -> bool:
    """Email the administrators about a burst of deprovisions (``lifecycle.bursts``), once."""
    return burst_alert(burst_id=burst_id)


@shared_task(name="lifecycle.tasks.finish_burst")
def finish_burst(burst_id: int) -> int:
    """Carry out an administrator's release or revert of a burst, case by case."""
    return burst_finish(burst_id=burst_id)
