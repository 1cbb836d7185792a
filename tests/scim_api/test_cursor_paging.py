"""Cursor paging (RFC 9865) through real HTTP requests: first page, walks forwards and backwards in
every sort order (NULL sort keys included), POST .search, exactly-once under concurrent changes, and
each refusal (tampered, foreign, expired cursor; bad count; cursor with startIndex)."""

import json
import re
import time
import types
from urllib.parse import urlencode

import pytest
from django.core import signing
from django.test import Client

from directory.services.tokens import token_create
from scim_api import paging
from tests.scim_api.conftest import without_request_id

SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 9865 section 2: a cursor "may only contain characters from the unreserved characters set".
UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")

# Sort values with ties (case-insensitive "Engineer"/"engineer", two "Analyst") and unassigned ones.
TITLES = ["Engineer", None, "Analyst", "engineer", None, "Zookeeper", "Analyst", None, "Manager", "Designer"]
EMAILS = ["b@x.io", "a@x.io", None, "C@x.io", "c@x.io", None, "z@x.io", "a@x.io", None, "m@x.io"]


class Api:
    """SCIM over Django's test client, with one tenant's bearer token."""

    def __init__(self, plaintext: str):
        self.client = Client()
        self.auth = f"Bearer {plaintext}"

    def get(self, path: str, query=None):
        if query is not None:
            path = f"{path}?{query if isinstance(query, str) else urlencode(query)}"
        return self.client.get(f"/scim/v2{path}", HTTP_AUTHORIZATION=self.auth)

    def post(self, path: str, body):
        return self.client.post(
            f"/scim/v2{path}", data=json.dumps(body), content_type=SCIM_JSON, HTTP_AUTHORIZATION=self.auth
        )

    def delete(self, path: str):
        return self.client.delete(f"/scim/v2{path}", HTTP_AUTHORIZATION=self.auth)

    def create_user(self, user_name: str, title=None, email=None, active=True) -> str:
        body = {"schemas": [CORE_USER], "userName": user_name, "active": active}
        if title is not None:
            body["title"] = title
        if email is not None:
            body["emails"] = [{"value": email, "type": "work", "primary": True}]
        response = self.post("/Users", body)
        assert response.status_code == 201, response.content
        return json.loads(response.content)["id"]

    def delete_user(self, user_id: str) -> None:
        assert self.delete(f"/Users/{user_id}").status_code == 204


def _api(tenant, actor) -> Api:
    _, plaintext = token_create(tenant=tenant, name="t", actor=actor)
    return Api(plaintext)


@pytest.fixture
def api(tenant, system_actor) -> Api:
    return _api(tenant, system_actor)


@pytest.fixture
def users(api) -> list[str]:
    """Ten users: titles and primary emails with ties and gaps, some inactive."""
    return [
        api.create_user(f"user{i:02d}@example.com", title, email, active=i % 3 != 0)
        for i, (title, email) in enumerate(zip(TITLES, EMAILS, strict=True))
    ]


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(SCIM_JSON)
    return json.loads(response.content)


def assert_cursor_page(body: dict, count: int, total: int) -> None:
    """A cursor-paged ListResponse: totalResults, itemsPerPage, no startIndex (RFC 9865 section 2
    examples), cursors of unreserved characters only."""
    assert body["schemas"] == [LIST_RESPONSE]
    assert "startIndex" not in body
    assert body["totalResults"] == total
    assert body["itemsPerPage"] == len(body["Resources"]) <= count
    for name in ("nextCursor", "previousCursor"):
        if name in body:
            assert UNRESERVED.fullmatch(body[name]), body[name]


def assert_error(response, scim_type: str, detail: str | None = None) -> dict:
    """An RFC 7644 section 3.12 Error document: 400 with this scimType, never a 500."""
    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert body["schemas"] == [ERROR]
    assert body["status"] == "400"
    assert body["scimType"] == scim_type
    assert body["detail"]
    assert "Traceback" not in body["detail"]
    if detail is not None:
        assert without_request_id(body["detail"]) == detail
    return body


def ids(pages: list[dict]) -> list[str]:
    return [resource["id"] for page in pages for resource in page["Resources"]]


