"""Writes together with their audit event, all or nothing, on PostgreSQL in one statement.

- ``update_if_unchanged``: services that change a user read it, work out the change, and write it
  only if the row still has the version they read (optimistic concurrency): a write that lost a
  race to another is not applied, and the service reads again and works the change out anew, so
  no write ever lands on a state it did not see. It sets the values, bumps ``version`` and
  appends the audit event.
- ``insert_unless_taken``: a new row, the rows derived from it, and its audit event, unless a
  unique key the row would take is taken (then nothing, and no error that would abort the
  caller's transaction).

On PostgreSQL each is one statement, the writes chained in a WITH (``WITH updated AS (UPDATE ...
RETURNING 1) INSERT INTO <audit> SELECT ... FROM updated``): atomic without a transaction of its
own, one round trip where ``BEGIN``, the statements and ``COMMIT`` took one each. Elsewhere, or
when the write has more to do (``also``: rewrite derived rows), in a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from django.db import connection, models, transaction
from django.db.models import F, Field, Model

from directory.models import AuditEvent


def update_if_unchanged(
    model: type[Model],
    *,
    pk: Any,
    version: int,
    values: dict[str, Any],
    event: AuditEvent,
    also: Callable[[], None] | None = None,
    may_conflict: bool = True,
    outbox: type[Model] | None = None,
) -> bool:
    """Set ``values`` (by attribute name) and ``version + 1`` on the row ``pk`` if its version is
    still ``version``, run ``also`` and save ``event`` with it; False, writing nothing, when the
    row has another version by now (or is gone). ``may_conflict``: the values may break a unique
    index (the caller then handles the IntegrityError inside its own transaction). ``outbox``: a
    model of (tenant_id, user_id, event_id) rows, one of which is written too, naming the event
    (``PendingDeactivation``)."""
    if connection.vendor == "postgresql" and also is None:
        names = tuple(values)
        params = [_prepared(model, name, value) for name, value in values.items()]
        params += [_prepared(model, "pk", pk), version, _record(event)]
        if outbox is not None:
            params.append(_prepared(model, "pk", pk))
        # Inside a caller's transaction a failing statement (a taken userName) would abort it
        # whole: a savepoint keeps the failure to this write, as a write of its own would.
        # A write that cannot break one (a deactivation) needs no savepoint: two round trips less.
        savepoint = transaction.atomic() if connection.in_atomic_block and may_conflict else nullcontext()
        with savepoint, connection.cursor() as cursor:
            cursor.execute(_update_with_event_sql(model, names, outbox), params)
            return cursor.fetchone() is not None
    with transaction.atomic():
        unchanged = model._default_manager.filter(pk=pk, version=version)
        written = bool(unchanged.update(**values, version=F("version") + 1))
        if written:
            if also is not None:
                also()
            event.save()
            if outbox is not None:
                outbox._default_manager.create(tenant_id=event.tenant_id, user_id=pk, event_id=event.pk)
    return written


def insert_unless_taken(
    instance: Model, *, conflict: str, derived: Sequence[Sequence[Model]], event: AuditEvent
) -> bool:
    """Insert ``instance`` (its primary key set), the ``derived`` rows (lists, each of one model)
    and ``event``; on PostgreSQL, nothing when the unique index ``conflict`` names (an ON CONFLICT
    target) already holds the instance's key, and False. Elsewhere that is an IntegrityError."""
    derived = [rows for rows in derived if rows]
    if connection.vendor != "postgresql":
        with transaction.atomic():
            instance.save(force_insert=True)
            for rows in derived:
                type(rows[0])._default_manager.bulk_create(rows)
            event.save()
        return True
    models = tuple(type(rows[0]) for rows in derived)
    params = [_record(instance), *(_record_set(rows) for rows in derived), _record(event)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(type(instance), conflict, models), params)
        return cursor.fetchone() is not None


def insert_with_events(instance: Model, events: Sequence[AuditEvent], *, reference: str) -> None:
    """Insert ``instance`` (its automatic primary key numbered by the database, and set on it) and
    ``events`` about it, each naming it under ``changes[reference]``: on PostgreSQL one statement
    prepared once, elsewhere a save and a bulk insert."""
    if connection.vendor != "postgresql":
        instance.save(force_insert=True)
        for event in events:
            event.changes[reference] = instance.pk
        AuditEvent.objects.bulk_create(events)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_with_events_sql(type(instance), reference), [_record(instance), _record_set(events)]
        )
        instance.pk = cursor.fetchone()[0]
    instance._state.adding, instance._state.db = False, connection.alias
    for event in events:
        event.changes[reference] = instance.pk


