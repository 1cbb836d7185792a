"""Okta's documented requests, replayed over HTTP as Okta sends them.

Each test sends a fixture of tests/fixtures/idp/okta/ (method, path, query and body exactly as
Okta's SCIM 2.0 reference prints them, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20;
only the placeholder ids are swapped for the ids of resources created first) and reads the
resource back to check the state it left. Okta's quirks: PUT echoes ``id``, ``meta``, ``groups``
and email ``display``; the create carries a placeholder ``password``; lookups always carry
``startIndex=1&count=100``; the group-name PATCH (with the readOnly ``id`` in its value) is re-sent
with every membership change.
"""

import json
from functools import partial

import pytest
from django.contrib.auth.hashers import check_password

from directory.models import AuditEvent, User, UserState
from directory.services import users as user_services
from tests.scim_api import idp_replay
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    LIST_URN,
    assert_scim_error,
    body_of,
    member_ids,
    read,
    version,
)

HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
USER = "23a35c27-23d3-4c03-b4c5-6443c09e7173"  # Okta's placeholder ids
OTHER_USER = "89bb1940-b905-4575-9e7f-6f887cfb368e"
GROUP = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"


fixture = partial(idp_replay.fixture, "okta")
replay = partial(idp_replay.replay, vendor="okta", headers=HEADERS)


def assert_patched(response) -> None:
    """Okta takes 200 with the resource or 204 ([O] Update a specific Group membership)."""
    assert response.status_code in (200, 204), response.content


CREATED_USER = {
    "schemas": [CORE_USER],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "active": True,
}


@pytest.fixture
def okta_user(scim) -> str:
    response = replay(scim, "create-user")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


@pytest.fixture
def other_user(scim) -> str:
    return body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "other.user@okta.local"}))["id"]


@pytest.fixture
def third_user(scim) -> str:
    return body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "third.user@okta.local"}))["id"]


# --- Users ---------------------------------------------------------------------------------------


def test_create_user(scim, okta_user):
    """readOnly ``groups: []`` is ignored; the placeholder password is stored hashed, never returned."""
    assert read(scim, "Users", okta_user) == {"id": okta_user, **CREATED_USER}
    assert check_password("1mz050nq", User.objects.get(pk=okta_user).password)


def test_create_user_custom_attributes(scim):
    response = replay(scim, "create-user-custom-attributes")
    assert response.status_code == 201, response.content
    user_id = body_of(response)["id"]
    expected = {k: v for k, v in CREATED_USER.items() if k != "externalId"}
    assert read(scim, "Users", user_id) == {"id": user_id, **expected}


def test_a_retried_create_is_a_uniqueness_conflict(scim, okta_user):
    """Okta retries a create whose answer it missed: 409 uniqueness, no second row."""
    before = AuditEvent.objects.count()
    assert_scim_error(replay(scim, "create-user"), 409, "uniqueness")
    assert User.objects.filter(user_name="test.user@okta.local").count() == 1
    assert AuditEvent.objects.count() == before


def test_get_user_by_user_name(scim, okta_user, other_user):
    """Percent-encoded (``%20``, ``%22``, ``%40``) with ``startIndex=1&count=100``; paging numbers
    are JSON integers."""
    response = replay(scim, "get-user-by-username")
    assert response.status_code == 200
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert all(type(body[key]) is int for key in ("totalResults", "startIndex", "itemsPerPage"))
    (user,) = body["Resources"]
    assert {k: v for k, v in user.items() if k != "meta"} == {"id": okta_user, **CREATED_USER}


def test_get_user_by_user_name_no_match(scim, other_user):
    """No match: an empty ListResponse (Okta also takes a 404, but the list is the RFC answer)."""
    response = replay(scim, "get-user-by-username")
    assert response.status_code == 200
    body = body_of(response)
    assert (body["totalResults"], body.get("Resources", [])) == (0, [])


def test_get_user(scim, okta_user):
    response = replay(scim, "get-user", {USER: okta_user})
    assert response.status_code == 200
    assert {k: v for k, v in body_of(response).items() if k != "meta"} == {"id": okta_user, **CREATED_USER}


def test_put_user(scim, okta_user):
    """A full replace built from the GET: echoed ``id``, ``meta``, ``groups: []`` and email
    ``display`` are accepted. PUT is a full replace (README), so what the body omits
    (displayName, locale, externalId) is cleared; the password and active are kept when omitted."""
    response = replay(scim, "put-user", {USER: okta_user})
    assert response.status_code == 200, response.content
    expected = {
        "schemas": [CORE_USER],
        "id": okta_user,
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [
            {
                "primary": True,
                "value": "test.user@okta.local",
                "type": "work",
                "display": "test.user@okta.local",
            }
        ],
        "active": True,
    }
    assert read(scim, "Users", okta_user) == expected
    assert {k: v for k, v in body_of(response).items() if k != "meta"} == expected
    assert check_password("1mz050nq", User.objects.get(pk=okta_user).password)
    assert version(scim, "Users", okta_user) == 2
    # Okta PUTs the same profile again on the next sync: nothing changes, version included.
    events = AuditEvent.objects.count()
    assert replay(scim, "put-user", {USER: okta_user}).status_code == 200
    assert read(scim, "Users", okta_user) == expected
    assert version(scim, "Users", okta_user) == 2
    assert AuditEvent.objects.count() == events


