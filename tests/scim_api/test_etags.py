"""Versions as entity tags (RFC 7644 section 3.14): If-Match guards writes, If-None-Match saves reads."""

import pytest

from tests.scim_api.conftest import CORE_GROUP, CORE_USER, assert_scim_error, body_of, snapshot


@pytest.fixture
def alice(scim):
    return scim.create_user("alice@example.com", displayName="Alice")


def test_get_carries_the_etag(scim, alice):
    response = scim.get(f"/Users/{alice['id']}")
    assert response["ETag"] == 'W/"1"' == body_of(response)["meta"]["version"]


@pytest.mark.parametrize("header", ['W/"1"', '"1"', "*", 'W/"7", W/"1"'])
def test_if_none_match_on_the_current_version_is_304(scim, alice, header):
    response = scim.get(f"/Users/{alice['id']}", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == 'W/"1"'


@pytest.mark.parametrize("header", ['W/"2"', 'W/"0"', 'W/"10"'])
def test_if_none_match_on_another_version_is_the_resource(scim, alice, header):
    response = scim.get(f"/Users/{alice['id']}", headers={"If-None-Match": header})
    assert response.status_code == 200
    assert body_of(response) == alice


def test_if_none_match_follows_changes(scim, alice):
    url = f"/Users/{alice['id']}"
    scim.patch_ops(url, {"op": "replace", "path": "displayName", "value": "Alice L."})
    assert scim.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 200
    assert scim.get(url, headers={"If-None-Match": 'W/"2"'}).status_code == 304


def test_if_none_match_on_a_group(scim, alice):
    group = scim.create_group("Team", members=[alice["id"]])
    url = f"/Groups/{group['id']}"
    assert scim.get(url, headers={"If-None-Match": group["meta"]["version"]}).status_code == 304
    scim.patch_ops(url, {"op": "remove", "path": "members"})
    response = scim.get(url, headers={"If-None-Match": group["meta"]["version"]})
    assert response.status_code == 200 and "members" not in body_of(response)


def _writes(alice_id):
    url = f"/Users/{alice_id}"
    return {
        "PUT": ("PUT", url, {"schemas": [CORE_USER], "userName": "alice@example.com", "displayName": "New"}),
        "PATCH": (
            "PATCH",
            url,
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "New"}],
            },
        ),
        "DELETE": ("DELETE", url, None),
    }


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("header", ['W/"2"', 'W/"0"', '"2"', "garbage", 'W/"x"'])
def test_if_match_on_another_version_is_412_and_changes_nothing(scim, alice, method, header):
    verb, url, body = _writes(alice["id"])[method]
    before = snapshot()
    response = scim.request(verb, url, body, headers={"If-Match": header})
    assert_scim_error(response, 412)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("header", ['W/"1"', '"1"', "*"])
def test_if_match_on_the_current_version_lets_the_write_through(scim, alice, method, header):
    verb, url, body = _writes(alice["id"])[method]
    response = scim.request(verb, url, body, headers={"If-Match": header})
    if method == "DELETE":
        assert response.status_code == 204
        assert scim.get(url).status_code == 404
    else:
        assert response.status_code == 200
        assert response["ETag"] == 'W/"2"'
        assert body_of(response)["displayName"] == "New"


def test_a_stale_etag_is_refused_after_another_write(scim, alice):
    url = f"/Users/{alice['id']}"
    first = scim.patch_ops(
        url, {"op": "replace", "path": "title", "value": "A"}, headers={"If-Match": 'W/"1"'}
    )
    assert first.status_code == 200 and first["ETag"] == 'W/"2"'
    before = snapshot()
    stale = scim.patch_ops(
        url, {"op": "replace", "path": "title", "value": "B"}, headers={"If-Match": 'W/"1"'}
    )
    assert_scim_error(stale, 412)
    assert snapshot() == before
    assert body_of(scim.get(url))["title"] == "A"


def test_if_match_guards_group_writes(scim, alice):
    group = scim.create_group("Team")
    url = f"/Groups/{group['id']}"
    before = snapshot()
    add = {"op": "add", "path": "members", "value": [{"value": alice["id"]}]}
    assert_scim_error(scim.patch_ops(url, add, headers={"If-Match": 'W/"5"'}), 412)
    assert_scim_error(
        scim.put(url, {"schemas": [CORE_GROUP], "displayName": "X"}, headers={"If-Match": 'W/"5"'}), 412
    )
    assert_scim_error(scim.delete(url, headers={"If-Match": 'W/"5"'}), 412)
    assert snapshot() == before
    response = scim.patch_ops(url, add, headers={"If-Match": 'W/"1"'})
    assert response.status_code in (200, 204) and response["ETag"] == 'W/"2"'
    assert scim.delete(url, headers={"If-Match": 'W/"2"'}).status_code == 204
