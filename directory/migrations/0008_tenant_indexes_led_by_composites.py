"""Drop the foreign keys' own indexes on tenant_id for users, their values and audit events: each
table has composite indexes that lead with tenant_id and serve every query by tenant, and every
index is one more to write per row (at 100,000 users, /Bulk seeding spent most of its time in
PostgreSQL writing rows and their indexes).

SQLite alters a field by rebuilding its table, which drops the table's triggers: the audit trail's
append-only trigger (migration 0002) is created again after it."""

import django.db.models.deletion
from django.db import migrations, models

from directory.migration_operations import restore_audit_append_only


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0007_covering_filter_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_events",
                to="directory.tenant",
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="users",
                to="directory.tenant",
            ),
        ),
        migrations.AlterField(
            model_name="uservalue",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="directory.tenant",
            ),
        ),
        migrations.RunPython(restore_audit_append_only, migrations.RunPython.noop),
    ]
