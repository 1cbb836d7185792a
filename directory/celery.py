"""The Celery application shared by the web processes (which enqueue) and the workers."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directory.settings")

app = Celery("roster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fix-up closes every database connection before and after each task unless this is
# set: a new PostgreSQL connection per task, which the events' small frequent tasks (issue 22) paid
# on both sides. Connections are kept instead, and closed, as Django closes a request's, when they
# are broken or older than DATABASE_CONN_MAX_AGE (``_connections_checked``).
app.conf.update(CELERY_DB_REUSE_MAX=1000)


@task_prerun.connect
@task_postrun.connect
def _connections_checked(task=None, **kwargs) -> None:
    """In a worker, not for a task run in the caller's process (``apply``: a test's, whose
    connection holds the test's transaction), as Celery's fix-up does."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
