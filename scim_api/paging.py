"""Paging of list responses, by index and by cursor.

Index-based paging (RFC 7644 section 3.4.2.4): startIndex is 1-based, count is the page size. It is
the default: RFC 9865 section 2.4, "Implementers of SCIM service providers that previously supported
only index-based pagination and are adding support for cursor-based pagination should use index as
the default pagination method".

Cursor-based paging (RFC 9865) is keyset ("seek") paging, never OFFSET: a cursor holds the position
(sort key and id) of the last (or first) resource of the page it came with, and the next page is the
``count`` resources strictly after (or before) that position, in the very order index paging uses
(``sorting.Sort.apply``). A walk over a directory that changes while it is walked thus returns every
resource that exists, unchanged, for the whole walk exactly once.

Cursors are signed with Django's signing (``TimestampSigner``, a salt of their own, SECRET_KEY and its
fallbacks), so they cannot be forged or altered; they are not encrypted, and hold nothing the caller
may not read (a sort value of a resource it was just sent, and an id). Each is bound to the query it
belongs to (tenant, resource type, filter, sortBy, sortOrder: a digest of these) and to its count, and
is valid for ``cursor_timeout()`` seconds after it was issued.
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn, Protocol
from uuid import UUID

from django.conf import settings
from django.core import signing
from django.db import connections
from django.db.models import F, Q, QuerySet

from scim_api.errors import ExpiredCursor, InvalidCount, InvalidCursor, InvalidValue, shown
from scim_api.sorting import SORT_KEY, Sort

logger = logging.getLogger(__name__)

MAX_START_INDEX = 10**9

CURSOR_SALT = "roster.scim_api.paging.cursor"
# RFC 9865 section 2, Table 1: a cursor "may only contain characters from the unreserved characters
# set defined in section 2.3 of [RFC3986]". Base64url and this separator are all unreserved.
CURSOR_SEPARATOR = "."
MAX_CURSOR_LENGTH = 2048
_CURSOR_FORMAT = 1
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")
_INTEGER = re.compile(r"\s*(?P<sign>[-+]?)0*(?P<digits>[0-9]+)\s*", re.ASCII)
# An integer parameter with more digits than this is beyond every page size and position: it is
# read as this many nines, with its sign, rather than handed to int() (which refuses 4,300 digits).
_SATURATED_DIGITS = 18
# One message for every refused cursor, forged, altered or another query's (or tenant's): RFC 9865
# section 5.2, a request "outside their authorized scope, or ... for a non-existent page" gets
# "identical error messages". The reason is logged instead.
INVALID_CURSOR_DETAIL = (
    "cursor is not a cursor this server issued for this query. Send an empty cursor (cursor=) for the "
    "first page, then the nextCursor or previousCursor of the previous response, with filter, sortBy, "
    "sortOrder and count unchanged."
)


@dataclass
class Page:
    total: int
    start_index: int
    items: list


def integer_value(raw) -> int | None:
    """A paging parameter as an integer: a JSON integer, or ASCII digits with an optional sign
    (a query string's); None for anything else (a decimal, a boolean, "٣")."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    match = _INTEGER.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        return None
    digits = match["digits"]
    value = int(digits) if len(digits) <= _SATURATED_DIGITS else int("9" * _SATURATED_DIGITS)
    return -value if match["sign"] == "-" else value


def _integer(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    value = integer_value(raw)
    if value is None:
        raise InvalidValue(f"{name} must be an integer, not {shown(raw)}.")
    return value


def page_bounds(params) -> tuple[int, int]:
    """(startIndex, count) as RFC 7644 reads them: below 1 is 1, negative count is 0, and count
    is capped at the advertised maximum page size."""
    start = min(max(_integer(params, "startIndex", 1), 1), MAX_START_INDEX)
    count = _integer(params, "count", settings.SCIM_DEFAULT_PAGE_SIZE)
    return start, min(max(count, 0), settings.SCIM_MAX_PAGE_SIZE)


# A page deeper than this, in pk order, starts from a remembered position (``Positions``): the pk
# of the row before every POSITION_STRIDE-th offset of the query. A page at offset 50,000 then
# seeks to the pk remembered for 50,000 and skips at most POSITION_STRIDE rows, and walking a whole
# directory page by page costs O(rows) rather than O(rows²). Positions not yet known are found in
# one pass from the nearest known one, no further than OFFSET would have gone.
POSITION_STRIDE = 1000


class Positions(Protocol):
    def positions(self) -> dict[int, Any]: ...

    def remember_positions(self, positions: dict[int, Any]) -> None: ...


def _count(queryset: QuerySet) -> int:
    return queryset.count()


def _as_is(queryset: QuerySet) -> QuerySet:
    return queryset


def index_page(
    queryset: QuerySet,
    params,
    *,
    total_of: Callable[[QuerySet], int] = _count,
    readable: Callable[[QuerySet], QuerySet] = _as_is,
    positions: Positions | None = None,
) -> Page:
    """One page by startIndex and count. The page is read first: a page shorter than count is the
    last one, which tells totalResults without counting (a userName lookup: one statement).
    ``readable`` reads the rows with what rendering them needs (users: the page's ids from the
    index, then their rows, in one statement); ``total_of`` counts; ``positions`` is where to
    remember page starts of a query ordered by pk alone."""
    start, count = page_bounds(params)
    offset = start - 1
    items: list = []
    if count:
        rows: QuerySet | None
        rows, skip = queryset, offset
        if positions is not None and offset >= POSITION_STRIDE:
            rows, skip = _from_position(queryset, offset, positions)
        items = list(readable(rows)[skip : skip + count]) if rows is not None else []
    if items and len(items) < count:
        return Page(total=offset + len(items), start_index=start, items=items)
    if not items and count and offset == 0:
        return Page(total=0, start_index=start, items=[])
    return Page(total=total_of(queryset), start_index=start, items=items)


def _from_position(queryset: QuerySet, offset: int, memory: Positions) -> tuple[QuerySet | None, int]:
    """The rows of ``queryset`` (in pk order) after the remembered position nearest below
    ``offset``, and how many of them to skip; None when the query has fewer rows than that."""
    known = memory.positions()
    target = offset // POSITION_STRIDE * POSITION_STRIDE
    if target not in known:
        nearest = max((n for n in known if n < target), default=0)
        found = _positions_after(queryset, nearest, known.get(nearest), target)
        if found:
            known |= found
            memory.remember_positions(known)
        if target not in known:
            return None, 0
    return queryset.filter(pk__gt=known[target]), offset - target


def _positions_after(queryset: QuerySet, start: int, start_pk, target: int) -> dict[int, Any]:
    """``{n: pk}`` for every POSITION_STRIDE-th offset ``n`` in (start, target]: the pk of the row
    just before offset ``n``, read in one statement over the rows between the two offsets."""
    rows = queryset if start_pk is None else queryset.filter(pk__gt=start_pk)
    sql, params = rows.order_by("pk").values(position=F("pk"))[: target - start].query.sql_with_params()
    stride = (
        "SELECT t.position FROM (SELECT s.position, ROW_NUMBER() OVER (ORDER BY s.position) AS n "  # noqa: S608
        f"FROM ({sql}) s) t WHERE t.n %% {POSITION_STRIDE:d} = 0 ORDER BY t.n"
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(stride, params)
        pks = [str(row[0]) for row in cursor.fetchall()]
    return {start + POSITION_STRIDE * (i + 1): pk for i, pk in enumerate(pks)}


# Cursor-based paging (RFC 9865).


@dataclass
class CursorPage:
    total: int
    items: list
    next_cursor: str | None = None
    previous_cursor: str | None = None


@dataclass(frozen=True)
class _Cursor:
    forward: bool
    position: tuple | None  # (sort key, pk) of the resource the page starts after / ends before
    first: bool = False  # the empty cursor: the first page


def cursor_timeout() -> int:
    """cursorTimeout (RFC 9865 section 4): "the minimum number of seconds that a cursor is valid
    between page requests"."""
    return settings.SCIM_CURSOR_TIMEOUT


def wants_cursor(params) -> bool:
    """Whether the request asks for cursor paging: it has a cursor parameter, empty for the first
    page (RFC 9865 section 2: "GET /Users?filter=...&cursor&count=10"; section 3: ``"cursor": ""`` in
    a POST .search body). Without one, index paging is the default (section 2.4)."""
    return params.get("cursor") is not None


def cursor_count(params) -> int:
    """count for cursor paging. RFC 9865 section 2, Table 1: "A negative value SHALL be interpreted as
    "0". A value of "0" indicates that no resource results are to be returned except for
    "totalResults"... If unspecified, the maximum number ... is set by the service provider".
    Section 2.1, Table 3, invalidCount: "Count value must be between 0 and service provider's
    maxPageSize", so a larger count is refused rather than silently cut, unlike index paging."""
    raw = params.get("count")
    limit = settings.SCIM_MAX_PAGE_SIZE
    if raw is None or raw == "":
        return min(settings.SCIM_DEFAULT_PAGE_SIZE, limit)
    value = integer_value(raw)
    if value is None:
        raise InvalidCount(f"count must be an integer from 0 to {limit} (maxPageSize), not {shown(raw)}.")
    value = max(value, 0)
    if value > limit:
        raise InvalidCount(
            f"count {shown(raw)} is more than maxPageSize {limit}: ask for at most {limit} resources a page."
        )
    return value


def cursor_page(
    queryset: QuerySet,
    sort: Sort,
    params,
    *,
    scope: tuple[str, ...],
    total_of: Callable[[QuerySet], int] = _count,
    readable: Callable[[QuerySet], QuerySet] = _as_is,
) -> CursorPage:
    """One page of a cursor-paged query (RFC 9865 section 2).

    ``queryset`` is filtered and annotated (``parse_sort``) but not yet ordered; ``sort`` orders it;
    ``scope`` is what else the cursor belongs to (tenant, resource type, filter text).

    - The empty cursor asks for the first page (Table 1: "MUST be empty or omitted for the first
      request"), which never carries a previousCursor (Table 2: "previousCursor MUST not be returned
      with the first page").
    - nextCursor is given "in all paged query responses except when returning the last page"
      (Table 2): one row more than count is read to know. previousCursor (OPTIONAL) is given when a
      resource precedes the page; it seeks backwards: reversed order, count rows, reversed back.
    - totalResults stays: section 2, providers "should return an accurate value for totalResults".
    - count 0 returns totalResults alone, and no cursor (a page of nothing leads nowhere).
    - A cursor with startIndex is refused: section 2.4 has clients "use the 'startIndex' or
      'cursor' query parameters to request a specific method"; both at once ask for two.
    """
    if params.get("startIndex") not in (None, ""):
        raise InvalidValue(
            "startIndex asks for index-based paging and cursor for cursor-based paging (RFC 9865 "
            "section 2.4): send one or the other."
        )
    count = cursor_count(params)
    query = _query_digest(scope, sort)
    raw = params.get("cursor")
    cursor = _Cursor(forward=True, position=None, first=True) if raw == "" else _read(raw, query, count)
    total = total_of(queryset)
    if count == 0:
        return CursorPage(total=total, items=[])

    more_after = more_before = False
    if cursor.forward:
        rows = list(readable(sort.apply(_seek(queryset, sort, cursor.position, after=True)))[: count + 1])
        items, more_after = rows[:count], len(rows) > count
    else:
        backwards = Sort(descending=not sort.descending, by=sort.by)
        before = _seek(queryset, sort, cursor.position, after=False)
        rows = list(readable(backwards.apply(before))[: count + 1])
        items, more_before = rows[:count][::-1], len(rows) > count

    page = CursorPage(total=total, items=items)
    if not items:
        # Past one end of the results (every resource beyond the cursor was deleted since it was
        # issued): the way back is the page at that end, if there is anything at all.
        if cursor.forward and not cursor.first and total:
            page.previous_cursor = _issue(query, count, forward=False, position=None)
        elif not cursor.forward and total:
            page.next_cursor = _issue(query, count, forward=True, position=None)
        return page
    first, last = _position(sort, items[0]), _position(sort, items[-1])
    if cursor.forward:
        more_before = not cursor.first and _seek(queryset, sort, first, after=False).exists()
    else:
        more_after = _seek(queryset, sort, last, after=True).exists()
    if more_after:
        page.next_cursor = _issue(query, count, forward=True, position=last)
    if more_before:
        page.previous_cursor = _issue(query, count, forward=False, position=first)
    return page


def _position(sort: Sort, item) -> tuple:
    return (getattr(item, SORT_KEY) if sort.by is not None else None, str(item.pk))


def _seek(queryset: QuerySet, sort: Sort, position: tuple | None, *, after: bool) -> QuerySet:
    """The rows strictly after (or before) ``position`` in ``sort``'s order. Descending order is
    ascending order reversed exactly (key desc nulls first, pk desc), so both directions are either
    "greater" or "less" in ascending order (key asc nulls last, then pk)."""
    if position is None:
        return queryset
    key, pk = position
    greater = after != sort.descending
    return queryset.filter(_greater(sort, key, pk) if greater else _less(sort, key, pk))


def _greater(sort: Sort, key, pk) -> Q:
    """After (key, pk) in ascending order, where NULL keys come last."""
    if sort.by is None:
        return Q(pk__gt=pk)
    if key is None:
        return Q(**{f"{SORT_KEY}__isnull": True, "pk__gt": pk})
    return (
        Q(**{f"{SORT_KEY}__gt": key})
        | Q(**{SORT_KEY: key, "pk__gt": pk})
        | Q(**{f"{SORT_KEY}__isnull": True})
    )


def _less(sort: Sort, key, pk) -> Q:
    """Before (key, pk) in ascending order, where NULL keys come last."""
    if sort.by is None:
        return Q(pk__lt=pk)
    if key is None:
        return Q(**{f"{SORT_KEY}__isnull": False}) | Q(**{f"{SORT_KEY}__isnull": True, "pk__lt": pk})
    return Q(**{f"{SORT_KEY}__lt": key}) | Q(**{SORT_KEY: key, "pk__lt": pk})


def _query_digest(scope: tuple[str, ...], sort: Sort) -> str:
    """What a cursor is bound to: a cursor reused with another filter, sortBy, sortOrder, resource
    type or tenant is invalid (RFC 9865 section 2: the client "MUST query the same service provider
    endpoint with all query parameters and values being identical to the initial query")."""
    material = json.dumps([*scope, sort.by, sort.descending], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=CURSOR_SALT, sep=CURSOR_SEPARATOR)


def _issue(query: str, count: int, *, forward: bool, position: tuple | None) -> str:
    payload = {"f": _CURSOR_FORMAT, "q": query, "c": count, "d": "n" if forward else "p"}
    if position is not None:
        key, pk = position
        payload["p"] = [_dump_key(key), pk]
    return _signer().sign_object(payload)


def _read(raw, query: str, count: int) -> _Cursor:
    """The cursor the client sent, checked: signed by us (else invalidCursor), for this query (else
    invalidCursor), not older than cursorTimeout (else expiredCursor, RFC 9865 section 2.1: "Do not
    wait longer than service provider's cursorTimeout"), for this count (else invalidCount: "must
    value identical count of the initial query")."""
    if not isinstance(raw, str) or len(raw) > MAX_CURSOR_LENGTH or not _UNRESERVED.fullmatch(raw):
        _refuse("not a string of unreserved characters")
    signer = _signer()
    try:
        payload = signer.unsign_object(raw)
    except (signing.BadSignature, ValueError):
        _refuse("bad signature")
    if not isinstance(payload, dict) or payload.get("f") != _CURSOR_FORMAT:
        _refuse("unknown format")
    if payload.get("q") != query:
        _refuse("issued for another query")
    direction, issued_count = payload.get("d"), payload.get("c")
    if direction not in ("n", "p") or not isinstance(issued_count, int):
        _refuse("malformed")
    position = None
    if "p" in payload:
        raw_position = payload["p"]
        if not (
            isinstance(raw_position, list) and len(raw_position) == 2 and isinstance(raw_position[1], str)
        ):
            _refuse("malformed position")
        position = (_load_key(raw_position[0]), raw_position[1])
    try:
        # A second of slack: the signed timestamp is truncated to whole seconds, and cursorTimeout
        # is the minimum validity promised.
        signer.unsign(raw, max_age=cursor_timeout() + 1)
    except signing.SignatureExpired:
        raise ExpiredCursor(
            f"cursor has expired: cursors are valid for {cursor_timeout()} seconds (cursorTimeout in "
            "/ServiceProviderConfig) after the response that gave them. Start again with an empty "
            "cursor (cursor=)."
        ) from None
    if issued_count != count:
        raise InvalidCount(
            f"count {count} differs from the count {issued_count} of the request this cursor came from; "
            "send the same count on every page of a query (RFC 9865 section 2.1)."
        )
    return _Cursor(forward=direction == "n", position=position)


def _refuse(reason: str) -> NoReturn:
    logger.info("Refused a SCIM cursor: %s.", reason)
    raise InvalidCursor(INVALID_CURSOR_DETAIL)


def _dump_key(value):
    """A sort key as JSON that reads back as the same Python value (and so compares in the database
    exactly as the value it came from)."""
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return ["v", value]
    if isinstance(value, datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, UUID):
        return ["u", str(value)]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    raise TypeError(f"A {type(value).__name__} sort key cannot go in a cursor.")


_KEY_PARSERS: dict[str, Callable[[str], Any]] = {
    "dt": datetime.fromisoformat,
    "d": date.fromisoformat,
    "u": UUID,
    "n": Decimal,
}


def _load_key(raw):
    if raw is None:
        return None
    if isinstance(raw, list) and len(raw) == 2:
        tag, value = raw
        if tag == "v" and isinstance(value, bool | int | float | str):
            return value
        parse = _KEY_PARSERS.get(tag)
        if parse is not None and isinstance(value, str):
            try:
                return parse(value)
            except (ValueError, ArithmeticError):
                _refuse("malformed sort key")
    _refuse("malformed sort key")
