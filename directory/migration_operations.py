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


# The flag of the one privileged path that may rewrite events (``directory.services.audit.
# audit_redact``): on SQLite a row of this table, present only inside the redacting transaction
# (SQLite has one writer at a time, and readers see only what is committed); on PostgreSQL the
# transaction-local setting ``roster.audit_redaction`` (migration 0020). Even then only the
# event's ``target_label`` and ``changes`` may change: who acted, what, on what and when stay.
_REDACTION_FLAG_SQLITE = "CREATE TABLE IF NOT EXISTS directory_audit_redaction (flag INTEGER NOT NULL)"
_AUDIT_APPEND_ONLY_SQLITE = """
CREATE TRIGGER IF NOT EXISTS directory_auditevent_no_update BEFORE UPDATE ON directory_auditevent
WHEN NOT EXISTS (SELECT 1 FROM directory_audit_redaction)
    OR NEW.id IS NOT OLD.id OR NEW.tenant_id IS NOT OLD.tenant_id OR NEW.occurred_at IS NOT OLD.occurred_at
    OR NEW.actor_type IS NOT OLD.actor_type OR NEW.actor_token_id IS NOT OLD.actor_token_id
    OR NEW.actor_admin_id IS NOT OLD.actor_admin_id OR NEW.actor_label IS NOT OLD.actor_label
    OR NEW.action IS NOT OLD.action OR NEW.target_type IS NOT OLD.target_type
    OR NEW.target_id IS NOT OLD.target_id OR NEW.request_id IS NOT OLD.request_id
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""


def restore_audit_append_only(apps, schema_editor):
    """For ``RunPython`` after altering a field of AuditEvent: SQLite alters a field by rebuilding
    its table, which drops the table's triggers, the append-only one (migration 0002) among them."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(_REDACTION_FLAG_SQLITE)
        schema_editor.execute(_AUDIT_APPEND_ONLY_SQLITE)
