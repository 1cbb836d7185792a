"""The default schedule of Celery beat, installed once into django-celery-beat's tables, where
administrators change it (Periodic tasks in the admin). Installed here rather than declared in
settings, so that beat never writes it back over their changes; an entry that already exists (a
re-run, an administrator's own) is left as it is."""

from django.db import migrations
from django.utils import timezone

DEFAULTS = [
    # (name, task, every seconds, description)
    ("worker-heartbeat", "directory.tasks.heartbeat", 60, "Proves that the broker, a worker and beat run."),
    (
        "lifecycle-sweep",
        "lifecycle.tasks.sweep",
        300,
        "Deletions and purges due, burst alerts, and offboarding steps a lost message or a dead "
        "worker left behind (the same as manage.py lifecycle_sweep).",
    ),
]


def install(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, description in DEFAULTS:
        if task_model.objects.filter(name=name).exists():
            continue
        interval, _ = interval_model.objects.get_or_create(every=every, period="seconds")
        task_model.objects.create(name=name, task=task, interval=interval, description=description)
    # The change stamp beat compares to notice an administrator's change. Without the row, beat
    # takes the first change for its starting point and misses it (until it restarts).
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[name for name, *_ in DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0020_audit_redaction"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
