"""A task sent by the web side runs in a real Celery worker through a real broker: the filesystem
broker in the SQLite pass, Redis in the PostgreSQL pass."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from directory.models import WorkerHeartbeat
from directory.tasks import heartbeat
from tests.support.processes import ROOT, broker_kind, celery_worker, wait_until


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_the_broker_to_a_worker():
    expected = "redis" if connection.vendor == "postgresql" else "filesystem"
    assert broker_kind() == expected
    with celery_worker() as worker:
        heartbeat.delay()
        wait_until(WorkerHeartbeat.objects.exists)
    assert "directory.tasks.heartbeat" in worker.text and "succeeded" in worker.text
    assert WorkerHeartbeat.objects.get().hostname.startswith("celery@")


SEND = """
import django
django.setup()
from directory.tasks import heartbeat
heartbeat.delay()
"""


def test_the_filesystem_broker_writes_only_under_the_var_dir(tmp_path):
    """Sending a task binds its queue, which kombu's filesystem transport records in a
    ``celery.exchange`` file under its control folder, by default ``control/`` in the working
    directory: a process started in the repository wrote it there, and it got committed."""
    started_in, var_dir = tmp_path / "cwd", tmp_path / "var"
    started_in.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "directory.settings",
        "ROSTER_VAR_DIR": str(var_dir),
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "",
    }
    sent = subprocess.run(
        [sys.executable, "-c", SEND], cwd=started_in, env=env, capture_output=True, text=True, timeout=60
    )
    assert sent.returncode == 0, sent.stderr
    assert list(started_in.iterdir()) == []
    assert (var_dir / "broker" / "control" / "celery.exchange").exists()
    assert len(list((var_dir / "broker" / "queue").iterdir())) == 1
