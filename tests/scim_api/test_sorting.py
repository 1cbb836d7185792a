"""sortBy and sortOrder (RFC 7644 section 3.4.2.3) over real HTTP.

What these pin down: case-insensitive attributes sort ignoring case (non-ASCII included); a
multi-valued attribute sorts by its primary value, else its first; unassigned values ("" included)
sort last ascending and first descending; equal keys are ordered by id, so descending is exactly
ascending reversed; a bad sortBy or sortOrder is a 400 invalidValue.
"""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from directory.services.tokens import token_create

SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


class Api:
    def __init__(self, plaintext: str):
        self.client = Client(enforce_csrf_checks=True)
        self.auth = f"Bearer {plaintext}"

    def call(self, method: str, path: str, body=None):
        data = "" if body is None else json.dumps(body)
        return self.client.generic(
            method, f"/scim/v2{path}", data=data, content_type=SCIM_JSON, HTTP_AUTHORIZATION=self.auth
        )

    def user(self, user_name: str, **attributes) -> dict:
        response = self.call("POST", "/Users", {"schemas": [CORE_USER], "userName": user_name, **attributes})
        assert response.status_code == 201, response.content
        return json.loads(response.content)


@pytest.fixture
def api(tenant, system_actor) -> Api:
    return Api(token_create(tenant=tenant, name="okta", actor=system_actor)[1])


@pytest.fixture
def users(api) -> dict[str, dict]:
    """Created in this order, so that ids (UUIDv7) and meta.created ascend u1 to u5."""
    return {
        # Sorts by its primary email, amy@, not its first, Zed@.
        "u1": api.user(
            "carol@example.com",
            name={"familyName": "Young"},
            emails=[
                {"value": "Zed@x.com", "type": "work"},
                {"value": "amy@x.com", "type": "home", "primary": True},
            ],
        ),
        "u2": api.user("Alice@example.com", name={"familyName": "brown"}, emails=[{"value": "m@x.com"}]),
        "u3": api.user("bob@example.com"),
        # familyName ties with u2's ignoring case: the id decides.
        "u4": api.user("dave@example.com", name={"familyName": "Brown"}, emails=[{"value": "B@x.com"}]),
        # "" is unassigned, like absent; so is an email without a value.
        "u5": api.user("eve@example.com", name={"familyName": ""}, emails=[{"type": "work"}]),
    }


def order(api, users, query: dict, method: str = "GET") -> list[str]:
    if method == "GET":
        response = api.call("GET", f"/Users?{urlencode(query)}")
    else:
        response = api.call("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST], **query})
    assert response.status_code == 200, response.content
    by_id = {u["id"]: label for label, u in users.items()}
    return [by_id[r["id"]] for r in json.loads(response.content)["Resources"]]


ASCENDING = {
    "userName": ["u2", "u3", "u1", "u4", "u5"],
    "USERNAME": ["u2", "u3", "u1", "u4", "u5"],
    "name.familyName": ["u2", "u4", "u1", "u3", "u5"],
    "emails.value": ["u1", "u4", "u2", "u3", "u5"],
    "emails": ["u1", "u4", "u2", "u3", "u5"],
    "meta.created": ["u1", "u2", "u3", "u4", "u5"],
    "id": ["u1", "u2", "u3", "u4", "u5"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("sort_by", ASCENDING)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sort_ascending_and_descending(api, users, sort_by, method):
    expected = ASCENDING[sort_by]
    assert order(api, users, {"sortBy": sort_by}, method) == expected
    assert order(api, users, {"sortBy": sort_by, "sortOrder": "ascending"}, method) == expected
    assert order(api, users, {"sortBy": sort_by, "sortOrder": "descending"}, method) == expected[::-1]


@pytest.mark.django_db
def test_unassigned_values_sort_last_ascending_and_first_descending(api, users):
    ascending = order(api, users, {"sortBy": "name.familyName"})
    assert ascending[-2:] == ["u3", "u5"]
    descending = order(api, users, {"sortBy": "name.familyName", "sortOrder": "descending"})
    assert descending[:2] == ["u5", "u3"]


@pytest.mark.django_db
def test_sort_applies_before_paging_and_after_filtering(api, users):
    query = {"sortBy": "userName", "sortOrder": "descending"}
    assert order(api, users, {**query, "startIndex": 2, "count": 2}) == ["u4", "u1"]
    query = {"sortBy": "emails.value", "filter": 'userName ne "carol@example.com"'}
    assert order(api, users, query) == ["u4", "u2", "u3", "u5"]
    assert order(api, users, query, method="POST") == ["u4", "u2", "u3", "u5"]


@pytest.mark.django_db
def test_non_ascii_sort_keys_ignore_case_and_tie_by_id(api):
    users = {
        "lower": api.user("one@example.com", name={"familyName": "émile"}, title="ÉCOLE"),
        "upper": api.user("two@example.com", name={"familyName": "ÉMILE"}, title="école"),
    }
    for sort_by in ("name.familyName", "title"):
        assert order(api, users, {"sortBy": sort_by}) == ["lower", "upper"]
        assert order(api, users, {"sortBy": sort_by, "sortOrder": "descending"}) == ["upper", "lower"]


BAD = [
    {"sortBy": "nope"},
    {"sortBy": "name"},
    {"sortBy": "name.nope"},
    {"sortBy": "password"},
    {"sortBy": "groups"},
    {"sortBy": "meta"},
    {"sortBy": "meta.location"},
    {"sortBy": "emails.primary"},
    {"sortBy": "userName", "sortOrder": "up"},
    {"sortBy": "userName", "sortOrder": "asc"},
    {"sortOrder": "sideways"},
]


@pytest.mark.django_db
@pytest.mark.parametrize("query", BAD, ids=[json.dumps(q) for q in BAD])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_sort_by_or_sort_order_is_invalid_value(api, users, query, method):
    if method == "GET":
        response = api.call("GET", f"/Users?{urlencode(query)}")
    else:
        response = api.call("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST], **query})
    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert body["scimType"] == "invalidValue", body
    named = query.get("sortBy") if "sortOrder" not in query else query["sortOrder"]
    assert named in body["detail"], body["detail"]


@pytest.mark.django_db
def test_sort_by_in_a_search_body_must_be_a_string(api, users):
    response = api.call("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST], "sortBy": ["userName"]})
    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == "invalidValue"
    response = api.call("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST], "sortOrder": 1})
    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == "invalidValue"
