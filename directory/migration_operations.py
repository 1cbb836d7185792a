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


# The outbox (issue 22, directory.models.events): after each audit event whose action is published,
# the trigger adds an EventSource row with the resource's row as the transaction left it. ``actions``
# and the snapshot's columns are fixed by the migration that installs it; a migration that adds a
# user or group column, or publishes a new action, installs it again (``event_source_trigger``).
# The password hash and the SCIM tokens' hashes are never part of a snapshot.
_SNAPSHOT_EXCLUDED = {"password"}
_UUID_TEXT = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"


def event_source_trigger(actions: tuple[str, ...]):
    """A ``RunPython`` pair installing (and removing) the outbox trigger for ``actions``, with the
    user and group columns of the migration's own (historical) models."""

    def forwards(apps, schema_editor):
        models = [apps.get_model("directory", name) for name in ("User", "Group")]
        for statement in _event_source_sql(schema_editor.connection.vendor, models, actions):
            schema_editor.execute(statement)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP TRIGGER IF EXISTS roster_event_source ON directory_auditevent")
            schema_editor.execute("DROP FUNCTION IF EXISTS roster_event_source()")
        else:
            schema_editor.execute("DROP TRIGGER IF EXISTS roster_event_source")

    return migrations.RunPython(forwards, backwards)


def _event_source_sql(vendor: str, models: list, actions: tuple[str, ...]) -> list[str]:
    listed = ", ".join(f"'{action}'" for action in actions)
    if vendor == "postgresql":
        lookups = "\n".join(
            f"  {'IF' if n == 0 else 'ELSIF'} NEW.target_type = '{model._meta.model_name}' "  # noqa: S608
            f"AND NEW.target_id ~ {_UUID_TEXT} THEN\n"
            f"    SELECT to_jsonb(r) - 'password' INTO snapshot FROM {model._meta.db_table} r "
            "WHERE r.id = NEW.target_id::uuid;"
            for n, model in enumerate(models)
        )
        return [
            f"""CREATE OR REPLACE FUNCTION roster_event_source() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE snapshot jsonb;
BEGIN
{lookups}
  END IF;
  INSERT INTO directory_eventsource (audit_event_id, tenant_id, snapshot)
    VALUES (NEW.id, NEW.tenant_id, snapshot);
  RETURN NULL;
END $$""",  # noqa: S608
            "DROP TRIGGER IF EXISTS roster_event_source ON directory_auditevent",
            "CREATE TRIGGER roster_event_source AFTER INSERT ON directory_auditevent FOR EACH ROW "
            f"WHEN (NEW.action IN ({listed})) EXECUTE FUNCTION roster_event_source()",
        ]
    cases = "\n".join(
        f"    WHEN '{model._meta.model_name}' THEN (SELECT {_sqlite_object(model)} "  # noqa: S608
        f"FROM {model._meta.db_table} r WHERE r.id = replace(NEW.target_id, '-', ''))"
        for model in models
    )
    return [
        "DROP TRIGGER IF EXISTS roster_event_source",
        f"""CREATE TRIGGER roster_event_source AFTER INSERT ON directory_auditevent
WHEN NEW.action IN ({listed})
BEGIN
  INSERT INTO directory_eventsource (audit_event_id, tenant_id, snapshot) VALUES (NEW.id, NEW.tenant_id,
    CASE NEW.target_type
{cases}
    END);
END""",  # noqa: S608
    ]


def _sqlite_object(model) -> str:
    """``json_object(...)`` of the row's columns (JSON columns as JSON, not as their text)."""
    from django.db.models import JSONField

    pairs = []
    for field in model._meta.concrete_fields:
        if field.column in _SNAPSHOT_EXCLUDED:
            continue
        value = f"json(r.{field.column})" if isinstance(field, JSONField) else f"r.{field.column}"
        pairs.append(f"'{field.column}', {value}")
    return f"json_object({', '.join(pairs)})"
