"""``/metrics`` in Prometheus's text format (prometheus-client): SCIM requests by tenant, resource,
method and status, their latency, Celery tasks' outcomes, and what other apps register to be read
at scrape time (lifecycle: open offboarding cases and bursts).

prometheus-client's multiprocess mode: every process (gunicorn's workers, Celery's) writes its
samples to files in ``PROMETHEUS_MULTIPROC_DIR`` (settings: ``var/metrics`` by default), and a scrape
of any web process reads them all, so it sees the whole host however many workers answered. Its
limits, from the library: the directory must be emptied when the service (re)starts, before its
processes do; and ``_created`` samples are not exported.

Who may read it: with ``METRICS_TOKEN`` set, a request carrying ``Authorization: Bearer <it>``
(compared in constant time); without, only a client on a loopback address (behind a reverse proxy
on the same host every client is one: set the token there).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Tenants label the count, not the histogram: a tenant's latency is the same code's, and buckets
# times tenants times resources would multiply every process's files for nothing.
SCIM_REQUESTS = Counter(
    "roster_scim_requests",
    "SCIM requests answered, by tenant (its slug; empty without a valid token), resource, method, status.",
    ["tenant", "resource", "method", "status"],
)
SCIM_LATENCY = Histogram(
    "roster_scim_request_duration_seconds",
    "Time to answer a SCIM request, by resource and method.",
    ["resource", "method"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CELERY_TASKS = Counter(
    "roster_celery_tasks",
    "Celery tasks run, by task name and outcome: success, failure, retry.",
    ["task", "outcome"],
)

_SCRAPED: list[Collector] = []


def metrics_files_clear() -> int:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` of the samples earlier processes left (what the library
    asks of a service that starts, before its processes do: ``manage.py serve`` calls it; a
    production unit runs ``rm -f "$PROMETHEUS_MULTIPROC_DIR"/*.db`` first). Returns the files removed."""
    directory = getattr(settings, "METRICS_DIR", None)
    if directory is None:
        return 0
    removed = 0
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def scrape_collector_register(collector: Collector) -> None:
    """A collector read at each scrape (a gauge of what the database holds now), from an app's
    ``ready()``; registering the same one again is a no-op."""
    if collector not in _SCRAPED:
        _SCRAPED.append(collector)


# The two children each label set observes, found once: ``labels()`` (a lock, validation, a lookup)
# on every request cost more than the increments (benchmarks/console_overhead.py). As bounded as
# the metrics' own children.
_CHILDREN: dict[tuple[str, str, str, int], tuple] = {}


def scim_request_observe(*, tenant: str, resource: str, method: str, status: int, seconds: float) -> None:
    key = (tenant, resource, method, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN[key] = (
            SCIM_REQUESTS.labels(tenant, resource, method, str(status)),
            SCIM_LATENCY.labels(resource, method),
        )
    children[0].inc()
    children[1].observe(seconds)


# Celery's signals (connected in DirectoryConfig.ready()); ``sender`` is the task.
def task_succeeded(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "success").inc()


def task_failed(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "failure").inc()


def task_retried(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "retry").inc()


def exposition(accept: str) -> tuple[bytes, str]:
    """Every process's samples (the multiprocess files) and the scrape-time collectors', in the
    format ``accept`` asks for (Prometheus's text format by default, OpenMetrics if asked), and
    its content type."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in _SCRAPED:
        registry.register(collector)
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_ENABLED:
        raise Http404("Metrics are turned off (METRICS_ENABLED).")
    if settings.METRICS_TOKEN:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), settings.METRICS_TOKEN.encode()
        ):
            response = HttpResponse("Send 'Authorization: Bearer <METRICS_TOKEN>'.\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            response["Content-Type"] = "text/plain; charset=utf-8"
            return response
    elif not _loopback(request.META.get("REMOTE_ADDR", "")) or "HTTP_X_FORWARDED_FOR" in request.META:
        # Behind a reverse proxy on the same host every client is loopback: one that says it
        # forwarded the request is someone else's, and needs the token.
        return HttpResponse(
            "Metrics answer loopback addresses only; set METRICS_TOKEN to read them from elsewhere.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, from a dual-stack socket
    return (mapped or ip).is_loopback
