"""What a tenant's queries found, remembered until the tenant's directory next changes.

A SCIM list response carries ``totalResults``, and counting every match of a filter (or every user
of a 100,000-user directory) costs more than reading the page itself; so does skipping 50,000 rows
to reach ``startIndex=50001``. An identity provider pages through one query page after page, and
admins re-run the same searches, so a query's count, and the ids at which its pages start, are
kept in the shared cache under the query, together with the tenant's *generation*: a random token
that every committed write to the tenant's data replaces (``data_changed``, called by
``audit_record``, which every write service calls inside its transaction). What is remembered is
used only while the generation it was taken under is still the tenant's current one, so a total
is never older than the last write that committed before the request began, and is exact.

A random token rather than a counter: replacing it needs no atomic increment (the file-based cache
of the embedded default has none), and a token that was evicted and set again never repeats an
old value. Counts are not kept inside a transaction (the generation of data this transaction has
not committed yet does not exist), and a failing cache only makes every request count again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)

REMEMBER_TTL = 300  # seconds; bounds the staleness should a generation change fail to be stored


def _generation_key(tenant) -> str:
    # created_at too: a tenant id reused after a delete (SQLite, test databases) starts afresh.
    return f"roster:generation:{tenant.pk}:{tenant.created_at.timestamp()}"


class _NewGeneration:
    """The on-commit callback that replaces a tenant's generation (one per transaction)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self) -> None:
        try:
            cache.set(self.key, uuid.uuid4().hex, timeout=None)
        except Exception:
            logger.exception("Could not store a new data generation; totals may lag %ss.", REMEMBER_TTL)


def data_changed(tenant) -> None:
    """Call inside a write's transaction: on commit, the tenant's remembered counts are void."""
    key = _generation_key(tenant)
    if connection.in_atomic_block:
        pending = connection.run_on_commit
        if any(isinstance(f, _NewGeneration) and f.key == key for _, f, _ in pending):
            return
    transaction.on_commit(_NewGeneration(key))


class QueryMemory:
    """What is remembered of one query of a tenant's data (its count, and where its pages start),
    valid while the tenant's generation lasts. Read from the cache in one round trip, at first use.
    ``query`` names what the queryset selects (resource type, filter text)."""

    def __init__(self, tenant, query: tuple) -> None:
        self.generation_key = _generation_key(tenant)
        digest = hashlib.sha256(repr((self.generation_key, *query)).encode()).hexdigest()
        self.count_key = f"roster:count:{digest}"
        self.positions_key = f"roster:positions:{digest}"
        self._found: dict | None = None

    def count(self, queryset: QuerySet) -> int:
        """``queryset.count()``, from the cache while the tenant's data has not changed since."""
        found = self._load()
        if found is None:
            return queryset.count()
        remembered = found.get(self.count_key)
        if isinstance(remembered, tuple) and remembered[0] == found["generation"]:
            return remembered[1]
        total = queryset.count()
        self._store(self.count_key, (found["generation"], total))
        return total

    def positions(self) -> dict[int, Any]:
        """``{n: pk}``: the pk at offset ``n`` of the query in pk order, as far as it is known."""
        found = self._load()
        remembered = found.get(self.positions_key) if found else None
        if isinstance(remembered, tuple) and remembered[0] == found["generation"]:
            return dict(remembered[1])
        return {}

    def remember_positions(self, positions: dict[int, Any]) -> None:
        found = self._load()
        if found is not None:
            self._store(self.positions_key, (found["generation"], positions))

    def _load(self) -> dict | None:
        """The cache's entries for this query and the current generation (``"generation"``); None
        when nothing may be remembered (inside a transaction, or the cache fails)."""
        if connection.in_atomic_block:
            return None
        if self._found is None:
            try:
                found = cache.get_many([self.generation_key, self.count_key, self.positions_key])
                if found.get(self.generation_key) is None:
                    generation = uuid.uuid4().hex
                    if not cache.add(self.generation_key, generation, timeout=None):
                        generation = cache.get(self.generation_key)
                    found[self.generation_key] = generation
            except Exception:
                logger.exception("Could not read what is remembered of a query; computing it.")
                return None
            found["generation"] = found[self.generation_key]
            self._found = found
        return self._found if self._found["generation"] is not None else None

    def _store(self, key: str, value) -> None:
        try:
            cache.set(key, value, timeout=REMEMBER_TTL)
        except Exception:
            logger.exception("Could not remember a query's %s.", key.split(":")[1])
