"""A user's ``active`` may be unassigned (NULL): what a PATCH that removes it leaves (RFC 7644
section 3.5.2.2), where it was set to false before. An unassigned ``active`` is not returned and is
not active: the check constraint ties it to a state other than ``active`` (suspended), testing
``active IS NOT NULL`` explicitly, since a CHECK whose expression is NULL holds."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("directory", "0012_user_name_precis")]

    operations = [
        migrations.RemoveConstraint(model_name="user", name="user_active_matches_state"),
        migrations.AlterField(
            model_name="user",
            name="active",
            field=models.BooleanField(default=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(active__isnull=False, active=True, state="active")
                | (models.Q(active=False) | models.Q(active__isnull=True)) & ~models.Q(state="active"),
                name="user_active_matches_state",
            ),
        ),
    ]
