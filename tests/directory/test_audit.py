"""The audit trail is append-only, in the model and in the database, and in the order it was appended."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from directory.models import AuditEvent
from directory.services.audit import Actor, _redacting, audit_event, audit_record, audit_redact
from directory.services.users import user_create, user_delete, user_update


@pytest.fixture
def event(tenant, system_actor):
    return audit_record(
        tenant=tenant, actor=system_actor, action="user.created", target_type="user", target_id="x"
    )


def test_events_cannot_be_changed_through_the_model(event):
    event.action = "user.deleted"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="user.deleted")


def test_events_cannot_be_deleted_through_the_model(event):
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()


def test_the_database_refuses_updates_from_raw_sql(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE directory_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "user.created"


def test_the_redaction_path_may_change_only_the_label_and_the_values(event, tenant, system_actor):
    """The purge's redaction (migration 0020) opens the trigger inside its transaction, for the
    label and the values only; outside it, and for anything else inside it, the database refuses."""
    with pytest.raises(DatabaseError), transaction.atomic(), _redacting(), connection.cursor() as cursor:
        cursor.execute("UPDATE directory_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    with transaction.atomic():
        redacted = audit_redact(
            tenant=tenant,
            actor=system_actor,
            target_type="user",
            target_id="x",
            personal=[],
            keep=frozenset(),
        )
    assert redacted == 1
    assert AuditEvent.objects.get(pk=event.pk).action == "user.created"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE directory_auditevent SET changes = '{}' WHERE id = %s", [event.pk])


def test_events_are_numbered_and_listed_in_the_order_they_were_appended(tenant, system_actor):
    """Ids are taken as events are inserted (directory/models/audit.py), whichever path inserts
    one: a save (``audit_record``), one statement with the write it records (``audited_writes``
    on PostgreSQL), a bulk insert (the reports of a deleted manager). The trail (``Meta.ordering``:
    ``tenant.audit_events``, the admin) lists by them, newest first; not by ``occurred_at``, which
    is when an event was built: of two writes in flight, the one built first can be appended last
    (it waited on a lock), as ``slow`` is here. Only the order is promised, not consecutive ids:
    a rolled-back transaction's numbers are not given out again."""

    def note(name):
        return audit_event(
            tenant=tenant, actor=system_actor, action="note", target_type="note", target_id=name
        )

    slow = note("slow")
    slow.occurred_at -= timedelta(seconds=1)
    note("fast").save()
    boss = user_create(tenant=tenant, actor=system_actor, fields={"user_name": "boss@example.com"})
    reports = [
        user_create(tenant=tenant, actor=system_actor, fields={"user_name": name, "manager_id": str(boss.pk)})
        for name in ("ann@example.com", "bob@example.com")
    ]
    user_update(tenant=tenant, actor=system_actor, user_id=boss.pk, fields={"title": "Boss"})
    user_delete(tenant=tenant, actor=system_actor, user_id=boss.pk)
    slow.save()

    appended = [
        ("tenant.created", "acme"),
        ("note", "fast"),
        ("user.created", "boss@example.com"),
        ("user.created", "ann@example.com"),
        ("user.created", "bob@example.com"),
        ("user.updated", "boss@example.com"),
        # One bulk insert, in the order _clear_manager lists the reports: by id.
        *[("user.updated", report.user_name) for report in sorted(reports, key=lambda user: user.pk)],
        ("user.deleted", "boss@example.com"),
        # The deletion opens the user's offboarding case (lifecycle/), in its transaction.
        ("offboarding.opened", "boss@example.com"),
        ("offboarding.review_requested", "boss@example.com"),
        ("note", "slow"),
    ]

    def listed(events):
        return [(event.action, event.target_label or event.target_id) for event in events]

    assert listed(AuditEvent.objects.filter(tenant=tenant).order_by("id")) == appended
    assert listed(tenant.audit_events.all()) == appended[::-1]


def test_creating_a_tenant_is_the_first_event_of_its_trail(tenant):
    event = tenant.audit_events.get()
    assert (event.action, event.actor_type, event.actor_label) == ("tenant.created", "system", "tests")
    assert event.changes["slug"] == {"before": None, "after": "acme"}


def test_an_event_of_no_tenant_is_kept_and_in_no_tenants_trail(tenant):
    event = audit_record(
        tenant=None,
        actor=Actor.for_client("192.0.2.1"),
        action="admin.login_failed",
        target_type="admin",
        target_id="root",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.tenant, stored.actor_type, stored.actor_label) == (None, "client", "client 192.0.2.1")
    assert not tenant.audit_events.filter(pk=event.pk).exists()
