"""The console's tenant settings (the access-ended SLA, when a user counts as an orphan), token
rotation, and the audit trail's hash chain (``directory.services.audit_chain``): its seals are
append-only like the events (a trigger refuses UPDATE and DELETE, whatever code runs), and beat
seals what has committed every minute (``audit-seal``, installed once like migration 0021's)."""

import datetime

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

SEALS_APPEND_ONLY = {
    "postgresql": (
        """
        CREATE FUNCTION directory_audit_seal_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit seals are append-only';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER directory_auditseal_append_only BEFORE UPDATE OR DELETE ON directory_auditseal
            FOR EACH ROW EXECUTE FUNCTION directory_audit_seal_append_only();
        """,
        """
        DROP TRIGGER directory_auditseal_append_only ON directory_auditseal;
        DROP FUNCTION directory_audit_seal_append_only();
        """,
    ),
    "sqlite": (
        """
        CREATE TRIGGER directory_auditseal_no_update BEFORE UPDATE ON directory_auditseal
        BEGIN SELECT RAISE(ABORT, 'audit seals are append-only'); END;
        ;;
        CREATE TRIGGER directory_auditseal_no_delete BEFORE DELETE ON directory_auditseal
        BEGIN SELECT RAISE(ABORT, 'audit seals are append-only'); END;
        """,
        "DROP TRIGGER directory_auditseal_no_update;;DROP TRIGGER directory_auditseal_no_delete",
    ),
}


def seals_append_only(apps, schema_editor):
    for statement in SEALS_APPEND_ONLY[schema_editor.connection.vendor][0].split(";;"):
        schema_editor.execute(statement)


def seals_mutable(apps, schema_editor):
    for statement in SEALS_APPEND_ONLY[schema_editor.connection.vendor][1].split(";;"):
        schema_editor.execute(statement)


def install_seal_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if not task_model.objects.filter(name="audit-seal").exists():
        interval, _ = interval_model.objects.get_or_create(every=60, period="seconds")
        task_model.objects.create(
            name="audit-seal",
            task="directory.tasks.audit_seal",
            interval=interval,
            description="Appends the audit events committed since to each tenant's hash chain "
            "(the same as the first step of manage.py verify_audit).",
        )
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": django.utils.timezone.now()}
        )


def uninstall_seal_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="audit-seal").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0023_four_eyes_deletion"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChain",
            fields=[
                ("chain", models.BigIntegerField(primary_key=True, serialize=False)),
                ("position", models.BigIntegerField(default=0)),
                ("link", models.CharField(default="", max_length=64)),
                ("horizon", models.TextField(blank=True, default="")),
                ("sealed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="scimtoken",
            name="rotated_to",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="rotated_from",
                to="directory.scimtoken",
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="access_ended_sla",
            field=models.DurationField(
                default=datetime.timedelta(days=1),
                help_text="How soon after the identity provider deprovisions someone their access must end; the evidence pack lists each termination that took longer as a breach.",
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="orphan_after",
            field=models.DurationField(
                default=datetime.timedelta(days=90),
                help_text="An active user the identity provider has not provisioned or updated for this long is listed on the dashboard as an orphan candidate.",
            ),
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "chain",
                    models.BigIntegerField(help_text="The tenant's id; 0 for the events of no tenant."),
                ),
                ("position", models.BigIntegerField()),
                ("event_id", models.BigIntegerField(unique=True)),
                ("personal_digest", models.CharField(max_length=64)),
                ("link", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("chain", "position"), name="audit_seal_place")
                ],
            },
        ),
        migrations.RunPython(seals_append_only, seals_mutable),
        migrations.RunPython(install_seal_schedule, uninstall_seal_schedule),
    ]
