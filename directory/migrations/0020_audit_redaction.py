"""The audit trail stays append-only, with one exception: the purge of a person's record may redact
their values in the events about them (``directory.services.audit.audit_redact``), and only those
values (``target_label``, ``changes``). The trigger of migration 0002 lets an UPDATE through only
inside that path (PostgreSQL: the transaction-local setting ``roster.audit_redaction``; SQLite: a
row of a flag table that exists only inside the redacting transaction), and only when who acted,
what, on what and when are unchanged. Plus the tenant's choice to keep those values instead."""

from django.db import migrations, models

from directory.migration_operations import PostgreSQLOnly, restore_audit_append_only

POSTGRESQL = """
CREATE OR REPLACE FUNCTION directory_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('roster.audit_redaction', true) = 'on'
        AND NEW.id = OLD.id
        AND NEW.tenant_id IS NOT DISTINCT FROM OLD.tenant_id
        AND NEW.occurred_at = OLD.occurred_at
        AND NEW.actor_type = OLD.actor_type
        AND NEW.actor_token_id IS NOT DISTINCT FROM OLD.actor_token_id
        AND NEW.actor_admin_id IS NOT DISTINCT FROM OLD.actor_admin_id
        AND NEW.actor_label = OLD.actor_label
        AND NEW.action = OLD.action
        AND NEW.target_type = OLD.target_type
        AND NEW.target_id = OLD.target_id
        AND NEW.request_id = OLD.request_id
        AND NEW.xact IS NOT DISTINCT FROM OLD.xact
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
"""

POSTGRESQL_BACK = """
CREATE OR REPLACE FUNCTION directory_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
"""


def sqlite_forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS directory_auditevent_no_update")
        restore_audit_append_only(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("directory", "0019_user_deleted_by_name")]

    operations = [
        PostgreSQLOnly(POSTGRESQL, POSTGRESQL_BACK),
        migrations.RunPython(sqlite_forwards, migrations.RunPython.noop),
        migrations.AddField(
            model_name="tenant",
            name="purge_redacts_audit",
            field=models.BooleanField(
                default=True,
                help_text="When a purge removes a person's record, redact their values (names, addresses, "
                "userName) in the audit events about them, keeping who did what and when. Off: the trail "
                "keeps them until its own retention ends (a regulator's full trail).",
            ),
        ),
    ]
