"""Media types (RFC 7644 section 3.1, 8.1): requests in application/scim+json or application/json,
answers always in application/scim+json, whatever Accept asks for."""

import json

import pytest

from tests.scim_api.conftest import CORE_USER, SCIM_JSON, body_of


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/SCIM+JSON",
    ],
)
def test_json_request_media_types_are_accepted(scim, content_type):
    body = {"schemas": [CORE_USER], "userName": "élodie@example.com", "displayName": "Élodie"}
    response = scim.post(
        "/Users", raw=json.dumps(body, ensure_ascii=False).encode(), content_type=content_type
    )
    assert response.status_code == 201, response.content
    created = body_of(response)
    assert created["displayName"] == "Élodie"

    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Ingénieure"}],
    }
    response = scim.patch(
        f"/Users/{created['id']}", raw=json.dumps(patch).encode(), content_type=content_type
    )
    assert response.status_code == 200 and body_of(response)["title"] == "Ingénieure"


@pytest.mark.parametrize(
    "accept",
    [None, "application/scim+json", "application/json", "text/html", "application/xml", "*/*", "text/*"],
)
def test_answers_are_scim_json_whatever_accept_says(scim, anonymous, accept):
    headers = {"Accept": accept} if accept else {}
    alice = scim.create_user("alice@example.com")
    for response in (
        scim.get("/Users", headers=headers),
        scim.get(f"/Users/{alice['id']}", headers=headers),
        scim.post("/Users", {"schemas": [CORE_USER], "userName": "bob@example.com"}, headers=headers),
        anonymous.get("/ServiceProviderConfig", headers=headers),
        scim.get("/Users/nope", headers=headers),
        anonymous.get("/Users", headers=headers),
    ):
        assert response.status_code != 406
        assert response["Content-Type"] == SCIM_JSON
        json.loads(response.content)


def test_answers_are_utf8_json(scim):
    response = scim.post(
        "/Users", {"schemas": [CORE_USER], "userName": "zoë@example.com", "displayName": "Zoë 🚀"}
    )
    assert response.status_code == 201
    response.content.decode("utf-8")
    assert body_of(response)["displayName"] == "Zoë 🚀"
