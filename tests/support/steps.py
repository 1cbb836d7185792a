"""Offboarding steps for tests that run a real Celery worker (LIFECYCLE_STEPS in the worker's
environment): each records its runs in the file STEP_LOG names, one line per event."""

import os
import time
from pathlib import Path


def _log(line: str) -> None:
    with Path(os.environ["STEP_LOG"]).open("a") as log:
        log.write(line + "\n")


def slow_step(context) -> None:
    """Starts, then waits until the file STEP_GO names exists (at most a minute), then ends: a
    test kills the worker while it waits."""
    _log(f"start {context.case.pk}")
    deadline = time.monotonic() + 60
    while not Path(os.environ["STEP_GO"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    _log(f"end {context.case.pk}")
