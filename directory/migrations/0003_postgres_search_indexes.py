"""PostgreSQL indexes for the filters identity providers send before they provision.

The B-tree indexes declared on the models serve ``eq`` (userName, externalId, displayName and
emails.value through their casefolded ``*_key`` columns). These add what only PostgreSQL has:

- ``sw``: ``LIKE 'x%'`` can use a B-tree index only when it compares in the C collation, so the
  prefix index uses ``varchar_pattern_ops`` (whatever the database's collation);
- ``co``: ``LIKE '%x%'`` through pg_trgm GIN trigram indexes, on userName and on the values of
  multi-valued attributes (emails.value).

They are created here, not on the models, because SQLite has no operator classes, trigram
indexes or extensions: on SQLite this migration does nothing.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly

INDEXES = {
    "user_display_name_prefix": (
        "directory_user",
        "btree (tenant_id, display_name_key varchar_pattern_ops)",
    ),
    "user_user_name_trgm": ("directory_user", "gin (user_name_key gin_trgm_ops)"),
    "user_value_key_trgm": ("directory_uservalue", "gin (value_key gin_trgm_ops)"),
}


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_audit_append_only")]

    operations = [
        PostgreSQLOnly(
            [
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                *(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {how}"
                    for name, (table, how) in INDEXES.items()
                ),
            ],
            # The pg_trgm extension stays: other objects may use it, and it costs nothing unused.
            [f"DROP INDEX IF EXISTS {name}" for name in INDEXES],
        )
    ]
