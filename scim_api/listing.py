"""List queries: one selector per query over the SCIM parameters, shared by every caller.

``resource_list`` answers ``GET /Users``, ``POST /Users/.search`` (the same parameters in a body,
RFC 7644 section 3.4.3) and the administrators' lists alike: it owns the filter, the sort, the
lookup shortcut, the totals remembered between requests (``directory.db.query_memory``) and both
kinds of paging (``scim_api.paging``); ``resources_search`` answers ``POST /.search`` over every
resource type. They return resources as the handler reads them, not documents: rendering is the
caller's. A parameter is read and refused alike wherever it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db.models import QuerySet

from directory.db.query_memory import QueryMemory
from directory.models import Tenant
from scim_api.errors import InvalidFilter, InvalidValue
from scim_api.filters import column_equality, filtered
from scim_api.paging import cursor_page, index_page, page_bounds, wants_cursor
from scim_api.projection import Projection
from scim_api.sorting import Sort, parse_sort


@dataclass
class ResourceList:
    """One page of a list query: with index paging ``start_index`` is set (RFC 7644 section
    3.4.2.4); with cursor paging it is None and the cursors are set except at either end (RFC 9865
    section 2). ``items`` pairs each resource with the handler that renders it."""

    total: int
    items: list[tuple[Any, Any]] = field(default_factory=list)
    start_index: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None


def filter_text(params) -> str | None:
    """The ``filter`` parameter; refused unless a string (a .search body may hold anything)."""
    text = params.get("filter")
    if text not in (None, "") and not isinstance(text, str):
        raise InvalidFilter("filter must be a string.")
    return text or None


def resource_queryset(*, tenant: Tenant, handler, params) -> tuple[QuerySet, Sort]:
    """The tenant's resources of ``handler``'s type that the filter selects, annotated with the
    sort key, and the Sort to order them by."""
    text = filter_text(params)
    queryset = handler.queryset(tenant)
    resource_type = handler.type_for(tenant)
    if text:
        queryset = filtered(resource_type, text, tenant=tenant, queryset=queryset)
    return parse_sort(resource_type, queryset, params.get("sortBy"), params.get("sortOrder"))


def resource_list(*, tenant: Tenant, handler, params, projection: Projection) -> ResourceList:
    """One page of the tenant's resources of ``handler``'s type that ``params`` ask for. Index
    paging unless the request has a cursor, empty for the first page (RFC 9865 section 2.4: index
    stays the default)."""
    text = filter_text(params)
    found = _column_lookup(tenant, handler, text, params, projection)
    if found is not None:
        return found
    queryset, sort = resource_queryset(tenant=tenant, handler=handler, params=params)
    memory = QueryMemory(tenant, (handler.resource_type.name, text or ""))
    if wants_cursor(params):
        scope = (str(tenant.pk), handler.resource_type.name, text or "")
        # A cursor holds the last resource's sort key: its rows must carry it.
        readable = partial(
            handler.readable, projection=projection, sort_key=sort.by is not None, searched=bool(text)
        )
        cursor = cursor_page(queryset, sort, params, scope=scope, total_of=memory.count, readable=readable)
        return ResourceList(
            total=cursor.total,
            items=[(handler, item) for item in cursor.items],
            next_cursor=cursor.next_cursor,
            previous_cursor=cursor.previous_cursor,
        )
    page = index_page(
        sort.apply(queryset),
        params,
        total_of=memory.count,
        readable=partial(handler.readable, projection=projection, searched=bool(text)),
        positions=memory if sort.by is None and not sort.descending else None,
    )
    return ResourceList(
        total=page.total, items=[(handler, item) for item in page.items], start_index=page.start_index
    )


def _column_lookup(tenant, handler, text, params, projection) -> ResourceList | None:
    """The first page of ``filter=<attribute> eq "<value>"`` on a column (``column_equality``),
    unsorted, read by the handler's prepared query: the lookup identity providers send before
    every write, in one statement that needs no compiling. None when the request is not that, or
    its page is full (then totalResults needs counting, and the general path does it)."""
    if not text or not hasattr(handler, "find") or wants_cursor(params):
        return None
    if params.get("sortBy") not in (None, "") or params.get("sortOrder") not in (None, ""):
        return None
    start, count = page_bounds(params)
    equality = column_equality(projection.resource_type, text) if start == 1 and count else None
    if equality is None:
        return None
    items = handler.find(tenant, *equality, count=count, projection=projection)
    if items is None or len(items) >= count:
        return None
    return ResourceList(total=len(items), items=[(handler, item) for item in items], start_index=1)


def resources_search(*, tenant: Tenant, handlers, params) -> tuple[ResourceList, dict]:
    """``POST /.search``: every resource type at once, in the order of ``handlers`` (reversed,
    each newest first, with "sortOrder": "descending"); and the projection of each handler. A
    filter attribute that a type does not have matches none of that type's resources (RFC 7644
    section 3.4.3); one that no type has is refused."""
    if params.get("sortBy") or params.get("cursor") is not None:
        raise InvalidValue(
            "sortBy and cursor apply to one resource type: use /Users/.search or /Groups/.search."
        )
    start, count = page_bounds(params)
    searched, unknown, projections = [], [], {}
    sort = Sort()
    for handler in handlers:
        projections[handler] = Projection.of(handler.type_for(tenant), params)
        try:
            queryset, sort = resource_queryset(tenant=tenant, handler=handler, params=params)
        except InvalidFilter as error:
            if "is not an attribute of" not in error.detail:
                raise
            unknown.append(error)
            continue
        searched.append((handler, sort.apply(queryset)))
    if unknown and len(unknown) == len(handlers):
        raise InvalidFilter(f"No resource type has that attribute: {'; '.join(e.detail for e in unknown)}")
    if sort.descending:
        searched.reverse()
    found = ResourceList(total=0, start_index=start)
    skip = start - 1
    for handler, queryset in searched:
        matched = queryset.count()
        found.total += matched
        take = max(0, min(count - len(found.items), matched - skip))
        if take:
            readable = handler.readable(queryset, projections[handler], searched=True)
            found.items += [(handler, item) for item in readable[skip : skip + take]]
        skip = max(0, skip - matched)
    return found, projections
