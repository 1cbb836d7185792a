"""Outbound events (issue 22): the published events, their sources (the audit trail's outbox rows,
written by a trigger on the audit insert), webhook endpoints, attempts and replays."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from directory.migration_operations import PostgreSQLOnly, event_source_trigger

# The audit actions published as events (directory.services.events.PUBLISHED says as which).
PUBLISHED = (
    "user.created",
    "user.restored",
    "user.updated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "offboarding.opened",
    "offboarding.approved",
    "offboarding.held",
    "offboarding.released",
    "offboarding.cancelled",
    "offboarding.deleted",
    "offboarding.purged",
    "burst.detected",
    "burst.released",
    "token.created",
    "token.revoked",
)


# Beat's schedule, installed once like 0026's (administrators change it under Periodic tasks).
SCHEDULE = (
    (
        "events-sequence",
        "directory.tasks.events_sweep",
        5,
        "Publishes committed changes as events and wakes the webhook endpoints with events due (the sweep behind each write's own message).",
    ),
    (
        "events-prune",
        "directory.tasks.events_prune",
        86400,
        "Deletes events and webhook attempts older than EVENTS_RETENTION_DAYS.",
    ),
)


def install_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, description in SCHEDULE:
        if not task_model.objects.filter(name=name).exists():
            interval, _ = interval_model.objects.get_or_create(every=every, period="seconds")
            task_model.objects.create(name=name, task=task, interval=interval, description=description)
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def uninstall_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[n for n, *_ in SCHEDULE]
    ).delete()
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0027_api_keys"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EventFeedState",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("pruned_through", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="EventSource",
            fields=[
                (
                    "audit_event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="directory.auditevent",
                    ),
                ),
                ("tenant_id", models.BigIntegerField(null=True)),
                ("snapshot", models.JSONField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name="Event",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("type", models.CharField(max_length=40)),
                (
                    "audit_event_id",
                    models.BigIntegerField(help_text="The audit event it was drawn from.", null=True),
                ),
                (
                    "txn",
                    models.CharField(
                        blank=True, default="", help_text="The writing transaction's id.", max_length=32
                    ),
                ),
                ("resource_type", models.CharField(blank=True, default="", max_length=32)),
                ("resource_id", models.CharField(blank=True, default="", max_length=64)),
                ("occurred_at", models.DateTimeField()),
                ("published_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("payload", models.JSONField(help_text="The event as the feed and webhooks send it.")),
                (
                    "tenant",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="directory.tenant",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.URLField(help_text="https:// address of the receiver.", max_length=500)),
                ("description", models.CharField(blank=True, default="", max_length=200)),
                (
                    "event_types",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="The event types it is subscribed to; empty: all of them.",
                    ),
                ),
                (
                    "format",
                    models.CharField(
                        choices=[
                            ("standard", "Standard Webhooks (JSON, signed with the endpoint's secret)"),
                            ("set", "Security Event Tokens (RFC 9967 / RFC 8935 push, signed ES256)"),
                        ],
                        default="standard",
                        max_length=8,
                    ),
                ),
                ("secret", models.CharField(editable=False, max_length=100)),
                ("previous_secret", models.CharField(blank=True, default="", editable=False, max_length=100)),
                ("previous_secret_until", models.DateTimeField(blank=True, editable=False, null=True)),
                ("set_private_key", models.TextField(blank=True, default="", editable=False)),
                (
                    "set_audience",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="The SETs' aud claim (RFC 8417); default: the URL.",
                        max_length=200,
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("disabled_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("disabled_reason", models.CharField(blank=True, default="", editable=False, max_length=300)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("cursor", models.BigIntegerField(default=0, editable=False)),
                ("failing_since", models.DateTimeField(blank=True, editable=False, null=True)),
                ("failures", models.PositiveIntegerField(default=0, editable=False)),
                ("next_attempt_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("leased_until", models.DateTimeField(blank=True, editable=False, null=True)),
                ("lease", models.UUIDField(blank=True, editable=False, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        blank=True,
                        help_text="Whose events it receives; empty: every tenant's.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="webhook_endpoints",
                        to="directory.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "webhook endpoint",
                "ordering": ["tenant", "url"],
            },
        ),
        migrations.CreateModel(
            name="WebhookAttempt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("webhook_id", models.CharField(max_length=64)),
                ("event_type", models.CharField(max_length=40)),
                ("attempted_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("status", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("latency_ms", models.FloatField(default=0)),
                ("error", models.CharField(blank=True, default="", max_length=500)),
                (
                    "answer",
                    models.TextField(blank=True, default="", help_text="The start of the receiver's answer."),
                ),
                ("delivered", models.BooleanField(default=False)),
                ("kind", models.CharField(default="event", help_text="event, replay or test", max_length=8)),
                (
                    "event",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="directory.event",
                    ),
                ),
                (
                    "endpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="directory.webhookendpoint",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="WebhookReplay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("requested_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "endpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="replays",
                        to="directory.webhookendpoint",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="directory.event"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["tenant", "id"], name="event_tenant_id"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["published_at"], name="event_published"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["tenant", "resource_id"], name="event_resource"),
        ),
        migrations.AddIndex(
            model_name="webhookattempt",
            index=models.Index(fields=["endpoint", "-id"], name="attempt_endpoint"),
        ),
        migrations.AddIndex(
            model_name="webhookattempt",
            index=models.Index(fields=["attempted_at"], name="attempt_time"),
        ),
        migrations.AddConstraint(
            model_name="webhookreplay",
            constraint=models.UniqueConstraint(fields=("endpoint", "event"), name="replay_once"),
        ),
        PostgreSQLOnly(
            # The transaction that wrote each source, as on the audit trail (0010): the sequencer
            # publishes in its order what no running transaction can still precede.
            sql=[
                "ALTER TABLE directory_eventsource ADD COLUMN xact xid8 NOT NULL DEFAULT pg_current_xact_id()",
                "CREATE INDEX eventsource_xact ON directory_eventsource (xact, audit_event_id)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS eventsource_xact",
                "ALTER TABLE directory_eventsource DROP COLUMN xact",
            ],
        ),
        event_source_trigger(PUBLISHED),
        migrations.RunPython(
            lambda apps, schema_editor: apps.get_model("directory", "EventFeedState").objects.get_or_create(
                pk=1
            ),
            migrations.RunPython.noop,
        ),
        migrations.RunPython(install_schedule, uninstall_schedule),
    ]
