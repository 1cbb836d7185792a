"""PostgreSQL: ``name.familyName sw "A"`` (admins' surname search) through an index.

The filter compiles to Django's ``istartswith``, ``UPPER(name_family_name::text) LIKE 'A%'``, which
only an index on that very expression serves (``text_pattern_ops``: a prefix LIKE whatever the
collation). ANALYZE also keeps statistics on an indexed expression: without them PostgreSQL guessed
0.5% of users match a surname initial (it is about 4%) and read a 10,000-user directory whole for
a page of a filter combining it. SQLite has no expression operator classes: nothing there.
"""

from django.db import migrations

from directory.migration_operations import PostgreSQLOnly

NAME = "user_family_name_prefix"
DEFINITION = "directory_user (tenant_id, upper(name_family_name::text) text_pattern_ops)"


class Migration(migrations.Migration):
    dependencies = [("directory", "0005_token_change_notifications")]

    operations = [
        PostgreSQLOnly(f"CREATE INDEX IF NOT EXISTS {NAME} ON {DEFINITION}", f"DROP INDEX IF EXISTS {NAME}")
    ]
