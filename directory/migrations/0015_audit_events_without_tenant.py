"""Audit events that belong to no tenant: the admin login's failures, lockouts and unlocks
(directory/lockouts.py), written by an unauthenticated client, a new kind of actor.

Readers of a tenant's trail filter on its id, which a NULL never equals, so none of them sees
these events. SQLite alters a field by rebuilding its table, which drops the append-only trigger
(migration 0002): it is created again after, as in migration 0008."""

import django.db.models.deletion
from django.db import migrations, models

from directory.migration_operations import restore_audit_append_only


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0014_tenant_unique_group_names_default"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor_type",
            field=models.CharField(
                choices=[
                    ("token", "SCIM token"),
                    ("admin", "Administrator"),
                    ("system", "System task"),
                    ("client", "Unauthenticated client"),
                ],
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="tenant",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_events",
                to="directory.tenant",
            ),
        ),
        migrations.RunPython(restore_audit_append_only, migrations.RunPython.noop),
    ]
