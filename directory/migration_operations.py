"""Migration operations of our own."""

from django.db import migrations


class PostgreSQLOnly(migrations.RunSQL):
    """``RunSQL`` that runs on PostgreSQL and does nothing on other databases (SQLite has no
    triggers in plpgsql, expression operator classes or transaction ids)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


_AUDIT_APPEND_ONLY_SQLITE = """
CREATE TRIGGER IF NOT EXISTS directory_auditevent_no_update BEFORE UPDATE ON directory_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""


def restore_audit_append_only(apps, schema_editor):
    """For ``RunPython`` after altering a field of AuditEvent: SQLite alters a field by rebuilding
    its table, which drops the table's triggers, the append-only one (migration 0002) among them."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(_AUDIT_APPEND_ONLY_SQLITE)
