"""``/healthz``: 200 with each dependency up, 503 naming the one that is down."""

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.models import WorkerHeartbeat


def test_everything_up_is_200_with_each_check(client, db):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    report = response.json()
    assert report["status"] == "up"
    assert {name: check["state"] for name, check in report["checks"].items()} == {
        "database": "up",
        "cache": "up",
        "broker": "up",
    }
    assert report["workers"]["state"] == "up"


@pytest.mark.parametrize("down", ["cache", "broker"])
def test_a_dependency_down_is_503_and_named(client, db, settings, down):
    if down == "cache":
        settings.CACHES = {
            "default": {"BACKEND": "directory.db.cache.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
        }
    else:
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "down" and report["checks"][down]["state"] == "down"
    assert report["checks"]["database"]["state"] == "up"
    assert report["workers"]["state"] == "stale"  # reported, not what fails the probe
