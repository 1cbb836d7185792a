"""The lifecycle's gauges for ``/metrics`` (directory.metrics), read from the database at each
scrape rather than kept by the processes that change them: open offboarding cases by tenant and
state, and open bursts (tenants in quarantine) by tenant. Registered in LifecycleConfig.ready()."""

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from lifecycle.models import OPEN_STATES, Burst, BurstState, OffboardingCase


class LifecycleCollector:
    def collect(self) -> Iterator[Metric]:
        cases = GaugeMetricFamily(
            "roster_offboarding_cases_open",
            "Offboarding cases still under way, by tenant and state.",
            labels=["tenant", "state"],
        )
        rows = (
            OffboardingCase.objects.filter(state__in=OPEN_STATES)
            .values_list("tenant__slug", "state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for slug, state, n in rows:
            cases.add_metric([slug, state], n)
        yield cases
        bursts = GaugeMetricFamily(
            "roster_bursts_open",
            "Bursts of deprovisions awaiting an administrator (the tenant quarantined), by tenant.",
            labels=["tenant"],
        )
        open_bursts = (
            Burst.objects.filter(state=BurstState.OPEN)
            .values_list("tenant__slug")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for slug, n in open_bursts:
            bursts.add_metric([slug], n)
        yield bursts
