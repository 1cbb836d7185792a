"""What each process keeps of its SCIM requests until it writes them: the request log's rows (a
write's, a failure's: directory.models.ScimRequest) and each token's counts per day
(directory.models.ScimRequestDay), written together at most every ``SCIM_REQUEST_LOG_FLUSH_SECONDS``
(5) by the first request after that time, or as soon as ``FLUSH_ROWS`` rows wait, and at the
process's exit. A successful read costs a dictionary update; a write, the making of its row, not a
commit of its own: written one by one, the rows' commits took a PATCH from 3.4 to 6.7 ms
(benchmarks/README.md, *The request log and metrics*).

Why in the process and not the cache: an increment in Redis is a round trip per request (tens of
microseconds, more than the whole count here), and a beat task would still have to move the
counts into the table; the process's own dictionary needs neither.

What can be lost: a process that dies without exiting (SIGKILL, out of memory, the machine) loses
what it kept since its last flush: at most ``SCIM_REQUEST_LOG_FLUSH_SECONDS`` of its requests'
counts and rows (the audit trail, written in each write's own transaction, loses nothing). A
process that exits normally (gunicorn's graceful restart, max_requests) flushes first. A flush the
database refuses for being unavailable keeps what it had for the next one (rows up to
``KEPT_ROWS``, the oldest dropped beyond); one refused for any other reason is logged and dropped.
A process that answers no request keeps its last few seconds until its next request or its exit:
the tables lag, but lose nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from directory.services.requests import DayCount, request_days_add, scim_requests_add

logger = logging.getLogger(__name__)

READ, WRITE, ERROR = 0, 1, 2
FLUSH_ROWS = 100  # rows waiting that make a flush due at once (a Bulk of 1,000 makes one)
KEPT_ROWS = 1000  # rows kept across flushes the database refused for being unavailable


class RequestBuffer:
    """One process's rows and counts not written yet. Thread-safe (gunicorn's threaded workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int, date], list] = {}
        self._rows: list[dict] = []
        self._due = time.monotonic() + settings.SCIM_REQUEST_LOG_FLUSH_SECONDS
        self._database = None

    def _keeping(self) -> None:
        if not (self._counts or self._rows):
            self._database = connection.settings_dict["NAME"]

    def count(self, *, tenant_id: int, token_id: int, at: float, kind: int, ms: float) -> None:
        """Count one request of the token's, received at ``at`` (time.time()), on its UTC day."""
        key = (tenant_id, token_id, utc_day(at))
        with self._lock:
            self._keeping()
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = [0, 0, 0, 0.0]
            counts[kind] += 1
            counts[3] += ms

    def log(self, row: dict) -> None:
        """Keep one row of the request log (``ScimRequest``'s fields)."""
        with self._lock:
            self._keeping()
            self._rows.append(row)
            if len(self._rows) >= FLUSH_ROWS:
                self._due = 0.0

    def flush_if_due(self) -> None:
        if time.monotonic() >= self._due:
            self.flush()

    def take(self) -> tuple[list[DayCount], list[dict]]:
        """What is kept, which the caller now owns; the next flush is due an interval on."""
        with self._lock:
            counts, self._counts = self._counts, {}
            rows, self._rows = self._rows, []
            self._due = time.monotonic() + settings.SCIM_REQUEST_LOG_FLUSH_SECONDS
        return [
            DayCount(tenant, token, day, reads, writes, errors, ms)
            for (tenant, token, day), (reads, writes, errors, ms) in counts.items()
        ], rows

    def flush(self) -> None:
        """Write what is kept: the rows, then the counts, each in a transaction of its own."""
        database = self._database
        counts, rows = self.take()
        if connection.settings_dict["NAME"] != database:
            # Kept against another database than the one now connected: a test database dropped
            # before the test run's exit, whose rows must not reach the real one.
            return
        if rows:
            self._write(lambda some: scim_requests_add(rows=some), rows, database, "request log rows")
        if counts:
            self._write(
                lambda some: request_days_add(counts=some), counts, database, "token-days of request counts"
            )

    def _write(self, write, items: list, database, what: str) -> None:
        """``write(items)``; kept for the next flush if the database is unavailable. One it refuses
        (a value it will not take) is written again one by one, so that only what it refuses is
        dropped, never the other tenants' rows of the same flush."""
        try:
            write(items)
        except (OperationalError, InterfaceError) as error:
            logger.warning(
                "%d %s kept for the next flush (database unavailable): %s", len(items), what, error
            )
            self._give_back(items, database)
        except Exception:
            if len(items) == 1:
                logger.exception("1 of the %s dropped: the database refused it", what)
                return
            for item in items:
                self._write(write, [item], database, what)

    def _give_back(self, items: list, database) -> None:
        with self._lock:
            self._database = database
            if items and isinstance(items[0], DayCount):
                for c in items:
                    mine = self._counts.setdefault((c.tenant_id, c.token_id, c.day), [0, 0, 0, 0.0])
                    for i, value in enumerate((c.reads, c.writes, c.errors, c.latency_ms)):
                        mine[i] += value
                return
            self._rows[:0] = items
            if len(self._rows) > KEPT_ROWS:
                dropped = len(self._rows) - KEPT_ROWS
                del self._rows[:dropped]
                logger.error(
                    "%d request log rows dropped: the database has been unavailable too long", dropped
                )


BUFFER = RequestBuffer()

_EPOCH = date(1970, 1, 1)
_days: dict[int, date] = {}


def utc_day(at: float) -> date:
    """The UTC date of a time.time(), without making a datetime per request (days remembered)."""
    number = int(at // 86400)
    day = _days.get(number)
    if day is None:
        day = _days[number] = _EPOCH + timedelta(days=number)
    return day


def flush_at_exit() -> None:
    """Registered with atexit by DirectoryConfig.ready(): a process exiting writes what it kept
    (``flush`` logs a failure rather than raising it)."""
    BUFFER.flush()
