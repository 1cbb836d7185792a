"""NOTIFY roster_tokens when a token or a tenant changes, so that every process drops the tokens
it keeps in memory (directory/db/token_cache.py). PostgreSQL only; elsewhere nothing is cached.

``UPDATE OF`` lists the token columns that decide whether a token lets a request in, so recording
``last_used_at`` notifies no one; any change of a tenant notifies (the cached token carries it).
One notification per statement, and PostgreSQL folds repeats within a transaction into one.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly

FORWARDS = """
CREATE OR REPLACE FUNCTION directory_notify_token_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('roster_tokens', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER directory_scimtoken_notify
    AFTER UPDATE OF revoked_at, expires_at, secret_hash, tenant_id OR DELETE ON directory_scimtoken
    FOR EACH STATEMENT EXECUTE FUNCTION directory_notify_token_change();

CREATE TRIGGER directory_tenant_notify
    AFTER UPDATE OR DELETE ON directory_tenant
    FOR EACH STATEMENT EXECUTE FUNCTION directory_notify_token_change();
"""

BACKWARDS = """
DROP TRIGGER IF EXISTS directory_scimtoken_notify ON directory_scimtoken;
DROP TRIGGER IF EXISTS directory_tenant_notify ON directory_tenant;
DROP FUNCTION IF EXISTS directory_notify_token_change();
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0004_user_visible_index")]

    operations = [PostgreSQLOnly(FORWARDS, BACKWARDS)]