@cache
def _insert_with_events_sql(model: type[Model], reference: str) -> str:
    quote = connection.ops.quote_name
    audit, pk = quote(AuditEvent._meta.db_table), quote(_column(model, "pk"))
    columns = ", ".join(quote(f.column) for f in _columns(AuditEvent))
    named = (  # each event's changes, with the new row's id under ``reference``
        f"SELECT jsonb_agg(jsonb_set(e, '{{changes,{reference}}}', to_jsonb(roster_inserted.{pk}))) "  # noqa: S608
        "FROM jsonb_array_elements(%s::jsonb) AS e, roster_inserted"
    )
    return (
        f"WITH roster_inserted AS ({_insert_records(model, 'jsonb_populate_record')} RETURNING {pk}), "  # noqa: S608
        f"roster_events AS (INSERT INTO {audit} ({columns}) SELECT {columns} "
        f"FROM jsonb_populate_recordset(NULL::{audit}, ({named})) AS r) "
        f"SELECT {pk} FROM roster_inserted"
    )


@cache
def _insert_sql(model: type[Model], conflict: str, derived: tuple[type[Model], ...]) -> str:
    """One constant statement per shape, whatever the values: rows arrive as JSON and become
    records in PostgreSQL (``jsonb_populate_record``), so it is prepared once, and parsed once."""
    sql = f"WITH roster_inserted AS ({_insert_records(model, 'jsonb_populate_record')} "
    sql += f"ON CONFLICT {conflict} DO NOTHING RETURNING 1)"
    for number, derived_model in enumerate(derived):
        rows = _insert_records(derived_model, "jsonb_populate_recordset", "roster_inserted")
        sql += f", roster_derived_{number} AS ({rows})"
    return sql + _event_sql("roster_inserted")


def _insert_records(model: type[Model], function: str, after: str | None = None) -> str:
    """``INSERT INTO <model> SELECT <columns> FROM <function>(NULL::<table>, %s)``, for each row of
    ``after`` (a WITH query) if given. The database numbers rows without a primary key set."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in _columns(model))
    source = f"{function}(NULL::{table}, %s::jsonb) AS r" + (f", {after}" if after else "")
    return f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}"  # noqa: S608


@cache
def _columns(model: type[Model]) -> tuple:
    """The columns a row is written with: all, but an automatic primary key."""
    return tuple(
        f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))
    )


def _record(instance: Model) -> str:
    """The instance's columns as a JSON object (orjson writes UUIDs, times and JSON values as
    PostgreSQL's record input reads them; a Decimal goes as its text, which numeric reads exactly)."""
    return orjson.dumps(_columns_of(instance), default=_decimal_text).decode()


def _record_set(instances: Sequence[Model]) -> str:
    return orjson.dumps([_columns_of(instance) for instance in instances], default=_decimal_text).decode()


def _decimal_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _columns_of(instance: Model) -> dict[str, Any]:
    return {f.column: getattr(instance, f.attname) for f in _columns(type(instance))}


def _prepared(model: type[Model], name: str, value: Any) -> Any:
    return _field(model, name).get_db_prep_save(value, connection)


def _field(model: type[Model], name: str) -> Field:
    """The model's field ``name`` (or its primary key, ``pk``): a column, never a reverse relation."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field


def _column(model: type[Model], name: str) -> str:
    column = _field(model, name).column
    assert column is not None, name  # None only for a field without a column of its own
    return column


@cache
def _update_with_event_sql(
    model: type[Model], names: tuple[str, ...], outbox: type[Model] | None = None
) -> str:
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(_column(model, "pk"))
    version = quote(_column(model, "version"))
    assignments = ", ".join(f"{quote(_column(model, name))} = %s" for name in names)
    updated = (
        f"WITH roster_updated AS (UPDATE {table} SET {assignments}, {version} = {version} + 1 "  # noqa: S608
        f"WHERE {pk} = %s AND {version} = %s RETURNING 1)"
    )
    if outbox is None:
        return updated + _event_sql("roster_updated")
    event = _insert_records(AuditEvent, "jsonb_populate_record", "roster_updated")
    return (
        f"{updated}, roster_event AS ({event} RETURNING id, tenant_id) "  # noqa: S608
        f"INSERT INTO {quote(outbox._meta.db_table)} (tenant_id, user_id, event_id) "
        "SELECT tenant_id, %s::uuid, id FROM roster_event RETURNING 1"
    )


@cache
def _event_sql(written: str) -> str:
    """`` INSERT INTO <audit> SELECT <the event> FROM <written>``: the event, if ``written`` (a
    WITH query) returned a row."""
    return f" {_insert_records(AuditEvent, 'jsonb_populate_record', written)} RETURNING 1"
