"""Drop the foreign keys' own indexes on member_user_id and member_group_id: membership_by_user and
membership_by_group index the same columns, so every membership written two indexes too many."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0008_tenant_indexes_led_by_composites"),
    ]

    operations = [
        migrations.AlterField(
            model_name="membership",
            name="member_group",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="parent_memberships",
                to="directory.group",
            ),
        ),
        migrations.AlterField(
            model_name="membership",
            name="member_user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="directory.user",
            ),
        ),
    ]
