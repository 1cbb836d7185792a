"""New tenants require unique group names (Tenant.unique_group_names defaults to True).

Only the default changes: existing tenants keep the setting they have, since turning it on for a
directory that already holds two groups of one name would refuse the next write to either."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("directory", "0013_user_active_unassigned")]

    operations = [
        migrations.AlterField(
            model_name="tenant",
            name="unique_group_names",
            field=models.BooleanField(
                default=True,
                help_text="Refuse a group whose displayName another group has (case-insensitive).",
            ),
        ),
    ]
