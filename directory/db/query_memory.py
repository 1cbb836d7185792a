"""What a tenant's queries found, remembered until the tenant's directory next changes (PostgreSQL).

A SCIM list response carries ``totalResults``, and counting every match of a filter (or every user
of a 100,000-user directory) costs more than reading the page itself; so does skipping 50,000 rows
to reach ``startIndex=50001``. An identity provider pages through one query page after page, and
admins re-run the same searches, so a query's count, and the ids at which its pages start, are
kept in the shared cache under the query, together with the database *snapshot* taken just before
they were computed (``pg_current_snapshot()``).

What is remembered is used only while no write of the tenant has committed outside that snapshot.
Every write appends an audit event in its own transaction (``audit_record``, ``audited_writes``),
and every event carries the id of the transaction that wrote it (``xact``, migration 0010). A write
the snapshot does not see is an event whose transaction started after it (an id at or past its
``xmax``) or was in progress when it was taken (its ``xip``): two index probes, asked in the one
statement that also takes the current snapshot. So a total is never older than the last write
that committed before the request began, and writes do nothing for it: no cache round trip, no
shared row to update, nothing to lose should a process die between its commit and a cache update.

Nothing is remembered inside a transaction (its own uncommitted writes would count), nor on other
databases: SQLite, the embedded default, counts every time. A failing cache only makes every
request count again.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet

logger = logging.getLogger(__name__)

REMEMBER_TTL = 300  # seconds: what is remembered of queries no one repeats does not pile up

# The current snapshot, and which of the given snapshots (%s: text[]) still see every write of the
# tenant (%s: its id) that has committed. Each in-progress id is looked up in the index: written
# as `xact IN (xip)` the planner walks all the tenant's events instead (190 ms at 225,000).
_HOLDING = """
SELECT pg_current_snapshot()::text, ARRAY(
    SELECT s FROM unnest(%s::text[]) AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM directory_auditevent e
        WHERE e.tenant_id = %s AND e.xact >= pg_snapshot_xmax(s::pg_snapshot)
    ) AND NOT EXISTS (
        SELECT 1 FROM pg_snapshot_xip(s::pg_snapshot) AS x (xact) WHERE EXISTS (
            SELECT 1 FROM directory_auditevent e WHERE e.tenant_id = %s AND e.xact = x.xact
        )
    )
)
"""


class QueryMemory:
    """What is remembered of one query of a tenant's data (its count, and where its pages start),
    valid while no write of the tenant has committed since. Read at first use: one cache round
    trip and one statement. ``query`` names what the queryset selects (resource type, filter)."""

    def __init__(self, tenant, query: tuple) -> None:
        self.tenant_id = tenant.pk
        # created_at too: a tenant id reused after a delete (test databases) starts afresh.
        digest = hashlib.sha256(repr((tenant.pk, tenant.created_at.timestamp(), *query)).encode()).hexdigest()
        self.count_key = f"roster:count:{digest}"
        self.positions_key = f"roster:positions:{digest}"
        self._found: dict | None = None  # what still holds, by cache key
        self._snapshot = ""  # taken with it: what is computed now is stored under it

    def count(self, queryset: QuerySet) -> int:
        """``queryset.count()``, from the cache while the tenant's data has not changed since."""
        found = self._load()
        if found is None:
            return queryset.count()
        if self.count_key in found:
            return found[self.count_key]
        total = queryset.count()
        self._store(self.count_key, total)
        return total

    def positions(self) -> dict[int, Any]:
        """``{n: pk}``: the pk at offset ``n`` of the query in pk order, as far as it is known."""
        found = self._load()
        return dict(found.get(self.positions_key) or {}) if found else {}

    def remember_positions(self, positions: dict[int, Any]) -> None:
        if self._load() is not None:
            self._store(self.positions_key, positions)

    def _load(self) -> dict | None:
        """What still holds of what is remembered, by key (and the current snapshot, in
        ``_snapshot``); None when nothing may be remembered."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return None
        if self._found is None:
            try:
                remembered = cache.get_many([self.count_key, self.positions_key])
            except Exception:
                logger.exception("Could not read what is remembered of a query; computing it.")
                return None
            entries = {k: v for k, v in remembered.items() if isinstance(v, tuple) and len(v) == 2}
            with connection.cursor() as cursor:
                snapshots = sorted({snapshot for snapshot, _ in entries.values()})
                cursor.execute(_HOLDING, [snapshots, self.tenant_id, self.tenant_id])
                current, holding = cursor.fetchone()
            self._found = {k: value for k, (snapshot, value) in entries.items() if snapshot in holding}
            self._snapshot = current
        return self._found

    def _store(self, key: str, value) -> None:
        try:
            cache.set(key, (self._snapshot, value), timeout=REMEMBER_TTL)
        except Exception:
            logger.exception("Could not remember a query's %s.", key.split(":")[1])