def walk_forward(api: Api, path: str, params: dict, between=None) -> list[dict]:
    """Every page from the empty cursor on, following nextCursor; ``between(pages)`` runs before
    each next request."""
    pages = [ok(api.get(path, {**params, "cursor": ""}))]
    assert "previousCursor" not in pages[0]  # RFC 9865 Table 2: not with the first page
    while "nextCursor" in pages[-1]:
        if between:
            between(pages)
        pages.append(ok(api.get(path, {**params, "cursor": pages[-1]["nextCursor"]})))
    return pages


def walk_backward(api: Api, path: str, params: dict, last: dict, between=None) -> list[dict]:
    """From ``last`` back to the first page, following previousCursor; the pages in walk order."""
    pages = [last]
    while "previousCursor" in pages[-1]:
        if between:
            between(pages)
        pages.append(ok(api.get(path, {**params, "cursor": pages[-1]["previousCursor"]})))
    return pages


def index_order(api: Api, path: str, params: dict) -> list[str]:
    body = ok(api.get(path, {**params, "count": 1000}))
    assert body["totalResults"] == len(body["Resources"])
    return [resource["id"] for resource in body["Resources"]]


# The first page and the shape of a cursor-paged response.


def test_empty_cursor_is_the_first_page(api, users):
    body = ok(api.get("/Users", {"cursor": "", "count": 3}))
    assert_cursor_page(body, 3, len(users))
    assert [r["id"] for r in body["Resources"]] == users[:3]  # ids are UUIDv7: creation order
    assert "nextCursor" in body
    assert "previousCursor" not in body
    # `GET /Users?...&cursor&count=10`, the RFC's own example, with a bare cursor parameter.
    assert ok(api.get("/Users", "cursor&count=3")) | {"nextCursor": None} == body | {"nextCursor": None}


def test_without_a_cursor_index_paging_is_the_default(api, users):
    """RFC 9865 section 2.4: a server with both methods chooses one when neither is asked for."""
    body = ok(api.get("/Users", {"count": 3}))
    assert body["startIndex"] == 1
    assert body["totalResults"] == len(users)
    assert "nextCursor" not in body and "previousCursor" not in body
    body = ok(api.get("/Users", {"startIndex": 4, "count": 3}))
    assert [r["id"] for r in body["Resources"]] == users[3:6]
    assert "nextCursor" not in body


def test_last_page_has_no_next_cursor_even_when_it_is_full(api):
    created = [api.create_user(f"u{i}@example.com") for i in range(4)]
    pages = walk_forward(api, "/Users", {"count": 2})
    assert [len(p["Resources"]) for p in pages] == [2, 2]
    assert ids(pages) == created
    assert "previousCursor" in pages[1]


def test_no_results(api, users):
    body = ok(api.get("/Users", {"cursor": "", "filter": 'userName eq "nobody@example.com"'}))
    assert body["totalResults"] == 0
    assert body["Resources"] == []
    assert "nextCursor" not in body and "previousCursor" not in body


# Walks over every order index paging has.

ORDERS = [
    {},
    {"sortOrder": "descending"},
    {"sortBy": "title"},
    {"sortBy": "title", "sortOrder": "descending"},
    {"sortBy": "emails.value"},
    {"sortBy": "emails.value", "sortOrder": "descending"},
    {"sortBy": "userName", "sortOrder": "descending"},
    {"sortBy": "meta.created"},
    {"sortBy": "id", "sortOrder": "descending"},
    {"sortBy": "active"},
    {"sortBy": "title", "filter": 'userName sw "user0"'},
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "none")
@pytest.mark.parametrize("count", [1, 3])
def test_walks_forward_and_backward_in_index_order(api, users, order, count):
    expected = index_order(api, "/Users", order)
    if "filter" not in order:
        assert sorted(expected) == sorted(users)
    params = {**order, "count": count}

    forward = walk_forward(api, "/Users", params)
    for page in forward:
        assert_cursor_page(page, count, len(expected))
    assert ids(forward) == expected
    assert all("previousCursor" in page for page in forward[1:])

    backward = walk_backward(api, "/Users", params, forward[-1])
    assert ids(backward[::-1]) == expected  # every resource once, in order, back to the first
    assert backward[-1]["Resources"][0]["id"] == expected[0]
    assert all("nextCursor" in page for page in backward[1:])

    # And forwards again from a page reached backwards.
    again = [backward[-1]]
    while "nextCursor" in again[-1]:
        again.append(ok(api.get("/Users", {**params, "cursor": again[-1]["nextCursor"]})))
    assert ids(again) == expected


