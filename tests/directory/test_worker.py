"""A task sent by the web side runs in a real Celery worker through a real broker: the filesystem
broker in the SQLite pass, Redis in the PostgreSQL pass."""

import pytest
from django.db import connection

from directory.models import WorkerHeartbeat
from directory.tasks import heartbeat
from tests.support.processes import broker_kind, celery_worker, wait_until


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_the_broker_to_a_worker():
    expected = "redis" if connection.vendor == "postgresql" else "filesystem"
    assert broker_kind() == expected
    with celery_worker() as worker:
        heartbeat.delay()
        wait_until(WorkerHeartbeat.objects.exists)
    assert "directory.tasks.heartbeat" in worker.text and "succeeded" in worker.text
    assert WorkerHeartbeat.objects.get().hostname.startswith("celery@")
