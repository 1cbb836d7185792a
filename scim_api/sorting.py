"""``sortBy`` / ``sortOrder`` (RFC 7644 section 3.4.2.3), as one sort key per resource.

The key is annotated as ``scim_sort_key`` so that index paging and cursor paging (which resumes
after the last key it returned) order by the same thing, with the primary key as tie-breaker.
A multi-valued attribute sorts by its primary value (else its first). Unassigned values sort
last in ascending order and first in descending order.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from directory.db.functions import CaseFold
from scim_api.bindings import Binding, Identity, Metadata, Reference, binding_of
from scim_api.errors import InvalidValue
from scim_api.schema import ResourceType

SORT_KEY = "scim_sort_key"


@dataclass(frozen=True)
class Sort:
    descending: bool = False
    by: str | None = None  # the sortBy path as given; None sorts by id (creation order)

    def apply(self, queryset: QuerySet) -> QuerySet:
        if self.by is None:
            return queryset.order_by("-pk" if self.descending else "pk")
        key = F(SORT_KEY)
        ordered = key.desc(nulls_first=True) if self.descending else key.asc(nulls_last=True)
        return queryset.order_by(ordered, "-pk" if self.descending else "pk")


def parse_sort(resource_type: ResourceType, queryset: QuerySet, sort_by, sort_order) -> tuple[QuerySet, Sort]:
    """The queryset annotated with its sort key, and the Sort to order it by."""
    if sort_order not in (None, "") and (
        not isinstance(sort_order, str) or sort_order.lower() not in ("ascending", "descending")
    ):
        raise InvalidValue(f'sortOrder must be "ascending" or "descending", not {sort_order!r}.')
    descending = isinstance(sort_order, str) and sort_order.lower() == "descending"
    if sort_by in (None, ""):
        return queryset, Sort(descending=descending)
    if not isinstance(sort_by, str):
        raise InvalidValue("sortBy must be an attribute name.")
    path = resource_type.resolve(sort_by.strip())
    if path is None:
        raise InvalidValue(f"sortBy {sort_by!r} is not an attribute of {resource_type.name}.")
    target = path.target
    if target.returned == "never" or (
        path.attribute.type == "complex" and path.sub_attribute is None and not path.attribute.multi_valued
    ):
        raise InvalidValue(f"sortBy {sort_by!r} is not sortable; name a simple attribute or sub-attribute.")
    key = _key(binding_of(resource_type), path)
    return queryset.annotate(**{SORT_KEY: key}), Sort(descending=descending, by=str(path))


# The typed column of an extension attribute's rows that sorts it (directory/models/extensions.py).
_EXTENSION_COLUMNS = {"boolean": "flag", "integer": "number", "decimal": "number", "dateTime": "moment"}


def _key(binding: Binding, path):
    attribute, sub = path.attribute, path.sub_attribute
    if path.schema.tenant_defined:
        return _extension_key(binding, path)
    resolver = binding.resolver(attribute)
    if isinstance(resolver, Metadata):
        column = resolver.column(sub.name) if sub else None
        if column is None:
            raise InvalidValue(f"sortBy {path} is not sortable; sort by meta.created or meta.lastModified.")
        return F(column)
    if isinstance(resolver, Identity):
        return F(resolver.column)
    if attribute.multi_valued:
        values = binding.values
        if not attribute.field or values is None:
            raise InvalidValue(f"sortBy {path} is not sortable.")
        sortable = {None: "value_key", "value": "value_key"} | {
            name: values.columns[name] for name in ("display", "type") if name in values.columns
        }
        column = sortable.get(sub.name if sub else None)
        if column is None:
            raise InvalidValue(f"sortBy {path} is not sortable; sort by {attribute.name}.value.")
        elements = values.model._default_manager.filter(
            **{values.owner: OuterRef("pk"), values.attribute: attribute.field}
        )
        primary_first = elements.order_by("-primary", "position")
        value = Coalesce(column, "value", output_field=TextField()) if column == "value_key" else F(column)
        # An element without the sub-attribute (stored "") has no key: it sorts as unassigned.
        key = NullIf(value, Value(""), output_field=TextField())
        return Subquery(primary_first.annotate(k=key).values("k")[:1])
    if isinstance(resolver, Reference):
        return (
            NullIf(F(f"{resolver.field}__{resolver.display_key}"), Value(""))
            if sub and sub.name == "displayName"
            else F(resolver.column)
        )
    field = (sub or attribute).field
    if field is None:
        raise InvalidValue(f"sortBy {path} is not sortable.")
    if field in binding.key_columns:
        return NullIf(F(binding.key_columns[field]), Value(""))
    if (sub or attribute).type in ("string", "reference") and not (sub or attribute).case_exact:
        # SQLite's LOWER() folds ASCII only: "ÉMILE" and "émile" must tie there too.
        folded = CaseFold(field) if connection.vendor == "sqlite" else Lower(field)
        return NullIf(folded, Value(""))
    return NullIf(F(field), Value("")) if (sub or attribute).type == "string" else F(field)


def _extension_key(binding: Binding, path):
    """A tenant-defined extension attribute sorts by its value in its typed column (a string by
    its ``key``: casefolded unless caseExact); a multi-valued one by its first value; a complex one
    by the sub-attribute named, or its ``value``."""
    attribute, leaf = path.attribute, path.sub_attribute
    if attribute.type == "complex" and leaf is None:
        leaf = attribute.sub("value")
        if leaf is None:
            raise InvalidValue(f"sortBy {path} is not sortable; name one of its sub-attributes.")
    leaf = leaf or attribute
    model = binding.extension_values
    if model is None or leaf.type in ("binary", "complex"):
        raise InvalidValue(f"sortBy {path} is not sortable.")
    column = _EXTENSION_COLUMNS.get(leaf.type, "key" if leaf.type == "string" else "text")
    rows = model._default_manager.filter(
        tenant=OuterRef("tenant"), owner=OuterRef("pk"), attribute_id=leaf.declaration
    ).order_by("element")
    return Subquery(rows.values(column)[:1])