def test_groups_walk_too(api, users):
    created = []
    for name in ["Sales", "engineering", "Admins", "Ops"]:
        response = api.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name})
        assert response.status_code == 201, response.content
        created.append(json.loads(response.content)["id"])
    params = {"sortBy": "displayName", "count": 3}
    pages = walk_forward(api, "/Groups", params)
    names = [r["displayName"] for page in pages for r in page["Resources"]]
    assert names == ["Admins", "engineering", "Ops", "Sales"]
    assert sorted(ids(pages)) == sorted(created)
    assert ids(walk_backward(api, "/Groups", params, pages[-1])[::-1]) == ids(pages)


# POST .search (RFC 9865 section 3).


def test_search_with_cursor_in_the_body(api, users):
    query = {"filter": 'userName sw "user"', "sortBy": "title", "sortOrder": "descending"}
    expected = ids(walk_forward(api, "/Users", {**query, "count": 4}))
    body = {"schemas": [SEARCH_REQUEST], **query, "attributes": ["userName"], "cursor": "", "count": 4}
    pages = [ok(api.post("/Users/.search", body))]
    while "nextCursor" in pages[-1]:
        pages.append(ok(api.post("/Users/.search", {**body, "cursor": pages[-1]["nextCursor"]})))
    for page in pages:
        assert_cursor_page(page, 4, len(users))
        assert all("title" not in r for r in page["Resources"])
    assert ids(pages) == expected
    # The cursor belongs to the query, not to the way it was sent: GET takes up where POST left off.
    resumed = ok(api.get("/Users", {**query, "count": 4, "cursor": pages[0]["nextCursor"]}))
    assert [r["id"] for r in resumed["Resources"]] == expected[4:8]


def test_search_refuses_a_cursor_with_start_index_or_a_bad_count(api, users):
    body = {"schemas": [SEARCH_REQUEST], "cursor": "", "startIndex": 1}
    assert_error(api.post("/Users/.search", body), "invalidValue")
    for count in ["ten", True, 2.5, [2]]:
        body = {"schemas": [SEARCH_REQUEST], "cursor": "", "count": count}
        assert_error(api.post("/Users/.search", body), "invalidCount")
    body = {"schemas": [SEARCH_REQUEST], "cursor": 12}
    assert_error(api.post("/Users/.search", body), "invalidCursor", paging.INVALID_CURSOR_DETAIL)


# Exactly once while the directory changes.

NEW_TITLES = ["Aardvark", None, "Mid", "Zzz", "Engineer", None]


def churn(api: Api, original: list[str], deleted: set[str], created: list[str], log: list):
    """Between two page requests (the first three): two new users whose sort keys fall anywhere
    (before, among, after and unassigned), and two deletions: one user already returned, one not
    returned yet. (Not on every page: in creation order, new users always come after the walk's
    position, and a walk that keeps meeting new users would never end.)"""

    def between(pages):
        seen = set(ids(pages))
        step = len(created)
        if step >= 6:
            return
        for j in range(2):
            title = NEW_TITLES[(step + j) % len(NEW_TITLES)]
            email = None if j else f"{step:02d}new@x.io"
            created.append(api.create_user(f"new{step + j:02d}@example.com", title, email))
        returned = [u for u in original if u in seen and u not in deleted]
        pending = [u for u in original if u not in seen and u not in deleted]
        for victim in returned[:1] + pending[-1:]:
            api.delete_user(victim)
            deleted.add(victim)
            log.append((victim, victim in seen))

    return between


CHURN_ORDERS = [
    {},
    {"sortOrder": "descending"},
    {"sortBy": "title"},
    {"sortBy": "title", "sortOrder": "descending"},
    {"sortBy": "emails.value"},
]


