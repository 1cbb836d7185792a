"""Beat's schedule of the SCIM request log's pruning (``directory.tasks.scim_request_log_prune``),
installed once into django-celery-beat's tables like 0021's defaults: hourly, where administrators
change it (Periodic tasks in the admin). An entry of that name that already exists is left as it is."""

from django.db import migrations
from django.utils import timezone

NAME = "scim-request-log-prune"


def install(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if not task_model.objects.filter(name=NAME).exists():
        interval, _ = interval_model.objects.get_or_create(every=3600, period="seconds")
        task_model.objects.create(
            name=NAME,
            task="directory.tasks.scim_request_log_prune",
            interval=interval,
            description="Deletes the SCIM request log's rows older than SCIM_REQUEST_LOG_DAYS, in batches.",
        )
    # The change stamp beat compares to notice a change (see 0021).
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0025_scim_request_log"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
