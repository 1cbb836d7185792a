"""The offboarding policy as two choices (lifecycle/): what a deactivation starts and what a DELETE
starts, in place of one policy for both; and the burst guard's thresholds. A tenant's old policy
becomes both choices (immediate: delete at once; staged: delete when the grace period ends;
hr_review: delete once HR approves)."""

import datetime

from django.db import migrations, models

OLD_TO_NEW = {
    "immediate": "delete_now",
    "staged": "delete_after_grace",
    "hr_review": "delete_after_review",
}


def policies_forwards(apps, schema_editor):
    Tenant = apps.get_model("directory", "Tenant")
    for old, new in OLD_TO_NEW.items():
        Tenant.objects.filter(offboarding_policy=old).update(on_deactivate=new, on_delete=new)


def policies_backwards(apps, schema_editor):
    Tenant = apps.get_model("directory", "Tenant")
    for old, new in OLD_TO_NEW.items():
        Tenant.objects.filter(on_delete=new).update(offboarding_policy=old)
    Tenant.objects.filter(on_delete="suspend").update(offboarding_policy="hr_review")


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0017_schema_share_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="burst_count",
            field=models.PositiveIntegerField(
                default=50,
                help_text="Deprovisions within the window that quarantine the tenant (0: never by count).",
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="burst_percent",
            field=models.PositiveSmallIntegerField(
                default=10,
                help_text="Share of the tenant's users (percent) deprovisioned within the window that quarantines it (0: never by share).",
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="burst_window",
            field=models.DurationField(
                default=datetime.timedelta(seconds=900), help_text="The burst guard's window."
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="on_deactivate",
            field=models.CharField(
                choices=[
                    ("suspend", "Suspend only (an administrator decides what follows)"),
                    ("delete_after_grace", "Suspend, then delete when the grace period ends"),
                    ("delete_after_review", "Suspend, then delete once HR approves"),
                    ("delete_now", "Delete at once (the record is kept hidden until purged)"),
                ],
                default="delete_after_review",
                help_text="What an identity provider's active: false starts.",
                max_length=24,
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="on_delete",
            field=models.CharField(
                choices=[
                    ("suspend", "Suspend only (an administrator decides what follows)"),
                    ("delete_after_grace", "Suspend, then delete when the grace period ends"),
                    ("delete_after_review", "Suspend, then delete once HR approves"),
                    ("delete_now", "Delete at once (the record is kept hidden until purged)"),
                ],
                default="delete_after_review",
                help_text="What an identity provider's DELETE starts (the user is hidden at once, whatever it is).",
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="offboarding_grace_period",
            field=models.DurationField(
                default=datetime.timedelta(days=30),
                help_text="How long a deprovisioned user's record is kept before it may be deleted, so that a rehire restores the same account.",
            ),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="purge_after",
            field=models.DurationField(
                default=datetime.timedelta(days=90),
                help_text="How long a deleted user's hidden record is kept before purge.",
            ),
        ),
        migrations.RunPython(policies_forwards, policies_backwards),
        migrations.RemoveField(
            model_name="tenant",
            name="offboarding_policy",
        ),
    ]