def test_put_user_echoing_the_password(scim, okta_user):
    """With password sync, Okta's PUT carries the password too (here the create's placeholder):
    the password it already has is no change, so a re-sent PUT leaves the version alone."""
    body = fixture("put-user")["body"] | {"password": "1mz050nq"}
    body_text = json.dumps(body).replace(USER, okta_user)
    assert scim.request("PUT", f"/Users/{okta_user}", raw=body_text, headers=HEADERS).status_code == 200
    assert version(scim, "Users", okta_user) == 2  # the name and emails changed, not the password
    events = AuditEvent.objects.count()
    assert scim.request("PUT", f"/Users/{okta_user}", raw=body_text, headers=HEADERS).status_code == 200
    assert version(scim, "Users", okta_user) == 2
    assert AuditEvent.objects.count() == events
    changed = body_text.replace("1mz050nq", "n3w-Passw0rd")
    assert scim.request("PUT", f"/Users/{okta_user}", raw=changed, headers=HEADERS).status_code == 200
    assert version(scim, "Users", okta_user) == 3
    assert check_password("n3w-Passw0rd", User.objects.get(pk=okta_user).password)
    (event,) = AuditEvent.objects.filter(target_id=okta_user, action="user.updated").order_by("-id")[:1]
    assert event.changes == {"password": {"before": "[redacted]", "after": "[redacted]"}}


def test_put_user_with_another_id_in_the_body_is_refused(scim, okta_user, other_user):
    response = replay(scim, "put-user", {USER: okta_user})
    assert response.status_code == 200
    body = fixture("put-user")["body"] | {"id": other_user}
    assert_scim_error(scim.put(f"/Users/{okta_user}", body), 400, "mutability")


def test_patch_user_deactivate(scim, okta_user):
    """Path-less ``replace`` with ``{"active": false}``: Okta's deprovisioning (it never DELETEs users)."""
    response = replay(scim, "patch-user-deactivate", {USER: okta_user})
    assert response.status_code == 200, response.content
    assert read(scim, "Users", okta_user) == {"id": okta_user, **CREATED_USER, "active": False}
    assert User.objects.get(pk=okta_user).state == UserState.SUSPENDED
    assert version(scim, "Users", okta_user) == 2
    assert replay(scim, "patch-user-deactivate", {USER: okta_user}).status_code == 200
    assert version(scim, "Users", okta_user) == 2
    # Reactivation is the same request with true.
    body = fixture("patch-user-deactivate")["body"]
    body["Operations"][0]["value"]["active"] = True
    assert scim.patch(f"/Users/{okta_user}", body).status_code == 200
    assert read(scim, "Users", okta_user) == {"id": okta_user, **CREATED_USER}
    assert User.objects.get(pk=okta_user).state == UserState.ACTIVE


@pytest.mark.parametrize("name", ["list-users", "list-groups"])
def test_list_pages_of_100_by_start_index(scim, tenant, system_actor, name):
    """Okta imports with ``startIndex=1&count=100``, then ``startIndex+100`` while ``totalResults``
    says there is more; the order must be stable so that no resource is skipped or repeated."""
    kind = "Users" if name == "list-users" else "Groups"
    for i in range(105):
        if kind == "Users":
            user_services.user_create(
                tenant=tenant, actor=system_actor, fields={"user_name": f"u{i:03}@okta.local"}
            )
        else:
            assert (
                scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": f"g{i:03}"}).status_code == 201
            )
    first = body_of(replay(scim, name))
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (105, 1, 100)
    second = body_of(replay(scim, name, query="startIndex=101&count=100"))
    assert (second["totalResults"], second["startIndex"], second["itemsPerPage"]) == (105, 101, 5)
    ids = [r["id"] for r in first["Resources"] + second["Resources"]]
    assert len(set(ids)) == 105
    assert [r["id"] for r in body_of(replay(scim, name))["Resources"]] == ids[:100]


# --- Groups --------------------------------------------------------------------------------------


@pytest.fixture
def okta_group(scim) -> str:
    response = replay(scim, "create-group")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


def test_create_group_with_empty_members(scim, okta_group):
    assert read(scim, "Groups", okta_group) == {
        "schemas": [CORE_GROUP],
        "id": okta_group,
        "displayName": "Test SCIMv2",
    }


