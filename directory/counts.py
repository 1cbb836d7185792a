"""Counting a tenant's query results, remembered until the tenant's directory next changes.

A SCIM list response carries ``totalResults``, and counting every match of a filter (or every user
of a 100,000-user directory) costs more than reading the page itself. An identity provider pages
through one query page after page, and admins re-run the same searches, so a count is kept in the
shared cache under its query, together with the tenant's *generation*: a random token that every
committed write to the tenant's data replaces (``data_changed``, called by ``audit_record``, which
every write service calls inside its transaction). A count is used only while the generation it
was taken under is still the tenant's current one, so a total is never older than the last write
that committed before the request began, and is exact, not estimated.

A random token rather than a counter: replacing it needs no atomic increment (the file-based cache
of the embedded default has none), and a token that was evicted and set again never repeats an
old value. Counts are not kept inside a transaction (the generation of data this transaction has
not committed yet does not exist), and a failing cache only makes every request count again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)

COUNT_TTL = 300  # seconds; bounds the staleness should a generation change itself fail to be stored


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
            logger.exception("Could not store a new data generation; list totals may lag %ss.", COUNT_TTL)


def data_changed(tenant) -> None:
    """Call inside a write's transaction: on commit, the tenant's remembered counts are void."""
    key = _generation_key(tenant)
    if connection.in_atomic_block:
        pending = connection.run_on_commit
        if any(isinstance(f, _NewGeneration) and f.key == key for _, f, _ in pending):
            return
    transaction.on_commit(_NewGeneration(key))


def count(queryset: QuerySet, *, tenant, query: tuple) -> int:
    """``queryset.count()``, from the cache while the tenant's data has not changed since.
    ``query`` names what ``queryset`` selects (resource type, filter text)."""
    if connection.in_atomic_block:
        return queryset.count()
    generation_key = _generation_key(tenant)
    count_key = "roster:count:" + hashlib.sha256(repr((generation_key, *query)).encode()).hexdigest()
    try:
        found = cache.get_many([generation_key, count_key])
    except Exception:
        logger.exception("Could not read remembered counts; counting.")
        return queryset.count()
    generation = found.get(generation_key)
    remembered = found.get(count_key)
    if generation is not None and isinstance(remembered, tuple) and remembered[0] == generation:
        return remembered[1]
    if generation is None:
        generation = uuid.uuid4().hex
        try:
            if not cache.add(generation_key, generation, timeout=None):
                generation = cache.get(generation_key)
        except Exception:
            logger.exception("Could not store a data generation; counting.")
            return queryset.count()
    total = queryset.count()
    try:
        cache.set(count_key, (generation, total), timeout=COUNT_TTL)
    except Exception:
        logger.exception("Could not remember a count.")
    return total
