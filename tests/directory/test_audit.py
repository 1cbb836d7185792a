"""The audit trail is append-only, in the model and in the database."""

import pytest
from django.db import DatabaseError, connection, transaction

from directory.models import AuditEvent
from directory.services.audit import Actor, audit_record


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


def test_events_are_numbered_in_order(tenant, system_actor):
    ids = [
        audit_record(tenant=tenant, actor=system_actor, action="a", target_type="t", target_id=i).pk
        for i in range(5)
    ]
    assert ids == sorted(ids)


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
