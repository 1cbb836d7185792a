"""``roster_schema_share(namespace, tenant)``: the shared schema lock of a write and the tenant's
``extensions_stamp`` as it is once the lock is held, in one round trip (PostgreSQL only;
``directory.services.locks.schema_share``).

The stamp is read by a statement of its own inside the function: a VOLATILE function's statements
each take a new snapshot under READ COMMITTED, so it sees a change of declarations that committed
while the lock was waited for. Read in the statement that takes the lock, it would not.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly

FORWARDS = """
CREATE OR REPLACE FUNCTION roster_schema_share(namespace integer, tenant bigint) RETURNS uuid AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(namespace, tenant::integer);
    RETURN (SELECT extensions_stamp FROM directory_tenant WHERE id = tenant);
END
$$ LANGUAGE plpgsql VOLATILE;
"""

BACKWARDS = "DROP FUNCTION IF EXISTS roster_schema_share(integer, bigint);"


class Migration(migrations.Migration):
    dependencies = [("directory", "0016_tenant_extension_schemas")]

    operations = [PostgreSQLOnly(FORWARDS, BACKWARDS)]
