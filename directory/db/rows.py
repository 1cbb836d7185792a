"""Rows: a queryset's columns as light named tuples, for the reads that render many resources.

A Django model instance per row costs more to build than PostgreSQL takes to send the row: a
list page of 100 users spent most of its time in ``Model.from_db``, field converters and JSON
decoding. A *row* is a named tuple whose names are the model's attribute names (``pk``,
``user_name``, ``emails``, ...) plus annotations, so that code written against ``user.emails``
reads a row the same way, and it is built with one ``tuple.__new__``.

On PostgreSQL the columns that are slow to convert arrive as the text a response needs
(``text_of``): ids as canonical UUID text, JSON as its text (decoded only when something must look
inside), timestamps as ISO 8601 UTC with microseconds (``iso_utc`` gives the same text from a
``datetime``). Elsewhere (SQLite) they arrive converted as usual, as UUID, list and datetime
objects; readers of rows accept both forms.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    DateTimeField,
    ExpressionWrapper,
    F,
    Field,
    Func,
    JSONField,
    Model,
    QuerySet,
    TextField,
    UUIDField,
)
from django.db.models.expressions import Combinable
from django.db.models.fields.related import RelatedField
from django.db.models.functions import Cast
from django.db.models.query import ValuesListIterable

from directory.db.literals import inline


def iso_utc(value: datetime | str) -> str:
    """``2024-01-31T12:00:00.000000Z``: the form ``IsoUtc`` selects, from a datetime (or as given)."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class IsoUtc(Func):
    """A timestamp column as ``iso_utc`` text, formatted by PostgreSQL."""

    template = "TO_CHAR(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = TextField()


def text_of(model: type[Model], name: str, vendor: str) -> Combinable:
    """The column of field ``name``, selected in the form a row carries it (see the module)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, Field), name  # a column, never a reverse relation
    column = F(field.attname)
    if isinstance(field, JSONField):
        # Django reads jsonb as text and decodes it in the field's converter: skip the converter.
        return ExpressionWrapper(column, output_field=TextField())
    if vendor != "postgresql":
        return column
    if isinstance(field, UUIDField) or (
        isinstance(field, RelatedField) and isinstance(field.target_field, UUIDField)
    ):
        return Cast(column, TextField())
    if isinstance(field, DateTimeField):
        return IsoUtc(column)
    return column


class Rows:
    """Named-tuple rows with the given names: ``pk``, then model fields (by attribute name), then
    annotations given as expressions. ``select(queryset)`` reads a queryset of the model as rows.
    Without ``text``, every field arrives as its Python value (for code that compares values)."""

    def __init__(
        self,
        model: type[Model],
        fields: tuple[str, ...],
        annotations: Mapping[str, Combinable],
        *,
        text: bool = True,
    ):
        self.model = model
        self.fields = fields
        self.annotations = annotations
        self.text = text
        names = ("pk", *fields, *annotations)
        # The names are known only at run time, and mypy types only namedtuples of literal names.
        base = namedtuple(f"{model.__name__}Row", names)  # type: ignore[misc]
        self.row = type(base.__name__, (base,), {"__slots__": (), "etag": property(_etag)})
        self.iterable = type("RowIterable", (RowIterable,), {"row": self.row})
        self._columns: dict[str | None, list[Combinable]] = {}  # per database vendor (None: values)
        self._sql: dict[str, str | None] = {}  # per database alias

    def select(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` as a queryset of rows (any database, filter, order and annotation)."""
        vendor = connections[queryset.db].vendor if self.text else None
        if vendor not in self._columns:
            names = ("pk", *self.fields)
            self._columns[vendor] = [text_of(self.model, n, vendor) if vendor else F(n) for n in names]
        selected = queryset.values_list(*self._columns[vendor], *self.annotations.values())
        selected._iterable_class = self.iterable
        return selected

    def of(self, queryset: QuerySet, *, searched: bool = False) -> RowQuery:
        """The rows of ``queryset``, to slice and read like a queryset; see ``RowQuery``."""
        return RowQuery(self, queryset, searched)

    def fetch(self, queryset: QuerySet, *, searched: bool = False) -> list:
        """The rows of ``queryset``, in its order (see ``RowQuery``)."""
        connection = connections[queryset.db]
        select_sql = self._select_sql(queryset.db) if connection.vendor == "postgresql" else None
        if select_sql is None:
            return list(self.select(queryset))
        try:
            ids_sql, params = _ids_sql(queryset, connection, searched)
        except EmptyResultSet:
            return []
        with connection.cursor() as cursor:
            cursor.execute(select_sql.replace("{ids}", ids_sql, 1), params)
            return as_rows(self.row, cursor.fetchall())

    def _select_sql(self, using: str) -> str | None:
        """``SELECT <the row's columns> FROM`` the resources whose ids a subquery gives, in its
        order (``{ids}`` stands for the subquery). The columns are compiled once: building them with
        the ORM costs more than PostgreSQL takes to run a page of 100. None when the columns need
        parameters or joins of their own (then every query is compiled whole)."""
        if using not in self._sql:
            compiler = self.select(self.model._default_manager.using(using)).query.get_compiler(using)
            compiler.setup_query()
            columns = [sql for _, (sql, params), _ in compiler.select if not params]
            joined = sum(1 for count in compiler.query.alias_refcount.values() if count) > 1
            if len(columns) != len(compiler.select) or joined:
                self._sql[using] = None
            else:
                table = compiler.quote_name_unless_alias(self.model._meta.db_table)
                pk = compiler.quote_name_unless_alias(self.model._meta.pk.column)
                self._sql[using] = (
                    f"SELECT {', '.join(columns).replace('%', '%%')} "  # noqa: S608 (compiled SQL, no values)
                    "FROM UNNEST(ARRAY({ids})) WITH ORDINALITY AS roster_page (id, n) "
                    f"JOIN {table} ON {table}.{pk} = roster_page.id ORDER BY roster_page.n"
                )
        return self._sql[using]


