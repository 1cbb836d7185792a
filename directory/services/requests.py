"""Writes of the SCIM request log and of the per-day request counts (directory/models/requests.py).

None of them is directory data: they record no audit event, and they run apart from any request's
transaction (directory/request_buffer.py writes what its process kept every few seconds), so that
what a request rolled back is still recorded, and a failure to record cannot undo the request.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Q

from directory.models import ScimRequest, ScimRequestDay
from directory.services.audit import PURGED

PRUNE_BATCH = 1000


@contextmanager
def _written_apart() -> Iterator[None]:
    """A transaction of its own, committed without waiting for the disk (PostgreSQL's
    ``synchronous_commit = off``, for this transaction only): the request whose flush it is need
    not wait for a WAL flush, for rows that a crash before the flush would have lost anyway; a
    crash after it can lose the last fraction of a second of them (three times wal_writer_delay
    at most), never corrupt them. Inside a caller's transaction (a test's), a savepoint instead,
    so that a failed insert leaves it usable, and the caller's commit as durable as it was."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        yield


def scim_requests_add(*, rows: list[dict]) -> None:
    """Rows of the log (each ``ScimRequest``'s fields), in one statement."""
    with _written_apart():
        ScimRequest.objects.bulk_create([ScimRequest(**row) for row in rows])


@dataclass(frozen=True)
class DayCount:
    """What one process counted for one token on one day since it last added its counts."""

    tenant_id: int
    token_id: int
    day: date
    reads: int = 0
    writes: int = 0
    errors: int = 0
    latency_ms: float = 0.0


def request_days_add(*, counts: Iterable[DayCount]) -> None:
    """Add ``counts`` to their days' rows, creating those missing, in one statement (INSERT ... ON
    CONFLICT DO UPDATE adding to the row: PostgreSQL and SQLite 3.24+), so that processes adding
    to the same row at once lose nothing. Rows go in (token, day) order: two processes' statements
    then lock their common rows in the same order and cannot deadlock."""
    rows = sorted(counts, key=lambda c: (c.token_id, c.day))
    if not rows:
        return
    table = connection.ops.quote_name(ScimRequestDay._meta.db_table)
    columns = ("tenant_id", "token_id", "day", "reads", "writes", "errors", "latency_ms")
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    added = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in columns[3:])
    sql = (  # names and placeholders only: every value is a parameter
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "  # noqa: S608
        f"ON CONFLICT (token_id, day) DO UPDATE SET {added}"
    )
    params: list = []
    for c in rows:
        day = connection.ops.adapt_datefield_value(c.day)
        params += [c.tenant_id, c.token_id, day, c.reads, c.writes, c.errors, c.latency_ms]
    with _written_apart(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def scim_requests_prune(*, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete the log's rows received before ``before``, ``batch`` at a time (each its own short
    statement, oldest first by the received_at index), until none is left; the number deleted.
    Idempotent, and safe with several workers at once: a row two of them pick is deleted by one,
    and the other's statement deletes what is left."""
    deleted = 0
    while True:
        ids = list(
            ScimRequest.objects.filter(received_at__lt=before)
            .order_by("received_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        count, _ = ScimRequest.objects.filter(pk__in=ids).delete()
        deleted += count


def scim_requests_redact(*, tenant, user_id, personal: list[str]) -> int:
    """The purge's part of the request log: the bodies of the tenant's logged requests about the
    user (its id in the path) or naming it (any of its ``personal`` values, as the purge gathered
    them), replaced by ``[purged]``; what was asked, when and by whom stays. Runs in the purge's
    transaction. Returns how many rows were redacted."""
    about = Q(path__contains=str(user_id))
    for value in {p for p in personal if len(p) >= 3}:
        about |= Q(body__icontains=value)
    rows = ScimRequest.objects.filter(about, tenant=tenant).exclude(body__in=("", PURGED))
    return rows.update(body=PURGED, body_truncated=False)
