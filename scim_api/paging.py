"""Index-based paging (RFC 7644 section 3.4.2.4): startIndex is 1-based, count is the page size."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from scim_api.errors import InvalidValue

MAX_START_INDEX = 10**9


@dataclass
class Page:
    total: int
    start_index: int
    items: list


def _integer(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw).strip())
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, not {raw!r}.") from None


def page_bounds(params) -> tuple[int, int]:
    """(startIndex, count) as RFC 7644 reads them: below 1 is 1, negative count is 0, and count
    is capped at the advertised maximum page size."""
    start = min(max(_integer(params, "startIndex", 1), 1), MAX_START_INDEX)
    count = _integer(params, "count", settings.SCIM_DEFAULT_PAGE_SIZE)
    return start, min(max(count, 0), settings.SCIM_MAX_PAGE_SIZE)


def index_page(queryset: QuerySet, params) -> Page:
    start, count = page_bounds(params)
    total = queryset.count()
    items = list(queryset[start - 1 : start - 1 + count]) if count and start <= total else []
    return Page(total=total, start_index=start, items=items)
