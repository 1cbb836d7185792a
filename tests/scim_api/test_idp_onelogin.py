"""OneLogin's requests, replayed over HTTP as OneLogin sends them.

OneLogin's own page (https://developers.onelogin.com/scim/implement-scim-api) lists the calls but
its example bodies could not be retrieved; the literal requests in tests/fixtures/idp/onelogin/
are THIRD-PARTY: linkyard/scim-scala ``OneLoginClientSpec`` ("Simulates calls as done by OneLogin
as of 2020-03-21"). Placeholder ids (``g-a``, ``a-id-1``) are swapped for real ones; each test
reads the resource back to check the state the request left.
"""

from functools import partial
from urllib.parse import quote

import pytest

from directory.models import User, UserState
from tests.scim_api import idp_replay
from tests.scim_api.conftest import CORE_GROUP, CORE_USER, LIST_URN, body_of, member_ids, read, version

fixture = partial(idp_replay.fixture, "onelogin")
replay = partial(idp_replay.replay, vendor="onelogin")


CREATED_USER = {
    "schemas": [CORE_USER],
    "userName": "peter.meier@example.com",
    "name": {"givenName": "Peter", "familyName": "Meier"},
    "emails": [{"primary": True, "type": "work", "value": "pm@example.com"}],
    "active": True,
}


@pytest.fixture
def onelogin_user(scim) -> str:
    """Created from the rendered SCIM JSON Template, ``schemas`` not first."""
    response = replay(scim, "create-user")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


@pytest.fixture
def onelogin_group(scim) -> str:
    """Created without a ``members`` key; members follow as PATCH adds."""
    response = replay(scim, "create-group")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


def test_create_user(scim, onelogin_user):
    assert read(scim, "Users", onelogin_user) == {"id": onelogin_user, **CREATED_USER}


@pytest.mark.parametrize(
    "query",
    [
        None,
        "filter=" + quote('userName eq "never-existing-user"'),
        'filter=userName+eq+"never-existing-user"',
    ],
    ids=["as in the source", "percent-encoded", "plus for spaces"],
)
def test_connection_test_lookup_is_an_empty_list(scim, onelogin_user, query):
    """OneLogin's connection test filters on a userName it knows does not exist and accepts an
    empty list (or a 404): Roster answers the empty ListResponse."""
    response = replay(scim, "get-user-by-username-connection-test", query=query)
    assert response.status_code == 200
    body = body_of(response)
    assert (body["schemas"], body["totalResults"], body.get("Resources", [])) == ([LIST_URN], 0, [])


def test_get_user_by_user_name_before_creating(scim):
    """'It checks first if the user already exists': absent, then found once created."""
    assert body_of(replay(scim, "get-user-by-username"))["totalResults"] == 0
    created = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "Hans.Mueller"}))
    body = body_of(replay(scim, "get-user-by-username"))  # userName is case-insensitive
    assert [r["id"] for r in body["Resources"]] == [created["id"]]


@pytest.mark.parametrize("name", ["list-users", "list-groups"])
def test_list_with_count_then_start_index(scim, onelogin_user, onelogin_group, name):
    response = replay(scim, name)
    assert response.status_code == 200
    body = body_of(response)
    expected = onelogin_user if name == "list-users" else onelogin_group
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert [r["id"] for r in body["Resources"]] == [expected]


def test_create_group(scim, onelogin_group):
    assert read(scim, "Groups", onelogin_group) == {
        "schemas": [CORE_GROUP],
        "id": onelogin_group,
        "displayName": "Group C",
    }


def test_patch_group_add_then_remove_member(scim, onelogin_user, onelogin_group):
    """Membership as PATCH add/remove on ``members`` with value arrays, no filter; the operation's
    keys in the order value, op, path."""
    other = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "other@example.com"}))["id"]
    ids = {"g-a": onelogin_group, "a-id-1": onelogin_user}
    assert replay(scim, "patch-group-add-member", ids | {"a-id-1": other}).status_code in (200, 204)
    assert replay(scim, "patch-group-add-member", ids).status_code in (200, 204)
    assert member_ids(scim, onelogin_group) == {onelogin_user, other}
    assert version(scim, "Groups", onelogin_group) == 3
    assert replay(scim, "patch-group-add-member", ids).status_code in (200, 204)
    assert version(scim, "Groups", onelogin_group) == 3
    assert [g["value"] for g in read(scim, "Users", onelogin_user)["groups"]] == [onelogin_group]

    assert replay(scim, "patch-group-remove-member", ids).status_code in (200, 204)
    assert member_ids(scim, onelogin_group) == {other}  # only the named member: not "remove all"
    assert version(scim, "Groups", onelogin_group) == 4
    assert replay(scim, "patch-group-remove-member", ids).status_code in (200, 204)
    assert version(scim, "Groups", onelogin_group) == 4
    assert "groups" not in read(scim, "Users", onelogin_user)


def test_deactivate_with_put(scim, onelogin_user):
    """Not a literal capture: the source builds this PUT from a model object. Here, the created
    body again with ``active: false``, which is what that object renders."""
    body = fixture("create-user")["body"] | {"active": False}
    response = scim.put(f"/Users/{onelogin_user}", body)
    assert response.status_code == 200, response.content
    assert read(scim, "Users", onelogin_user) == {"id": onelogin_user, **CREATED_USER, "active": False}
    assert User.objects.get(pk=onelogin_user).state == UserState.SUSPENDED
    assert version(scim, "Users", onelogin_user) == 2
    assert scim.put(f"/Users/{onelogin_user}", body).status_code == 200
    assert version(scim, "Users", onelogin_user) == 2
