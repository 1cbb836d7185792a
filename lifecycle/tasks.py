"""The lifecycle's Celery tasks: another interface onto its services (they load by id and call
one). Both are safe to run twice and at once on several workers."""

from celery import shared_task

from lifecycle.services import cases_sweep
from lifecycle.step_runs import case_steps_run, steps_resend


@shared_task(name="lifecycle.tasks.run_case_steps")
def run_case_steps(case_id: int) -> dict[str, str]:
    """Run the due offboarding steps of one case (``lifecycle.step_runs``)."""
    return case_steps_run(case_id=case_id)


@shared_task(name="lifecycle.tasks.sweep")
def sweep() -> dict[str, int]:
    """What the clock has made due (deletions, purges), and the steps a lost message or a killed
    worker left behind. Scheduled by beat; ``manage.py lifecycle_sweep`` runs the same."""
    done = cases_sweep()
    done["steps_resent"] = steps_resend()
    return done
