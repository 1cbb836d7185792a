"""Celery beat runs the lifecycle sweep on the schedule administrators see and change in the admin
(django-celery-beat's Periodic tasks), installed with its defaults by a migration."""

import importlib
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from directory.models import DeprovisionAction
from lifecycle.models import CaseState, OffboardingCase
from tests.lifecycle.test_cases import deactivate, policy
from tests.support.processes import celery_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


schedule_migration = importlib.import_module("directory.migrations.0021_periodic_tasks")
seal_migration = importlib.import_module("directory.migrations.0024_console_settings_audit_chain")
prune_migration = importlib.import_module("directory.migrations.0026_request_log_prune_schedule")


@pytest.fixture(autouse=True)
def default_schedule():
    """What the migration installed (a transactional test's flush empties the tables), run with
    the migration's own historical models, as ``migrate`` runs it."""
    state = MigrationLoader(connection).project_state(("directory", "0021_periodic_tasks"))
    schedule_migration.install(state.apps, None)
    state = MigrationLoader(connection).project_state(("directory", "0024_console_settings_audit_chain"))
    seal_migration.install_seal_schedule(state.apps, None)
    state = MigrationLoader(connection).project_state(("directory", "0026_request_log_prune_schedule"))
    prune_migration.install(state.apps, None)


def test_the_default_schedule_is_installed_once(admin_client):
    assert schedule_migration.install in [op.code for op in schedule_migration.Migration.operations]
    assert PeriodicTasks.last_change() is not None  # the stamp beat notices changes by
    sweep = PeriodicTask.objects.get(name="lifecycle-sweep")
    sweep.interval = IntervalSchedule.objects.create(every=10, period="minutes")
    sweep.save()  # an administrator's change, which installing again leaves alone
    schedule_migration.install(
        MigrationLoader(connection).project_state(("directory", "0021_periodic_tasks")).apps, None
    )
    schedule = {
        t.name: (t.task, t.interval.every, t.interval.period)
        for t in PeriodicTask.objects.filter(interval__isnull=False)  # the digest's is a crontab
    }
    assert schedule == {
        "worker-heartbeat": ("directory.tasks.heartbeat", 60, "seconds"),
        "lifecycle-sweep": ("lifecycle.tasks.sweep", 10, "minutes"),
        "audit-seal": ("directory.tasks.audit_seal", 60, "seconds"),
        "scim-request-log-prune": ("directory.tasks.scim_request_log_prune", 3600, "seconds"),
    }
    page = admin_client.get("/admin/django_celery_beat/periodictask/").content.decode()
    assert "lifecycle-sweep" in page and "worker-heartbeat" in page


def test_beat_sweeps_on_the_schedule_an_administrator_set(scim, tenant, system_actor):
    """The sweep every 300 s would not come within a test; an administrator's change to every
    second does, without a restart of beat, which reads the database's schedule."""
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    OffboardingCase.objects.filter(subject_id=uid).update(deletion_due_at=timezone.now() - timedelta(days=1))
    with celery_worker(beat=True) as worker:
        worker.wait_for("beat: Starting", timeout=30)
        # Beat's first look at the change stamp (within its 5 s loop) is its starting point: a
        # change before it would be taken for the start (django-celery-beat compares with it).
        time.sleep(6)
        sweep = PeriodicTask.objects.get(name="lifecycle-sweep")
        sweep.interval = IntervalSchedule.objects.get_or_create(every=1, period="seconds")[0]
        sweep.save()  # what the admin's form does; beat sees it on its next tick
        try:
            wait_until(
                lambda: OffboardingCase.objects.filter(subject_id=uid, state=CaseState.DELETED).exists(),
                timeout=60,
            )
        except TimeoutError:
            raise AssertionError(f"beat never swept. The worker said:\n{worker.text[-6000:]}") from None
        assert "lifecycle.tasks.sweep" in worker.text
