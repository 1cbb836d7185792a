"""Tenant isolation: a token reaches its own tenant's directory and nothing of any other, whether by
id, in lists and counts, or through references (members, manager)."""

import pytest

from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    PATCH_URN,
    assert_scim_error,
    body_of,
    snapshot,
)


@pytest.fixture
def theirs(other_scim):
    """Tenant B's data, made with B's token."""
    user = other_scim.create_user("bella@globex.example", displayName="Bella")
    group = other_scim.create_group("Globex Staff", members=[user["id"]])
    return {"user": user, "group": group}


@pytest.fixture
def ours(scim):
    user = scim.create_user("alice@acme.example", displayName="Alice")
    group = scim.create_group("Acme Staff", members=[user["id"]])
    return {"user": user, "group": group}


def _requests(kind: str, resource_id: str):
    endpoint = "/Users" if kind == "user" else "/Groups"
    url = f"{endpoint}/{resource_id}"
    replacement = (
        {"schemas": [CORE_USER], "userName": "hijacked@example.com"}
        if kind == "user"
        else {"schemas": [CORE_GROUP], "displayName": "Hijacked", "members": []}
    )
    patch = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Hijacked"}],
    }
    return [("GET", url, None), ("PUT", url, replacement), ("PATCH", url, patch), ("DELETE", url, None)]


@pytest.mark.parametrize("kind", ["user", "group"])
@pytest.mark.parametrize("base", ["/scim/v2", "/scim/acme/v2"])
def test_another_tenants_ids_are_404(scim, ours, theirs, kind, base):
    client = scim.at(base)
    before = snapshot()
    for method, url, body in _requests(kind, theirs[kind]["id"]):
        assert_scim_error(client.request(method, url, body), 404)
        assert_scim_error(client.request(method, url, body, headers={"If-Match": "*"}), 404)
        assert_scim_error(client.request(method, url, body, headers={"If-Match": 'W/"1"'}), 404)
    assert snapshot() == before
    # ...while its own resources are served.
    assert client.get(f"/{'Users' if kind == 'user' else 'Groups'}/{ours[kind]['id']}").status_code == 200


def test_lists_and_totals_show_only_the_tokens_tenant(scim, other_scim, ours, theirs):
    for endpoint, kind in (("/Users", "user"), ("/Groups", "group")):
        body = body_of(scim.get(endpoint))
        assert body["totalResults"] == 1
        assert [r["id"] for r in body["Resources"]] == [ours[kind]["id"]]
        assert body_of(scim.get(f"{endpoint}?count=0"))["totalResults"] == 1
        assert body_of(scim.get(f"{endpoint}?startIndex=2"))["totalResults"] == 1
        other = body_of(other_scim.get(endpoint))
        assert [r["id"] for r in other["Resources"]] == [theirs[kind]["id"]]
    found = body_of(scim.get('/Users?filter=userName eq "bella@globex.example"'))
    assert (found["totalResults"], found.get("Resources", [])) == (0, [])


def test_a_user_name_may_exist_in_two_tenants(scim, other_scim, theirs):
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "bella@globex.example"})
    assert response.status_code == 201
    assert body_of(response)["id"] != theirs["user"]["id"]


def test_member_and_group_views_never_cross_tenants(scim, ours, theirs):
    user = body_of(scim.get(f"/Users/{ours['user']['id']}"))
    assert [g["value"] for g in user["groups"]] == [ours["group"]["id"]]
    group = body_of(scim.get(f"/Groups/{ours['group']['id']}"))
    assert [m["value"] for m in group["members"]] == [ours["user"]["id"]]


@pytest.mark.parametrize("kind", ["user", "group"])
def test_another_tenants_user_or_group_cannot_become_a_member(scim, ours, theirs, kind):
    foreign = {"value": theirs[kind]["id"]}
    url = f"/Groups/{ours['group']['id']}"
    before = snapshot()
    assert_scim_error(
        scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "New", "members": [foreign]}),
        400,
        "invalidValue",
    )
    assert_scim_error(
        scim.patch_ops(url, {"op": "add", "path": "members", "value": [foreign]}), 400, "invalidValue"
    )
    assert_scim_error(
        scim.patch_ops(url, {"op": "replace", "path": "members", "value": [foreign]}), 400, "invalidValue"
    )
    assert_scim_error(
        scim.put(url, {"schemas": [CORE_GROUP], "displayName": "Acme Staff", "members": [foreign]}),
        400,
        "invalidValue",
    )
    assert snapshot() == before


def test_removing_another_tenants_member_changes_nothing_there(scim, ours, theirs, other_scim):
    url = f"/Groups/{ours['group']['id']}"
    response = scim.patch_ops(url, {"op": "remove", "path": f'members[value eq "{theirs["user"]["id"]}"]'})
    assert response.status_code in (200, 204)
    assert response["ETag"] == ours["group"]["meta"]["version"]  # nothing removed here either
    their_group = body_of(other_scim.get(f"/Groups/{theirs['group']['id']}"))
    assert [m["value"] for m in their_group["members"]] == [theirs["user"]["id"]]


def test_another_tenants_user_cannot_be_a_manager(scim, ours, theirs):
    before = snapshot()
    manager = {ENTERPRISE: {"manager": {"value": theirs["user"]["id"]}}}
    assert_scim_error(
        scim.post("/Users", {"schemas": [CORE_USER, ENTERPRISE], "userName": "new@acme.example", **manager}),
        400,
        "invalidValue",
    )
    assert_scim_error(
        scim.patch_ops(
            f"/Users/{ours['user']['id']}",
            {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": theirs["user"]["id"]}},
        ),
        400,
        "invalidValue",
    )
    assert snapshot() == before