class RowQuery:
    """The rows of a queryset, read in one statement: on PostgreSQL the queryset's ids, in its
    order and slice (``ARRAY(SELECT id ...)``: the filter walks narrow index entries), joined to
    the row's columns, whose SQL was compiled once (``Rows._select_sql``); elsewhere
    ``Rows.select``. Sliced and iterated like a queryset."""

    def __init__(self, rows: Rows, queryset: QuerySet, searched: bool = False) -> None:
        self.rows = rows
        self.queryset = queryset
        self.searched = searched

    def __getitem__(self, bounds: slice) -> RowQuery:
        return RowQuery(self.rows, self.queryset[bounds], self.searched)

    def __iter__(self):
        return iter(self.rows.fetch(self.queryset, searched=self.searched))


def _ids_sql(queryset: QuerySet, connection, searched: bool) -> tuple[str, list]:
    """The SQL of the queryset's ids (PostgreSQL), written to be planned once and prepared where
    that serves (``inline``): a listing keeps its page (LIMIT, OFFSET, the id it starts after) as
    parameters, so all its pages are one statement; a search is planned for its values (a LIKE
    pattern decides which index serves it), so its text is all literal, and the same search run
    again reuses its plan."""
    query = queryset.values_list("pk", flat=True).query.chain()
    low, high = query.low_mark, query.high_mark
    if not searched:
        query.clear_limits()
    sql, params = query.get_compiler(queryset.db).as_sql()
    sql, params = inline(sql, list(params), connection, lambda p: searched or not isinstance(p, UUID))
    if not searched and high is not None:
        sql, params = f"{sql} LIMIT %s", [*params, high - low]
    if not searched and low:
        sql, params = f"{sql} OFFSET %s", [*params, low]
    return sql, params


def as_rows(row: type, values) -> list:
    """Rows of the class ``row`` from the value tuples a cursor fetched."""
    new = tuple.__new__
    return [new(row, v) for v in values]


def _etag(row) -> str:
    return f'W/"{row.version}"'


class RowIterable(ValuesListIterable):
    row: type

    def __iter__(self):
        new, row = tuple.__new__, self.row
        for values in super().__iter__():
            yield new(row, values)
