"""Let PostgreSQL rewrite a user in place when a write changes no indexed column (a HOT update).

A PATCH of a title or a department changed ``updated_at`` too, which the ``(tenant_id,
updated_at)`` index held: so every write of a user added an entry to all of the table's indexes
(the trigram index on userName among them), not just a new row version. Without that index, and
with a tenth of each page kept free for new versions (fillfactor 90), such a write touches no index
at all. Filtering and sorting on ``meta.lastModified`` then read the tenant's users instead of an
index (about 40 ms and 60 ms at 100,000 users, benchmarks/README.md): a rare query, against every
write of an identity provider.

The fillfactor applies to pages written from now on; ``VACUUM FULL directory_user`` (or
pg_repack) applies it to an existing table.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly


class Migration(migrations.Migration):
    dependencies = [("directory", "0010_audit_transaction_ids")]

    operations = [
        migrations.RemoveIndex(model_name="user", name="user_tenant_updated"),
        PostgreSQLOnly(
            "ALTER TABLE directory_user SET (fillfactor = 90)",
            "ALTER TABLE directory_user RESET (fillfactor)",
        ),
    ]
