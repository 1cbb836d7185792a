"""``attributes`` and ``excludedAttributes`` (RFC 7644 section 3.9) on reads, lists and the answers
to writes, with the ``returned`` characteristic; members not loaded when not returned."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scim_api.conftest import CORE_GROUP, CORE_USER, ENTERPRISE, assert_scim_error, body_of

DEPARTMENT = f"{ENTERPRISE}:department"


@pytest.fixture
def alice(scim):
    return scim.create_user(
        "alice@example.com",
        externalId="ext-1",
        name={"givenName": "Alice", "familyName": "Liddell"},
        displayName="Alice",
        title="Engineer",
        password="Corr3ct-Horse-1",
        emails=[
            {"value": "alice@example.com", "type": "work", "primary": True},
            {"value": "alice@home.example", "type": "home"},
        ],
        **{ENTERPRISE: {"department": "R&D", "costCenter": "CC-1"}},
    )


def test_attributes_selects_attributes_and_sub_attributes(scim, alice):
    body = body_of(scim.get(f"/Users/{alice['id']}?attributes=userName,name.givenName,emails.value"))
    assert body == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        "userName": "alice@example.com",
        "name": {"givenName": "Alice"},
        "emails": [{"value": "alice@example.com"}, {"value": "alice@home.example"}],
    }


def test_attributes_selects_extension_attributes_by_urn(scim, alice):
    assert body_of(scim.get(f"/Users/{alice['id']}?attributes={DEPARTMENT}")) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        ENTERPRISE: {"department": "R&D"},
    }
    assert body_of(scim.get(f"/Users/{alice['id']}?attributes={ENTERPRISE}")) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        ENTERPRISE: {"department": "R&D", "costCenter": "CC-1"},
    }


def test_attributes_selects_meta_sub_attributes(scim, alice):
    body = body_of(scim.get(f"/Users/{alice['id']}?attributes=meta.version,externalId"))
    assert body == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        "externalId": "ext-1",
        "meta": {"version": 'W/"1"'},
    }


def test_excluded_attributes_drops_attributes_and_sub_attributes(scim, alice):
    body = body_of(
        scim.get(f"/Users/{alice['id']}?excludedAttributes=name.givenName,emails,meta,title,{DEPARTMENT}")
    )
    expected = {k: v for k, v in alice.items() if k not in ("emails", "meta", "title")}
    expected["name"] = {"familyName": "Liddell"}
    expected[ENTERPRISE] = {"costCenter": "CC-1"}
    assert body == expected


def test_an_unknown_attribute_name_is_ignored_among_known_ones(scim, alice):
    assert body_of(scim.get(f"/Users/{alice['id']}?attributes=userName,noSuchAttribute")) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        "userName": "alice@example.com",
    }
    assert body_of(scim.get(f"/Users/{alice['id']}?excludedAttributes=noSuchAttribute")) == alice


def test_an_unknown_attribute_name_alone_selects_nothing(scim, alice):
    assert body_of(scim.get(f"/Users/{alice['id']}?attributes=noSuchAttribute")) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
    }
    assert body_of(scim.get(f"/Users/{alice['id']}?excludedAttributes=noSuchAttribute")) == alice


def test_projection_applies_to_every_listed_resource(scim, alice):
    bob = scim.create_user("bob@example.com", displayName="Bob")
    body = body_of(scim.get("/Users?attributes=displayName"))
    assert body["Resources"] == [
        {"schemas": [CORE_USER, ENTERPRISE], "id": alice["id"], "displayName": "Alice"},
        {"schemas": [CORE_USER], "id": bob["id"], "displayName": "Bob"},
    ]
    body = body_of(
        scim.get(
            "/Users?excludedAttributes=meta,emails,name,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        )
    )
    assert body["Resources"][1] == {
        "schemas": [CORE_USER],
        "id": bob["id"],
        "userName": "bob@example.com",
        "displayName": "Bob",
        "active": True,
    }
    assert set(body["Resources"][0]) == {
        "schemas",
        "id",
        "externalId",
        "userName",
        "displayName",
        "title",
        "active",
    }


def test_projection_applies_to_the_answers_to_writes(scim):
    response = scim.post(
        "/Users?attributes=userName",
        {"schemas": [CORE_USER], "userName": "alice@example.com", "displayName": "Alice"},
    )
    assert response.status_code == 201
    body = body_of(response)
    assert body == {"schemas": [CORE_USER], "id": body["id"], "userName": "alice@example.com"}
    assert response["ETag"] == 'W/"1"' and response["Location"].endswith(f"/Users/{body['id']}")

    url = f"/Users/{body['id']}"
    response = scim.put(
        f"{url}?excludedAttributes=meta,userName",
        {"schemas": [CORE_USER], "userName": "alice@example.com", "displayName": "Alice L."},
    )
    assert response.status_code == 200
    assert body_of(response) == {
        "schemas": [CORE_USER],
        "id": body["id"],
        "displayName": "Alice L.",
        "active": True,
    }
    assert response["ETag"] == 'W/"2"'

    response = scim.patch_ops(f"{url}?attributes=nickName", {"op": "add", "path": "nickName", "value": "Al"})
    assert response.status_code == 200
    assert body_of(response) == {"schemas": [CORE_USER], "id": body["id"], "nickName": "Al"}

    group = scim.post(
        "/Groups?excludedAttributes=members,meta",
        {"schemas": [CORE_GROUP], "displayName": "Team", "members": [{"value": body["id"]}]},
    )
    assert group.status_code == 201
    assert body_of(group) == {"schemas": [CORE_GROUP], "id": body_of(group)["id"], "displayName": "Team"}


def test_a_users_groups_are_returned_by_default_and_can_be_excluded(scim, alice):
    team = scim.create_group("Team", members=[alice["id"]])
    assert [g["value"] for g in body_of(scim.get(f"/Users/{alice['id']}"))["groups"]] == [team["id"]]
    assert body_of(scim.get(f"/Users/{alice['id']}?attributes=groups.display")) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": alice["id"],
        "groups": [{"display": "Team"}],
    }
    with CaptureQueriesContext(connection) as queries:
        body = body_of(scim.get(f"/Users/{alice['id']}?excludedAttributes=groups"))
    assert "groups" not in body
    assert [q["sql"] for q in queries.captured_queries if "directory_membership" in q["sql"]] == []


def _membership_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "directory_membership" in q["sql"]]


def test_excluded_members_are_not_loaded(scim, alice):
    group = scim.create_group("Team", members=[alice["id"]])
    scim.create_group("Other", members=[alice["id"]])

    with CaptureQueriesContext(connection) as queries:
        response = scim.get(f"/Groups/{group['id']}?excludedAttributes=members")
    assert response.status_code == 200
    assert body_of(response) == {k: v for k, v in group.items() if k != "members"}
    assert _membership_queries(queries) == []

    with CaptureQueriesContext(connection) as queries:
        body = body_of(scim.get("/Groups?excludedAttributes=members"))
    assert [set(g) for g in body["Resources"]] == [{"schemas", "id", "displayName", "meta"}] * 2
    assert _membership_queries(queries) == []

    with CaptureQueriesContext(connection) as queries:
        body = body_of(scim.get(f"/Groups/{group['id']}?attributes=displayName"))
    assert body == {"schemas": [CORE_GROUP], "id": group["id"], "displayName": "Team"}
    assert _membership_queries(queries) == []

    # ...and are loaded (so the check above can fail) when they are returned.
    with CaptureQueriesContext(connection) as queries:
        assert "members" in body_of(scim.get(f"/Groups/{group['id']}"))
    assert _membership_queries(queries) != []


def test_excluding_always_returned_attributes_has_no_effect(scim, alice):
    body = body_of(scim.get(f"/Users/{alice['id']}?excludedAttributes=id,schemas"))
    assert body == alice


def test_password_is_never_returned_even_when_asked_for(scim, alice):
    for query in ("attributes=password", "attributes=password,userName", "attributes=PASSWORD"):
        response = scim.get(f"/Users/{alice['id']}?{query}")
        assert b"password" not in response.content.lower() and b"Horse" not in response.content
    listed = scim.get("/Users?attributes=password")
    assert body_of(listed)["Resources"] == [{"schemas": [CORE_USER, ENTERPRISE], "id": alice["id"]}]


def test_too_many_attribute_names_are_refused(scim, alice):
    names = ",".join(["userName"] * 101)
    assert_scim_error(scim.get(f"/Users/{alice['id']}?attributes={names}"), 400, "invalidValue")
    assert_scim_error(scim.get(f"/Users?excludedAttributes={names}"), 400, "invalidValue")
