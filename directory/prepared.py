"""Querysets compiled to SQL once per process, then run again with other parameter values.

For the hottest reads (a user by id, the user a PATCH locks) building the queryset and compiling
it costs more than the database takes to answer: the subqueries that read a user's groups in the
same statement alone take about a millisecond to compile, three times what PostgreSQL needs to run
the whole statement. A ``PreparedQuery`` builds its queryset once, from sample values of its
parameters, keeps the SQL, and notes where each sample went among the statement's parameters.
Each run puts the real values there and reads the rows with ``Model.objects.raw``: the same
columns, the same model instances, annotations as attributes (unconverted: JSON arrives as text).

The samples must be values no caller sends (fixed odd UUIDs, negative ids), and each must turn up
exactly once among the parameters; should one not (a queryset that folds a value into its SQL
text), the queryset is built on every run instead, which is slower but the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

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
        self._compiled: dict[str, tuple[str, list] | None] = {}

    def run(self, using: str = "default", **values: Any) -> list:
        if using not in self._compiled:
            self._compiled[using] = self._compile(using)
        compiled = self._compiled[using]
        if compiled is None:
            return list(self.build(**values).using(using))
        sql, slots = compiled
        params = [_FORMS[form](values[name]) if name else constant for name, form, constant in slots]
        return list(self.model.objects.using(using).raw(sql, params))

    def _compile(self, using: str) -> tuple[str, list] | None:
        queryset = self.build(**self.samples)
        self.model = queryset.model
        sql, params = queryset.query.get_compiler(using).as_sql()
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
        return sql, slots


def _safely(convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        return convert(value)
    except (TypeError, ValueError, AttributeError):
        return _NOTHING


_NOTHING = object()


def _is(param: Any, candidate: Any) -> bool:
    return candidate is not _NOTHING and type(param) is type(candidate) and param == candidate
