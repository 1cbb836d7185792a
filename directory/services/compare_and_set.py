"""Writing a row over the version it was read at, together with its audit event.

Services that change a user read it, work out the change, and write it only if the row still has
the version they read (optimistic concurrency): a write that lost a race to another is not
applied, and the service reads again and works the change out anew, so no write ever lands on a
state it did not see. ``update_if_unchanged`` sets the values, bumps ``version`` and appends the
audit event, all or nothing:

- on PostgreSQL in one statement, ``WITH updated AS (UPDATE ... WHERE version = %s RETURNING 1)
  INSERT INTO <audit> SELECT ... FROM updated``: atomic without a transaction of its own, one
  round trip where ``BEGIN``, ``UPDATE``, ``INSERT`` and ``COMMIT`` took four;
- elsewhere, or when the write has more to do (``also``: rewrite derived rows), in a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model

from directory.models import AuditEvent, Tenant
from directory.query_memory import data_changed


def update_if_unchanged(
    model: type[Model],
    *,
    tenant: Tenant,
    pk: Any,
    version: int,
    values: dict[str, Any],
    event: AuditEvent,
    also: Callable[[], None] | None = None,
) -> bool:
    """Set ``values`` (by attribute name) and ``version + 1`` on the row ``pk`` if its version is
    still ``version``, run ``also`` and save ``event`` with it; False, writing nothing, when the
    row has another version by now (or is gone)."""
    if connection.vendor == "postgresql" and also is None:
        names = tuple(values)
        params = [_prepared(model, name, value) for name, value in values.items()]
        params += [_prepared(model, "pk", pk), version]
        params += [field.get_db_prep_save(getattr(event, field.attname), connection) for field in _audited()]
        # Inside a caller's transaction a failing statement (a taken userName) would abort it
        # whole: a savepoint keeps the failure to this write, as a write of its own would.
        savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
        with savepoint, connection.cursor() as cursor:
            cursor.execute(_update_with_event_sql(model, names), params)
            written = cursor.fetchone() is not None
    else:
        with transaction.atomic():
            unchanged = model.objects.filter(pk=pk, version=version)
            written = bool(unchanged.update(**values, version=F("version") + 1))
            if written:
                if also is not None:
                    also()
                event.save()
    if written:
        data_changed(tenant)
    return written


def _prepared(model: type[Model], name: str, value: Any) -> Any:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return field.get_db_prep_save(value, connection)


@cache
def _audited() -> tuple:
    """The audit event's columns but its id (the database numbers the events)."""
    return tuple(field for field in AuditEvent._meta.concrete_fields if not field.primary_key)


@cache
def _update_with_event_sql(model: type[Model], names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    version = quote(model._meta.get_field("version").column)
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in names)
    columns = ", ".join(quote(field.column) for field in _audited())
    # Typed: in a SELECT list a parameter has no column to take its type from.
    typed = ", ".join(f"%s::{field.db_type(connection)}" for field in _audited())
    return (
        f"WITH roster_updated AS (UPDATE {table} SET {assignments}, {version} = {version} + 1 "  # noqa: S608
        f"WHERE {pk} = %s AND {version} = %s RETURNING 1) "
        f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) SELECT {typed} FROM roster_updated "
        f"RETURNING {quote(AuditEvent._meta.pk.column)}"
    )
