"""The audit trail of SCIM writes: one event per create, update and delete, attributed to the token
and the request id, with each changed attribute's before and after; secrets redacted; no event for
a write that changes nothing or is refused."""

import json

import pytest

from directory.models import ActorType, AuditEvent
from tests.scim_api.conftest import CORE_GROUP, CORE_USER, ENTERPRISE, body_of, read, version


def events(tenant, **filters) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(tenant=tenant, **filters)
        .exclude(target_type__in=("tenant", "token"))
        .order_by("id")
    )


def assert_attributed(event: AuditEvent, token, request_id: str) -> None:
    assert event.actor_type == ActorType.TOKEN
    assert event.actor_token_id == token.pk
    assert event.actor_label == f"token {token.name}"
    assert event.request_id == request_id


def test_create_records_one_event_with_token_request_id_and_values(scim, tenant, token):
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER],
            "userName": "alice@example.com",
            "displayName": "Alice",
            "password": "Corr3ct-Horse-Battery",
            "emails": [{"value": "alice@example.com", "primary": True}],
        },
        headers={"X-Request-ID": "okta-req-0001"},
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "okta-req-0001"
    user_id = body_of(response)["id"]

    (event,) = events(tenant)
    assert (event.action, event.target_type, event.target_id, event.target_label) == (
        "user.created",
        "user",
        user_id,
        "alice@example.com",
    )
    assert_attributed(event, token, "okta-req-0001")
    assert event.changes["user_name"] == {"before": None, "after": "alice@example.com"}
    assert event.changes["display_name"] == {"before": None, "after": "Alice"}
    assert event.changes["emails"] == {
        "before": None,
        "after": [{"value": "alice@example.com", "primary": True}],
    }
    assert event.changes["password"] == {"before": None, "after": "[redacted]"}
    assert "Corr3ct-Horse-Battery" not in json.dumps(event.changes)


def test_update_records_only_what_changed(scim, tenant, token):
    alice = scim.create_user("alice@example.com", displayName="Alice", title="Engineer")
    response = scim.patch_ops(
        f"/Users/{alice['id']}",
        {"op": "replace", "path": "displayName", "value": "Alice L."},
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "replace", "path": "password", "value": "N3w-Horse-Battery"},
        headers={"X-Request-ID": "req-2"},
    )
    assert response.status_code == 200 and response["X-Request-ID"] == "req-2"
    (event,) = events(tenant, action="user.updated")
    assert (event.target_id, event.target_label) == (alice["id"], "alice@example.com")
    assert_attributed(event, token, "req-2")
    assert event.changes == {
        "display_name": {"before": "Alice", "after": "Alice L."},
        "password": {"before": "[redacted]", "after": "[redacted]"},
    }
    assert "N3w-Horse-Battery" not in json.dumps(event.changes)


def test_put_records_cleared_attributes(scim, tenant):
    alice = scim.create_user("alice@example.com", nickName="Al")
    scim.put(
        f"/Users/{alice['id']}", {"schemas": [CORE_USER], "userName": "alice@example.com", "title": "CTO"}
    )
    (event,) = events(tenant, action="user.updated")
    assert event.changes == {
        "nick_name": {"before": "Al", "after": ""},
        "title": {"before": "", "after": "CTO"},
    }


def test_delete_records_one_event(scim, tenant, token):
    alice = scim.create_user("alice@example.com")
    team = scim.create_group("Team", members=[alice["id"]])
    assert scim.delete(f"/Users/{alice['id']}", headers={"X-Request-ID": "req-del"}).status_code == 204
    (event,) = events(tenant, action="user.deleted")
    assert event.target_id == alice["id"]
    assert_attributed(event, token, "req-del")
    assert event.changes["groups"] == {"before": [team["id"]], "after": []}
    assert event.changes["state"]["after"] == "deleted"
    # created, deleted, and the offboarding case the delete opens (lifecycle/): opened, sent for review
    assert [e.action for e in events(tenant, target_id=alice["id"])] == [
        "user.created",
        "user.deleted",
        "offboarding.opened",
        "offboarding.review_requested",
    ]


