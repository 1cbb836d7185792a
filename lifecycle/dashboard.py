"""The administrators' dashboard (issue 21): the figures a security team checks each morning, each
one bounded query (or one per tenant shown), read at once for the page (``dashboard_read``).

- users by state, per tenant;
- SCIM requests and errors per day over 30 days (``ScimRequestDay``: the processes' flushed counts);
- the median and 95th percentile from an IdP's deprovision to access ended, and to deletion, over
  the last 90 days (``lifecycle.evidence.termination_durations``);
- deletions due within 7 days (open cases, not held), open bursts, tokens expiring within 14 days;
- stale connections: active tenants whose identity provider has not called for STALE_AFTER (no
  token used since, or none ever);
- orphan candidates: active users no SCIM write has changed for the tenant's ``orphan_after``
  (an IdP that re-sends an unchanged profile changes nothing, so this is "not provisioned or
  changed since", the nearest a server can see of "the IdP no longer manages it").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Max
from django.utils import timezone

from directory.models import ScimToken, Tenant, User, UserState
from directory.request_selectors import RequestDay, tenant_requests_by_day
from lifecycle.evidence import Durations, termination_durations
from lifecycle.models import OPEN_STATES, Burst, BurstState, CaseState, OffboardingCase

CHART_DAYS = 30
DURATION_PERIOD = timedelta(days=90)
DUE_WITHIN = timedelta(days=7)
TOKEN_WARNING = timedelta(days=14)
STALE_AFTER = timedelta(days=7)
LISTED = 20  # rows each list shows; the counts are the whole


@dataclass
class TenantFigures:
    tenant: Tenant
    states: dict[str, int] = field(default_factory=dict)
    orphans: int = 0
    orphan_before: datetime | None = None  # active users not changed since are orphan candidates
    last_called: datetime | None = None

    @property
    def users(self) -> int:
        return sum(self.states.values())

    @property
    def by_state(self) -> list[tuple[str, int]]:
        """(state, users) for every state, in UserState's order, zeros included."""
        return [(value, self.states.get(value, 0)) for value in UserState.values]


@dataclass
class Dashboard:
    tenants: list[TenantFigures]
    requests: list[RequestDay]
    durations: Durations
    due: list[OffboardingCase]
    due_count: int
    bursts: list[Burst]
    expiring: list[ScimToken]
    expiring_count: int
    stale: list[TenantFigures]
    states: list[tuple[str, str]]


def dashboard_read(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    tenants = {
        t.pk: TenantFigures(t, orphan_before=now - t.orphan_after) for t in Tenant.objects.order_by("slug")
    }
    for tenant_id, state, count in (
        User.objects.order_by().values_list("tenant_id", "state").annotate(n=Count("pk"))
    ):
        tenants[tenant_id].states[state] = count
    for tenant_id, count in _orphans(now):
        tenants[tenant_id].orphans = count
    for tenant_id, last in (
        ScimToken.objects.order_by().values_list("tenant_id").annotate(last=Max("last_used_at"))
    ):
        tenants[tenant_id].last_called = last
    due = (
        OffboardingCase.objects.filter(
            # Held and quarantined cases wait for a person, not a date (lifecycle.services.cases_due).
            state__in=[
                s
                for s in OPEN_STATES
                if s not in (CaseState.DELETED, CaseState.ON_HOLD, CaseState.QUARANTINED)
            ],
            deletion_due_at__lte=now + DUE_WITHIN,
        )
        .select_related("tenant")
        .order_by("deletion_due_at")
    )
    stale_before = now - STALE_AFTER
    # A rotated token ends by design (its replacement is in use): not one to rotate.
    expiring = ScimToken.objects.filter(
        revoked_at__isnull=True,
        rotated_to__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + TOKEN_WARNING,
    )
    return Dashboard(
        tenants=list(tenants.values()),
        requests=tenant_requests_by_day(tenant=None, days=CHART_DAYS, today=now.date()),
        durations=termination_durations(None, now - DURATION_PERIOD, now),
        due=list(due[:LISTED]),
        due_count=due.count(),
        bursts=list(
            Burst.objects.filter(state=BurstState.OPEN).select_related("tenant").order_by("detected_at")
        ),
        expiring=list(expiring.select_related("tenant").order_by("expires_at")[:LISTED]),
        expiring_count=expiring.count(),
        stale=[
            t
            for t in tenants.values()
            if t.tenant.is_active and (t.last_called is None or t.last_called < stale_before)
        ],
        states=list(UserState.choices),
    )


def _orphans(now: datetime) -> list[tuple[int, int]]:
    """(tenant id, active users not changed for the tenant's ``orphan_after``), one query: the
    threshold is each row's tenant's."""
    threshold = ExpressionWrapper(now - F("tenant__orphan_after"), output_field=DateTimeField())
    return list(
        User.objects.filter(state=UserState.ACTIVE, active=True)
        .alias(threshold=threshold)
        .filter(updated_at__lt=F("threshold"))
        .order_by()
        .values_list("tenant_id")
        .annotate(n=Count("pk"))
    )