def test_get_groups_by_display_name(scim, okta_group, okta_user):
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Test SCIMv2 (copy)"})
    replay(scim, "put-group-members-aiw", {GROUP: okta_group, USER: okta_user})
    response = replay(scim, "get-groups-by-displayname")
    assert response.status_code == 200
    body = body_of(response)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    (group,) = body["Resources"]
    assert group["id"] == okta_group
    assert [m["value"] for m in group["members"]] == [okta_user]


def test_get_group(scim, okta_group):
    response = replay(scim, "get-group", {GROUP: okta_group})
    assert response.status_code == 200
    assert body_of(response)["displayName"] == "Test SCIMv2"


def test_patch_group_members_remove_and_add(scim, okta_group, okta_user, other_user, third_user):
    """One request: remove through a ``value eq`` filter, add by value (members carry ``display``)."""
    scim.patch_ops(
        f"/Groups/{okta_group}",
        {"op": "add", "path": "members", "value": [{"value": other_user}, {"value": third_user}]},
    )
    ids = {GROUP: okta_group, USER: okta_user, OTHER_USER: other_user}
    assert_patched(replay(scim, "patch-group-members-remove-add", ids))
    assert member_ids(scim, okta_group) == {okta_user, third_user}
    assert version(scim, "Groups", okta_group) == 3
    (event,) = AuditEvent.objects.filter(target_id=okta_group, action="group.updated").order_by("-id")[:1]
    assert event.changes["members"] == {"added": [okta_user], "removed": [other_user]}
    assert_patched(replay(scim, "patch-group-members-remove-add", ids))
    assert version(scim, "Groups", okta_group) == 3


def test_patch_group_members_replace(scim, okta_group, okta_user, other_user, third_user):
    scim.patch_ops(
        f"/Groups/{okta_group}", {"op": "add", "path": "members", "value": [{"value": third_user}]}
    )
    ids = {GROUP: okta_group, USER: okta_user, OTHER_USER: other_user}
    assert_patched(replay(scim, "patch-group-members-replace", ids))
    assert member_ids(scim, okta_group) == {okta_user, other_user}
    assert version(scim, "Groups", okta_group) == 3
    assert_patched(replay(scim, "patch-group-members-replace", ids))
    assert version(scim, "Groups", okta_group) == 3


def test_patch_group_rename_with_read_only_id_keeps_members(scim, okta_user, other_user):
    """Path-less ``replace`` carrying the readOnly ``id``: it renames and leaves the members alone
    (a path-less replace is not a members replace); Okta re-sends it with every membership change,
    so the re-send must change nothing."""
    created = scim.post(
        "/Groups",
        {
            "schemas": [CORE_GROUP],
            "displayName": "Old name",
            "members": [{"value": okta_user}, {"value": other_user}],
        },
    )
    group = body_of(created)["id"]
    assert_patched(replay(scim, "patch-group-rename", {GROUP: group}))
    assert read(scim, "Groups", group)["displayName"] == "Test SCIMv2"
    assert member_ids(scim, group) == {okta_user, other_user}
    assert version(scim, "Groups", group) == 2
    events = AuditEvent.objects.count()
    assert_patched(replay(scim, "patch-group-rename", {GROUP: group}))
    assert version(scim, "Groups", group) == 2
    assert AuditEvent.objects.count() == events


def test_put_group_members_aiw(scim, okta_group, okta_user, other_user):
    """AIW integrations PUT the group with its full member list, without ``id``."""
    scim.patch_ops(
        f"/Groups/{okta_group}", {"op": "add", "path": "members", "value": [{"value": other_user}]}
    )
    response = replay(scim, "put-group-members-aiw", {GROUP: okta_group, USER: okta_user})
    assert response.status_code == 200, response.content
    assert read(scim, "Groups", okta_group) == {
        "schemas": [CORE_GROUP],
        "id": okta_group,
        "displayName": "Test SCIMv2",
        "members": [
            {"value": okta_user, "$ref": f"http://testserver/scim/v2/Users/{okta_user}", "type": "User"}
        ],
    }
    assert version(scim, "Groups", okta_group) == 3
    assert replay(scim, "put-group-members-aiw", {GROUP: okta_group, USER: okta_user}).status_code == 200
    assert version(scim, "Groups", okta_group) == 3


def test_delete_group(scim, okta_group, okta_user):
    replay(scim, "put-group-members-aiw", {GROUP: okta_group, USER: okta_user})
    response = replay(scim, "delete-group", {GROUP: okta_group})
    assert response.status_code == 204
    assert_scim_error(replay(scim, "get-group", {GROUP: okta_group}), 404)
    assert "groups" not in read(scim, "Users", okta_user)
    assert body_of(replay(scim, "get-groups-by-displayname"))["totalResults"] == 0
