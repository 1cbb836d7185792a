"""Outbound events (issue 22): each type drawn from a real write, as the feed serves it.

The sequencer (directory.services.events) numbers what has committed; inside a test's transaction
it publishes that transaction's own events, so these tests see their writes' events at once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from directory.models import AuditEvent, Event, EventSource, User
from directory.services.audit import Actor
from directory.services.events import EVENT_TYPES, events_sequence
from directory.services.tokens import api_key_create, token_create, token_revoke
from tests.scim_api.conftest import Scim, scim, token, token_pair  # noqa: F401

pytestmark = pytest.mark.django_db


def published() -> list[dict]:
    events_sequence()
    return [e.payload | {"cursor": str(e.pk)} for e in Event.objects.order_by("pk")]


def of_type(kind: str) -> list[dict]:
    return [e for e in published() if e["type"] == kind]


def test_a_created_user_is_published_as_scim_renders_it(scim, tenant):  # noqa: F811
    created = scim.create_user("ada@example.com", name={"givenName": "Ada", "familyName": "Lovelace"})
    [event] = of_type("user.created")
    assert event["id"].startswith("evt_") and "." not in event["id"]
    assert event["tenant"] == {"id": tenant.pk, "slug": "acme"}
    assert event["actor"]["type"] == "token"
    assert event["request_id"]
    data = event["data"]
    assert data["id"] == created["id"] and data["resource_type"] == "User"
    assert data["version"] == created["meta"]["version"]
    resource = data["resource"]
    assert resource["userName"] == "ada@example.com"
    assert resource["name"]["familyName"] == "Lovelace"
    assert resource["meta"]["location"].endswith(f"/scim/v2/Users/{created['id']}")
    assert "groups" not in resource and "password" not in resource
    assert not EventSource.objects.exists()  # consumed


def test_an_update_carries_the_previous_attributes(scim):  # noqa: F811
    created = scim.create_user("ada@example.com", title="Analyst", displayName="Ada")
    scim.patch_ops(
        f"/Users/{created['id']}",
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "replace", "path": "displayName", "value": "Ada L."},
    )
    [event] = of_type("user.updated")
    assert event["data"]["resource"]["title"] == "Engineer"
    assert event["data"]["previous_attributes"] == {"title": "Analyst", "displayName": "Ada"}
    assert event["data"]["version"] == 'W/"2"'


def test_the_resource_is_as_committed_not_as_it_is_later(scim):  # noqa: F811
    created = scim.create_user("ada@example.com", title="One")
    scim.patch_ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "Two"})
    scim.patch_ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "Three"})
    titles = [e["data"]["resource"]["title"] for e in published() if e["type"].startswith("user.")]
    assert titles == ["One", "Two", "Three"]


def test_suspension_reactivation_deletion(scim):  # noqa: F811
    created = scim.create_user("ada@example.com")
    path = f"/Users/{created['id']}"
    scim.patch_ops(path, {"op": "replace", "path": "active", "value": False})
    scim.patch_ops(path, {"op": "replace", "path": "active", "value": True})
    assert scim.delete(path).status_code == 204
    kinds = [e["type"] for e in published() if e["type"].startswith("user.")]
    assert kinds == ["user.created", "user.suspended", "user.reactivated", "user.deleted"]
    [suspended] = of_type("user.suspended")
    assert suspended["data"]["previous_attributes"] == {"active": True}
    [deleted] = of_type("user.deleted")
    assert deleted["data"] == {"resource_type": "User", "id": created["id"], "version": 'W/"4"'}


def test_group_events_and_one_event_per_member(scim):  # noqa: F811
    ada = scim.create_user("ada@example.com")
    bob = scim.create_user("bob@example.com")
    group = scim.create_group("Engineering", members=[ada["id"]])
    path = f"/Groups/{group['id']}"
    scim.patch_ops(path, {"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
    scim.patch_ops(path, {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'})
    scim.patch_ops(path, {"op": "replace", "path": "displayName", "value": "Platform"})
    assert scim.delete(path).status_code == 204
    kinds = [e["type"] for e in published() if e["type"].startswith("group.")]
    assert kinds == [
        "group.created",
        "group.user_added",
        "group.user_added",
        "group.user_removed",
        "group.updated",
        "group.deleted",
    ]
    added = of_type("group.user_added")
    assert [a["data"]["member"] for a in added] == [
        {"value": ada["id"], "type": "User"},
        {"value": bob["id"], "type": "User"},
    ]
    assert added[0]["data"]["group"]["displayName"] == "Engineering"
    [created] = of_type("group.created")
    assert "members" not in created["data"]["resource"]
    [renamed] = of_type("group.updated")
    assert renamed["data"]["previous_attributes"] == {"displayName": "Engineering"}


def test_a_large_member_change_is_listed_in_events_of_up_to_a_thousand(scim, tenant):  # noqa: F811
    users = [scim.create_user(f"u{n}@example.com")["id"] for n in range(101)]
    group = scim.create_group("Everyone")
    Event.objects.all().delete()
    published()
    Event.objects.all().delete()
    scim.patch_ops(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": u} for u in users]}
    )
    [event] = of_type("group.user_added")
    assert sorted(m["value"] for m in event["data"]["members"]) == sorted(users)
    assert "member" not in event["data"]


def test_token_events(tenant):
    actor = Actor.system("tests")
    okta, _ = token_create(tenant=tenant, name="okta", actor=actor)
    token_revoke(token=okta, actor=actor)
    kinds = [e["type"] for e in published()]
    assert kinds == ["token.created", "token.revoked"]
    assert of_type("token.revoked")[0]["data"]["token"]["id"] == okta.pk


def test_what_is_not_published_makes_no_event(tenant):
    api_key_create(tenant=tenant, name="billing", actor=Actor.system("tests"))
    assert published() == []


def test_every_type_is_listed_once():
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES)) == 21


def test_the_trigger_publishes_exactly_the_actions_the_sequencer_draws():
    """Migration 0028's trigger lists the actions; a new one must be added to both."""
    from directory.migrations import __path__ as migrations_path  # noqa: F401
    from directory.services.events import PUBLISHED_ACTIONS

    module = __import__("directory.migrations.0028_events", fromlist=["PUBLISHED"])
    assert set(module.PUBLISHED) == set(PUBLISHED_ACTIONS)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_sqlite_trigger_snapshots_every_user_and_group_column():
    """A migration that adds a user or group column re-installs the trigger (event_source_trigger)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type='trigger' AND name='roster_event_source'")
        sql = cursor.fetchone()[0]
    from directory.models import Group

    for model in (User, Group):
        for field in model._meta.concrete_fields:
            if field.column != "password":
                assert f"'{field.column}'" in sql, (model.__name__, field.column)
    assert "'password'" not in sql


def test_an_event_of_a_rolled_back_write_never_exists(tenant):
    from django.db import transaction

    def rolled_back():
        with transaction.atomic():
            token_create(tenant=tenant, name="okta", actor=Actor.system("tests"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        rolled_back()
    assert published() == []
    assert not AuditEvent.objects.filter(action="token.created").exists()


def test_occurred_at_is_the_writes_time(scim):  # noqa: F811
    before = timezone.now()
    scim.create_user("ada@example.com")
    [event] = of_type("user.created")
    from datetime import datetime

    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= at <= timezone.now()


def test_signals_are_sent_in_process_after_the_publication_commits(scim, django_capture_on_commit_callbacks):  # noqa: F811
    from directory.services.events import EVENT_SIGNALS, event_published

    every, created = [], []

    def broken(**kwargs):
        raise RuntimeError("a receiver's own bug")

    def on_any(sender, event, type, **kwargs):
        every.append(type)

    def on_created(sender, event, **kwargs):
        created.append(event)

    event_published.connect(broken)
    event_published.connect(on_any)
    EVENT_SIGNALS["user.created"].connect(on_created)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            scim.create_user("ada@example.com")
            events_sequence()
            assert every == []  # not before the commit
        assert callbacks
        assert every == ["token.created", "user.created"]  # the broken receiver stopped no one
        assert created[0]["data"]["resource"]["userName"] == "ada@example.com"
        assert created[0]["cursor"] == str(Event.objects.get(type="user.created").pk)
    finally:
        event_published.disconnect(broken)
        event_published.disconnect(on_any)
        EVENT_SIGNALS["user.created"].disconnect(on_created)


def test_a_row_that_cannot_be_rendered_stops_no_publication(scim, caplog):  # noqa: F811
    ada = scim.create_user("ada@example.com")
    scim.create_user("bob@example.com")
    source = EventSource.objects.get(snapshot__user_name="ada@example.com")
    source.snapshot = {**source.snapshot, "created_at": "not a time", "emails": {"not": "a list"}}
    source.save()
    events = {e["data"]["id"]: e for e in of_type("user.created")}
    assert events[ada["id"]]["data"]["incomplete"] is True
    assert "resource" not in events[ada["id"]]["data"]
    [bob] = [e for i, e in events.items() if i != ada["id"]]
    assert bob["data"]["resource"]["userName"] == "bob@example.com"
    assert "not read" in caplog.text or "not rendered" in caplog.text or "not drawn" in caplog.text
