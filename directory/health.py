"""``/healthz``: whether this web process reaches what Roster needs, for a load balancer or an
orchestrator's probe. Each dependency is checked for real (a query, a cache write and read, a
broker connection) within a short timeout; the answer is 200 when all are up and 503 when one is
down, naming each with its state and how long it took. The workers' heartbeat (beat's
"worker-heartbeat", every 60 s) is reported too, but does not fail the probe: a web process can
serve SCIM while the workers catch up (the outbox and the sweep keep what they owe)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu.connection import Connection

from directory.models import WorkerHeartbeat

BROKER_TIMEOUT = 2  # seconds
HEARTBEAT_STALE = timedelta(minutes=3)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key, value = "healthz", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not keep a value")


def _broker() -> None:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT, transport_options=options
    ) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "cache": _cache, "broker": _broker}


def health_report() -> dict:
    """Each check's state (``up`` or ``down``, with the error's kind) and milliseconds; the
    workers' last heartbeat."""
    checks: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as error:  # a dependency down is what this reports
            checks[name] = {"state": "down", "error": type(error).__name__}
        else:
            checks[name] = {"state": "up"}
        checks[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    status = "up" if all(c["state"] == "up" for c in checks.values()) else "down"
    return {"status": status, "checks": checks, "workers": _workers(checks["database"]["state"] == "up")}


def _workers(database_up: bool) -> dict:
    if not database_up:
        return {"state": "unknown"}
    seen = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if seen is None:
        return {"state": "never seen"}
    stale = timezone.now() - seen > HEARTBEAT_STALE
    return {"state": "stale" if stale else "up", "last_seen": seen.isoformat()}


@never_cache
@require_safe
def healthz(request):
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "up" else 503)