@pytest.mark.parametrize("order", CHURN_ORDERS, ids=lambda o: "-".join(o.values()) or "none")
def test_each_unchanged_user_exactly_once_while_users_come_and_go(api, users, order):
    deleted, created, log = set(), [], []
    pages = walk_forward(api, "/Users", {**order, "count": 2}, churn(api, users, deleted, created, log))
    returned = ids(pages)
    assert len(pages) >= 3 and log  # the directory did change under the walk
    assert len(returned) == len(set(returned)), "a user came twice"
    stable = [u for u in users if u not in deleted]
    assert all(returned.count(u) == 1 for u in stable), "a user that was there all along was missed"
    unseen_deleted = {victim for victim, seen in log if not seen}
    assert not unseen_deleted & set(returned), "a user deleted before it was reached was returned"
    assert set(returned) <= set(users) | set(created)


@pytest.mark.parametrize("order", CHURN_ORDERS, ids=lambda o: "-".join(o.values()) or "none")
def test_each_unchanged_user_exactly_once_walking_backwards_while_users_come_and_go(api, users, order):
    params = {**order, "count": 2}
    last = walk_forward(api, "/Users", params)[-1]
    deleted, created, log = set(), [], []
    pages = walk_backward(api, "/Users", params, last, churn(api, users, deleted, created, log))
    returned = ids(pages)
    assert len(pages) >= 3 and log
    assert len(returned) == len(set(returned)), "a user came twice"
    assert all(returned.count(u) == 1 for u in users if u not in deleted)
    assert not {victim for victim, seen in log if not seen} & set(returned)


def test_a_page_past_deleted_users_is_empty_and_leads_back(api):
    created = [api.create_user(f"u{i}@example.com") for i in range(3)]
    first = ok(api.get("/Users", {"cursor": "", "count": 2}))
    api.delete_user(created[2])
    after = ok(api.get("/Users", {"cursor": first["nextCursor"], "count": 2}))
    assert after["Resources"] == []
    assert "nextCursor" not in after
    back = ok(api.get("/Users", {"cursor": after["previousCursor"], "count": 2}))
    assert [r["id"] for r in back["Resources"]] == created[:2]
    assert "previousCursor" not in back


# Refused cursors: RFC 9865 section 2.1, and section 5.2's identical message for all of them.


def _next_cursor(api, params=None) -> str:
    return ok(api.get("/Users", {"cursor": "", "count": 2, **(params or {})}))["nextCursor"]


def test_a_tampered_or_forged_cursor_is_invalid(api, users):
    cursor = _next_cursor(api)
    payload, timestamp, signature = cursor.split(".")
    flip = {"A": "B"}.get(payload[5], "A")
    forged_payload = {"f": 1, "q": "0" * 32, "c": 2, "d": "n", "p": [None, users[0]]}
    for bad in [
        f"{payload[:5]}{flip}{payload[6:]}.{timestamp}.{signature}",
        f"{payload}.{timestamp}.{signature[:-2]}",
        f"{payload}.{timestamp}.{signature}x",
        cursor[::-1],
        "garbage",
        "not a cursor!",
        "x" * 5000,
        signing.TimestampSigner(salt="another.salt", sep=".").sign_object(forged_payload),
        signing.TimestampSigner(key="k" * 50, salt=paging.CURSOR_SALT, sep=".").sign_object(forged_payload),
    ]:
        response = api.get("/Users", {"cursor": bad, "count": 2})
        assert_error(response, "invalidCursor", paging.INVALID_CURSOR_DETAIL)
    assert ok(api.get("/Users", {"cursor": cursor, "count": 2}))["Resources"]  # the real one still works


def test_a_cursor_from_another_query_is_invalid(api, users, other_tenant, system_actor):
    cursor = _next_cursor(api, {"sortBy": "title"})
    for params in [
        {"sortBy": "userName"},
        {},
        {"sortBy": "title", "sortOrder": "descending"},
        {"sortBy": "title", "filter": 'userName sw "user"'},
    ]:
        response = api.get("/Users", {**params, "cursor": cursor, "count": 2})
        assert_error(response, "invalidCursor", paging.INVALID_CURSOR_DETAIL)
    # Another resource type, another tenant.
    plain = _next_cursor(api)
    response = api.get("/Groups", {"cursor": plain, "count": 2})
    assert_error(response, "invalidCursor", paging.INVALID_CURSOR_DETAIL)
    other = _api(other_tenant, system_actor)
    other.create_user("someone@example.com")
    response = other.get("/Users", {"cursor": plain, "count": 2})
    assert_error(response, "invalidCursor", paging.INVALID_CURSOR_DETAIL)
    # Same query, same casing of the sort attribute aside: still the same query.
    assert ok(api.get("/Users", {"sortBy": "TITLE", "cursor": cursor, "count": 2}))["Resources"]
    # attributes only shape the resources, not which ones come: a cursor survives a change there.
    assert ok(api.get("/Users", {"sortBy": "title", "cursor": cursor, "count": 2, "attributes": "userName"}))


