"""Beat's schedule of the HR reviewers' daily digest (``lifecycle.tasks.review_digest``), installed
once into django-celery-beat's tables like directory 0021's defaults: daily at 07:00 UTC, where
administrators change it (Periodic tasks in the admin). An entry of that name that already exists
is left as it is."""

from django.db import migrations
from django.utils import timezone

NAME = "hr-review-digest"


def install(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if not task_model.objects.filter(name=NAME).exists():
        crontab, _ = crontab_model.objects.get_or_create(
            minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        task_model.objects.create(
            name=NAME,
            task="lifecycle.tasks.review_digest",
            crontab=crontab,
            description="The HR reviewers' daily email of the deletions due within 7 days (and overdue).",
        )
    # The change stamp beat compares to notice a change (see directory 0021).
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
        ("lifecycle", "0004_hr_review"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
