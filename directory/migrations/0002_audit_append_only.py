"""Refuse UPDATE of audit events in the database itself, whatever code runs against it."""

from django.db import migrations

SQL = {
    "postgresql": (
        """
        CREATE FUNCTION directory_audit_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER directory_auditevent_no_update BEFORE UPDATE ON directory_auditevent
            FOR EACH ROW EXECUTE FUNCTION directory_audit_append_only();
        """,
        """
        DROP TRIGGER directory_auditevent_no_update ON directory_auditevent;
        DROP FUNCTION directory_audit_append_only();
        """,
    ),
    "sqlite": (
        """
        CREATE TRIGGER directory_auditevent_no_update BEFORE UPDATE ON directory_auditevent
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        """,
        "DROP TRIGGER directory_auditevent_no_update;",
    ),
}


def forwards(apps, schema_editor):
    schema_editor.execute(SQL[schema_editor.connection.vendor][0])


def backwards(apps, schema_editor):
    schema_editor.execute(SQL[schema_editor.connection.vendor][1])


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
