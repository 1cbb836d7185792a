"""Waking a worker after a commit, without a message per request: a ``Nudge`` sends its task at
most once a second per process, however many requests ask; those within the second are folded
into one more, due when it ends, which finds whatever committed meanwhile. A nudge lost (the
broker down) loses nothing: the database says what is still to do, and the sweep does it."""

from __future__ import annotations

import threading
import time

from django.db import transaction
from django.utils.module_loading import import_string

NUDGE_SECONDS = 1.0


class Nudge:
    def __init__(self, task: str):
        self.task = task  # the dotted path of a Celery task taking no arguments
        self._lock = threading.Lock()
        self._sent = self._trailing = -NUDGE_SECONDS

    def __call__(self) -> None:
        """Nudge once the current transaction commits (at once outside one)."""
        transaction.on_commit(self._send, robust=True)

    def _send(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._sent >= NUDGE_SECONDS:
                self._sent, countdown = now, None
            elif self._trailing <= now:
                self._trailing = self._sent + NUDGE_SECONDS
                countdown = self._trailing - now
            else:
                return  # a nudge due after this commit is on its way
        import_string(self.task).apply_async(countdown=countdown)
