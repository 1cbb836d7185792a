"""Querysets compiled to SQL once per process, then run again with other parameter values.

For the hottest reads (a user by id, the user a PATCH locks) building the queryset and compiling
it costs more than the database takes to answer: the subqueries that read a user's groups in the
same statement alone take about a millisecond to compile, three times what PostgreSQL needs to run
the whole statement. A ``PreparedQuery`` builds its queryset once, from sample values of its
parameters, keeps the SQL, and notes where each sample went among the statement's parameters.
Each run puts the real values there and reads the rows: a queryset of rows (``directory.db.rows``)
as rows, with the converters its columns need; any other queryset with ``Model.objects.raw``, as
the same model instances, annotations as attributes (unconverted: JSON arrives as text).

The samples must be values no caller sends (fixed odd UUIDs, negative ids), and each must turn up
exactly once among the parameters; should one not (a queryset that folds a value into its SQL
text), the queryset is built on every run instead, which is slower but the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet

from directory.db.literals import inline
from directory.db.rows import RowIterable, as_rows

# How a value may appear among a compiled statement's parameters: as given, or as the 32 hex
# digits that UUIDField stores on databases without a uuid type (SQLite).
_FORMS: dict[str, Callable[[Any], Any]] = {
    "same": lambda value: value,
    "hex": lambda value: uuid.UUID(str(value)).hex,
}


class PreparedQuery:
    def __init__(self, build: Callable[..., QuerySet], **samples: Any) -> None:
        self.build = build
        self.samples = samples
        self._compiled: dict[str, _Compiled | None] = {}

    def run(self, using: str = "default", **values: Any) -> list:
        if using not in self._compiled:
            self._compiled[using] = self._compile(using)
        compiled = self._compiled[using]
        if compiled is None:
            return list(self.build(**values).using(using))
        params = [_FORMS[form](values[name]) if name else constant for name, form, constant in compiled.slots]
        if compiled.row is None:
            return list(compiled.model._default_manager.using(using).raw(compiled.sql, params))
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return as_rows(compiled.row, rows)

    def _compile(self, using: str) -> _Compiled | None:
        queryset = self.build(**self.samples)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        slots, seen = [], []
        for param in params:
            slot = next(
                (
                    (name, form, None)
                    for name, sample in self.samples.items()
                    for form, convert in _FORMS.items()
                    if _is(param, _safely(convert, sample))
                ),
                (None, None, param),
            )
            slots.append(slot)
            if slot[0]:
                seen.append(slot[0])
        if sorted(seen) != sorted(self.samples):
            return None
        sql, slots = _inline_constants(sql, slots, connections[using])
        compiled = _Compiled(model=queryset.model, sql=sql, slots=slots, compiler=compiler)
        if issubclass(queryset._iterable_class, RowIterable):
            compiled.row = queryset._iterable_class.row
            compiled.converters = compiler.get_converters(
                [s[0] for s in compiler.select[: compiler.col_count]]
            )
        return compiled


@dataclass
class _Compiled:
    model: type[Model]
    sql: str
    slots: list  # (sample name, form, None) for a sample's place, (None, None, value) for a constant
    compiler: Any
    row: type | None = None  # the row class of a queryset of rows; None: model instances
    converters: dict = field(default_factory=dict)


def _inline_constants(sql: str, slots: list, connection) -> tuple[str, list]:
    """The statement with its constant parameters (``state <> 'deleted'``) written into its text,
    leaving only the samples' places as parameters (see ``inline``)."""
    if connection.vendor != "postgresql":
        return sql, slots
    return inline(
        sql,
        slots,
        connection,
        written=lambda slot: slot[0] is None and isinstance(slot[2], str | int),
        literal=lambda slot: slot[2],
    )


def _safely(convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        return convert(value)
    except (TypeError, ValueError, AttributeError):
        return _NOTHING


_NOTHING = object()


def _is(param: Any, candidate: Any) -> bool:
    return candidate is not _NOTHING and type(param) is type(candidate) and param == candidate
