"""The periodic sweep: beat's ``lifecycle.tasks.sweep`` and ``manage.py lifecycle_sweep`` run it.
The database is the source of truth, so the sweep finds whatever is due or was left: the
deactivations whose cases a lost message left unopened, the cases the clock made due, what bursts
left to do, the steps a lost message or a killed worker left, the HR reviewers not yet told of
cases pending review."""

from __future__ import annotations

from directory.models import Tenant
from lifecycle.burst_decisions import bursts_sweep
from lifecycle.deactivations import deactivations_consume
from lifecycle.notifications import reviews_notify
from lifecycle.services import cases_sweep
from lifecycle.step_runs import steps_dispatch, steps_resend


def lifecycle_sweep(*, tenant: Tenant | None = None, now=None) -> dict[str, int]:
    """One pass (of one tenant, or all); how much of each kind it did."""
    opened = deactivations_consume(tenant=tenant)  # a lost nudge's, before anything counts them
    done = cases_sweep(tenant=tenant, now=now)
    done["deactivations"] = opened
    done |= bursts_sweep(tenant=tenant)
    done["steps_sent"] = steps_dispatch(tenant=tenant, now=now)
    done["steps_resent"] = steps_resend(tenant=tenant, now=now)
    done["reviews_notified"] = reviews_notify(tenant=tenant, now=now)
    return done
