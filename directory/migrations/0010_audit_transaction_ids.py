"""Every audit event records the id of the transaction that wrote it (PostgreSQL only).

``directory_auditevent.xact`` defaults to ``pg_current_xact_id()``, so no code writes it and the
model does not name it. With it, ``directory.db.query_memory`` tells whether any write of a tenant
committed outside a given snapshot, which is how it knows a remembered total still holds, without
a cache round trip on every write. Indexed by tenant: the question is two index probes.

The default is set after the column is added, so that adding it rewrites no table: events written
before have no id, and are older than any snapshot taken since.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly

FORWARDS = """
ALTER TABLE directory_auditevent ADD COLUMN xact xid8;
ALTER TABLE directory_auditevent ALTER COLUMN xact SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_tenant_xact ON directory_auditevent (tenant_id, xact);
"""

BACKWARDS = """
DROP INDEX IF EXISTS audit_tenant_xact;
ALTER TABLE directory_auditevent DROP COLUMN IF EXISTS xact;
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0009_membership_indexes_once")]

    operations = [PostgreSQLOnly(FORWARDS, BACKWARDS)]