def test_an_expired_cursor_is_refused_with_expired_cursor(api, users, settings, monkeypatch):
    settings.SCIM_CURSOR_TIMEOUT = 60
    config = ok(api.get("/ServiceProviderConfig"))
    assert config["pagination"]["cursorTimeout"] == 60
    issued = time.time()
    # Signing reads the clock once, at issue: pin it, so that a slow machine cannot age the cursor.
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: issued))
    cursor = _next_cursor(api)
    # Time, as django.core.signing reads it, moves on: within cursorTimeout the cursor still works.
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: issued + 59))
    assert ok(api.get("/Users", {"cursor": cursor, "count": 2}))["Resources"]
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: issued + 62))
    body = assert_error(api.get("/Users", {"cursor": cursor, "count": 2}), "expiredCursor")
    assert "60 seconds" in body["detail"] and "cursor=" in body["detail"]
    # A forged cursor is invalid, not expired, however old.
    forged = cursor[:-1] + ("B" if cursor.endswith("A") else "A")
    assert_error(api.get("/Users", {"cursor": forged, "count": 2}), "invalidCursor")
    # Starting again works.
    assert ok(api.get("/Users", {"cursor": "", "count": 2}))["Resources"]


# count (RFC 9865 section 2, Table 1; section 2.1, Table 3).


def test_bad_count_is_invalid_count(api, users, settings):
    settings.SCIM_MAX_PAGE_SIZE = 5
    for count in ["abc", "1.5", "1e3", "0x10", "6", "99999999999999999999"]:
        body = assert_error(api.get("/Users", {"cursor": "", "count": count}), "invalidCount")
        assert "5" in body["detail"]
    # Index paging keeps RFC 7644's reading: a count above the maximum is cut to it.
    assert ok(api.get("/Users", {"count": 6}))["itemsPerPage"] == 5


def test_zero_or_negative_count_returns_only_total_results(api, users):
    for count in ["0", "-3"]:
        body = ok(api.get("/Users", {"cursor": "", "count": count}))
        assert body["totalResults"] == len(users)
        assert body["itemsPerPage"] == 0 and body["Resources"] == []
        assert "nextCursor" not in body and "previousCursor" not in body


def test_count_must_stay_the_same_along_a_walk(api, users, settings):
    cursor = _next_cursor(api)  # count=2
    body = assert_error(api.get("/Users", {"cursor": cursor, "count": 3}), "invalidCount")
    assert "count 2" in body["detail"]
    assert_error(api.get("/Users", {"cursor": cursor}), "invalidCount")  # the default is 100
    assert ok(api.get("/Users", {"cursor": cursor, "count": " 2 "}))["Resources"]
    # Without count on every page, the default page size is the count on every page.
    settings.SCIM_DEFAULT_PAGE_SIZE = 4
    pages = walk_forward(api, "/Users", {})
    assert [len(p["Resources"]) for p in pages] == [4, 4, 2]


def test_cursor_with_start_index_is_refused(api, users):
    for start_index in ["1", "3"]:
        body = assert_error(api.get("/Users", {"cursor": "", "startIndex": start_index}), "invalidValue")
        assert "startIndex" in body["detail"] and "cursor" in body["detail"]
    cursor = _next_cursor(api)
    assert_error(api.get("/Users", {"cursor": cursor, "count": 2, "startIndex": 1}), "invalidValue")


# Discovery (RFC 9865 section 4).


def test_service_provider_config_advertises_cursor_paging(api, settings):
    settings.SCIM_DEFAULT_PAGE_SIZE = 50
    settings.SCIM_MAX_PAGE_SIZE = 500
    pagination = ok(api.get("/ServiceProviderConfig"))["pagination"]
    assert pagination == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 50,
        "maxPageSize": 500,
        "cursorTimeout": paging.cursor_timeout(),
    }
    assert isinstance(pagination["cursorTimeout"], int) and pagination["cursorTimeout"] > 0