def test_deleting_a_manager_records_an_update_of_each_report(scim, tenant, token):
    """The reports lose their manager as if the identity provider had cleared it: a new version
    and a user.updated event each, attributed to the delete's token and request."""
    boss = scim.create_user("boss@example.com")["id"]
    manager = {ENTERPRISE: {"manager": {"value": boss}}}
    reports = [scim.create_user(f"r{i}@example.com", **manager)["id"] for i in range(2)]
    other = scim.create_user("other@example.com")["id"]
    before = {pk: version(scim, "Users", pk) for pk in (*reports, other)}
    assert scim.delete(f"/Users/{boss}", headers={"X-Request-ID": "entra-del-1"}).status_code == 204

    for report in reports:
        (event,) = events(tenant, target_id=report, action="user.updated")
        assert event.changes == {"manager_id": {"before": boss, "after": None}}
        assert_attributed(event, token, "entra-del-1")
        assert version(scim, "Users", report) == before[report] + 1
        assert ENTERPRISE not in read(scim, "Users", report)
    assert version(scim, "Users", other) == before[other]
    assert not events(tenant, target_id=other, action="user.updated")


def test_group_writes_record_one_event_each(scim, tenant, token):
    alice = scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    response = scim.post(
        "/Groups",
        {"schemas": [CORE_GROUP], "displayName": "Team", "members": [{"value": alice["id"]}]},
        headers={"X-Request-ID": "g-1"},
    )
    group = body_of(response)
    (created,) = events(tenant, action="group.created")
    assert_attributed(created, token, "g-1")
    assert created.changes["display_name"] == {"before": None, "after": "Team"}
    assert created.changes["members"] == {"before": [], "after": [alice["id"]]}

    scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
        {"op": "replace", "path": "displayName", "value": "Team 2"},
        headers={"X-Request-ID": "g-2"},
    )
    (updated,) = events(tenant, action="group.updated")
    assert_attributed(updated, token, "g-2")
    assert updated.changes == {
        "display_name": {"before": "Team", "after": "Team 2"},
        "members": {"added": [bob["id"]], "removed": [alice["id"]]},
    }

    assert scim.delete(f"/Groups/{group['id']}", headers={"X-Request-ID": "g-3"}).status_code == 204
    (deleted,) = events(tenant, action="group.deleted")
    assert_attributed(deleted, token, "g-3")
    assert deleted.target_id == group["id"]


@pytest.mark.parametrize(
    "write",
    ["same put", "same patch", "existing member", "remove absent"],
)
def test_a_write_that_changes_nothing_records_nothing(scim, tenant, write):
    alice = scim.create_user("alice@example.com", displayName="Alice")
    group = scim.create_group("Team", members=[alice["id"]])
    count = AuditEvent.objects.count()
    response = {
        "same put": lambda: scim.put(
            f"/Users/{alice['id']}", {k: v for k, v in alice.items() if k != "meta"}
        ),
        "same patch": lambda: scim.patch_ops(
            f"/Users/{alice['id']}", {"op": "replace", "path": "displayName", "value": "Alice"}
        ),
        "existing member": lambda: scim.patch_ops(
            f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": alice["id"]}]}
        ),
        "remove absent": lambda: scim.patch_ops(f"/Users/{alice['id']}", {"op": "remove", "path": "title"}),
    }[write]()
    assert response.status_code in (200, 204)  # a group PATCH may answer 204 (RFC 7644 section 3.5.2)
    assert AuditEvent.objects.count() == count


def test_a_refused_write_records_nothing(scim):
    alice = scim.create_user("alice@example.com")
    count = AuditEvent.objects.count()
    assert scim.post("/Users", {"schemas": [CORE_USER], "userName": "ALICE@example.com"}).status_code == 409
    assert scim.patch_ops(f"/Users/{alice['id']}", {"op": "remove", "path": "userName"}).status_code == 400
    assert scim.delete(f"/Users/{alice['id']}", headers={"If-Match": 'W/"9"'}).status_code == 412
    assert AuditEvent.objects.count() == count


@pytest.mark.parametrize("sent", [None, "", "has spaces", "x" * 65, "semi;colon", "tab\there", 'quote"d'])
def test_a_missing_or_unusable_request_id_is_replaced_by_a_generated_one(scim, tenant, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "alice@example.com"}, headers=headers)
    assert response.status_code == 201
    echoed = response["X-Request-ID"]
    assert echoed and echoed != sent and len(echoed) <= 64
    (event,) = events(tenant)
    assert event.request_id == echoed


def test_every_answer_echoes_the_request_id(scim, anonymous):
    for response in (
        scim.get("/Users", headers={"X-Request-ID": "abc-123"}),
        scim.get("/Users/nope", headers={"X-Request-ID": "abc-123"}),
        anonymous.get("/Users", headers={"X-Request-ID": "abc-123"}),
        anonymous.get("/Schemas", headers={"X-Request-ID": "abc-123"}),
    ):
        assert response["X-Request-ID"] == "abc-123"
