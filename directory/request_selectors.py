"""Reads of the SCIM requests per day (directory.models.ScimRequestDay), for the token's admin page
("requests and errors per day") and the dashboard's chart (per tenant and overall).

The counts are what the processes have written: up to ``SCIM_REQUEST_LOG_FLUSH_SECONDS`` of each
process's latest requests are still in them (directory/request_buffer.py)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from directory.models import ScimRequestDay, ScimToken, Tenant


@dataclass(frozen=True)
class RequestDay:
    day: date
    reads: int = 0
    writes: int = 0
    errors: int = 0
    latency_ms: float = 0.0  # the total

    @property
    def requests(self) -> int:
        return self.reads + self.writes + self.errors

    @property
    def mean_ms(self) -> float | None:
        return self.latency_ms / self.requests if self.requests else None


def token_requests_by_day(*, token: ScimToken, days: int = 30, today: date | None = None) -> list[RequestDay]:
    """The token's requests on each of the ``days`` days up to ``today`` (UTC), oldest first, days
    without requests included (zeros)."""
    return _by_day(ScimRequestDay.objects.filter(token=token), days, today)


def tenant_requests_by_day(
    *, tenant: Tenant | None = None, days: int = 30, today: date | None = None
) -> list[RequestDay]:
    """The tenant's requests (all its tokens') on each of the ``days`` days up to ``today`` (UTC),
    oldest first, zeros included; with ``tenant=None``, every tenant's together."""
    rows = ScimRequestDay.objects.all() if tenant is None else ScimRequestDay.objects.filter(tenant=tenant)
    return _by_day(rows, days, today)


def _by_day(rows: QuerySet[ScimRequestDay], days: int, today: date | None) -> list[RequestDay]:
    today = today or timezone.now().date()
    first = today - timedelta(days=days - 1)
    sums = (
        rows.filter(day__gte=first, day__lte=today)
        .values("day")
        .annotate(
            reads=Sum("reads"), writes=Sum("writes"), errors=Sum("errors"), latency_ms=Sum("latency_ms")
        )
        .order_by()
    )
    found = {row["day"]: RequestDay(**row) for row in sums}
    return [found.get(day, RequestDay(day)) for day in (first + timedelta(days=n) for n in range(days))]
