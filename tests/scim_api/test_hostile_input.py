"""Inputs no identity provider should send, that must still be refused precisely and change
nothing: numbers JSON allows but Python or the database cannot hold, entity tags no version can
equal, query parameters of absurd size, and search requests refused alike on every search endpoint.
"""

import json

import pytest

from directory.models import User
from scim_api.documents import coerce_scalar
from scim_api.errors import InvalidValue
from scim_api.schema import BULK_REQUEST, Attribute
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    PATCH_URN,
    assert_scim_error,
    body_of,
    snapshot,
    without_request_id,
)

# Python refuses to turn longer digit strings into an int (sys.get_int_max_str_digits(), 4,300 by
# default): json.loads raised ValueError, which nothing caught.
HUGE_INTEGER = "9" * 5000
# Beyond any PositiveBigIntegerField (2**63 - 1): a version no resource can have.
BIGGER_THAN_BIGINT = str(2**64)


@pytest.fixture
def alice(scim) -> dict:
    return scim.create_user("alice@example.com", title="Engineer")


@pytest.fixture
def team(scim, alice) -> dict:
    return scim.create_group("Team", members=[alice["id"]])


def _raw_user(fragment: str) -> bytes:
    return f'{{"schemas": ["{CORE_USER}"], "userName": "bob@example.com", {fragment}}}'.encode()


def _requests(alice: dict, team: dict, value: str) -> list[tuple[str, str, bytes]]:
    """(method, path, raw body) with ``value`` (a JSON number's text) somewhere in each body."""
    user = f"/Users/{alice['id']}"
    patch = (
        f'{{"schemas": ["{PATCH_URN}"], "Operations": '
        f'[{{"op": "replace", "path": "title", "value": {value}}}]}}'
    )
    return [
        ("POST", "/Users", _raw_user(f'"title": {value}')),
        ("POST", "/Users", _raw_user(f'"name": {{"givenName": "Bob", "x": [1, {{"y": {value}}}]}}')),
        ("PUT", user, _raw_user(f'"title": {value}')),
        ("PATCH", user, patch.encode()),
        ("PATCH", f"/Groups/{team['id']}", patch.encode()),
        ("POST", "/Groups", f'{{"schemas": ["{CORE_GROUP}"], "displayName": {value}}}'.encode()),
        ("POST", "/Users/.search", f'{{"filter": "userName pr", "count": {value}}}'.encode()),
        ("POST", "/Groups/.search", f'{{"startIndex": {value}}}'.encode()),
        ("POST", "/.search", f'{{"startIndex": {value}}}'.encode()),
        ("POST", "/Bulk", f'{{"schemas": ["{BULK_REQUEST}"], "failOnErrors": {value}}}'.encode()),
        (
            "POST",
            "/Bulk",
            (
                f'{{"schemas": ["{BULK_REQUEST}"], "Operations": [{{"method": "PATCH", '
                f'"path": "{user}", "data": {patch}}}]}}'
            ).encode(),
        ),
    ]


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (HUGE_INTEGER, "digits"),
        ("-" + HUGE_INTEGER, "digits"),
        ("1e999", "finite"),
        ("-1e999", "finite"),
        ("1" + "0" * 400 + ".5", "finite"),
    ],
    ids=["5000 digits", "-5000 digits", "1e999", "-1e999", "401-digit decimal"],
)
def test_a_number_no_attribute_can_hold_is_refused_anywhere_in_a_body(scim, alice, team, value, detail):
    """Before: a 500 for the digits (ValueError out of json.loads), and 1e999 stored as "inf"."""
    before = snapshot()
    for method, path, raw in _requests(alice, team, value):
        response = scim.request(method, path, raw=raw)
        assert_scim_error(response, 400, "invalidValue", detail_contains=detail)
    assert snapshot() == before
    assert not User.objects.filter(title__in=["inf", "-inf"]).exists()


@pytest.mark.parametrize("value", [r'"\ud800"', r'"x\udfffx"', r'"\ude00\ud83d"', r'"\ud83d"'])
def test_a_string_that_is_no_unicode_text_is_refused_anywhere_in_a_body(scim, alice, team, value):
    """A lone UTF-16 surrogate, which JSON may escape but no UTF-8 can hold. Before: a 500 on
    PostgreSQL wherever it was to be stored (titles, display names, ...)."""
    before = snapshot()
    for method, path, raw in _requests(alice, team, value):
        response = scim.request(method, path, raw=raw)
        assert_scim_error(response, 400, "invalidSyntax", detail_contains="lone UTF-16 surrogate")
    assert snapshot() == before


def test_an_escaped_surrogate_pair_is_one_character(scim):
    response = scim.request("POST", "/Users", raw=_raw_user(r'"title": "\ud83d\ude00"'))
    assert response.status_code == 201, response.content
    assert body_of(response)["title"] == "\N{GRINNING FACE}"


def test_numbers_near_the_limits_are_still_read(scim, alice):
    """Refusing what cannot be held refuses nothing else: a 4,300-digit integer is a number
    (and too long for a title), a large finite decimal and a tiny one are numbers."""
    response = scim.patch_ops(f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": 1e308})
    assert response.status_code == 200, response.content
    assert body_of(response)["title"] == "1e+308"
    response = scim.request("POST", "/Users", raw=_raw_user('"title": 1e-999'))
    assert response.status_code == 201, response.content
    response = scim.request("POST", "/Users", raw=_raw_user(f'"nickName": {"9" * 4300}'))
    assert_scim_error(response, 400, "invalidValue", detail_contains="nickName")


# --- Entity tags no version can equal ---------------------------------------------------------------


ABSURD_TAGS = [
    f'W/"{HUGE_INTEGER}"',
    f'"{HUGE_INTEGER}"',
    f'W/"{BIGGER_THAN_BIGINT}"',
    f'W/"{HUGE_INTEGER}", W/"{BIGGER_THAN_BIGINT}"',
    'W/"\u0663"',  # ARABIC-INDIC DIGIT THREE: a digit to \d and int(), not a version this server issues
]


@pytest.mark.parametrize("tag", ABSURD_TAGS, ids=["5000 nines", "strong", "2**64", "list", "arabic digit"])
def test_if_match_with_a_tag_no_version_can_equal_is_412(scim, alice, team, tag):
    """Before: a 500 (int() on 5,000 digits in views.expected_version)."""
    for _ in range(2):  # versions 2 and 3: the arabic digit three is not version 3
        scim.patch_ops(f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": "x"})
    before = snapshot()
    user, group = f"/Users/{alice['id']}", f"/Groups/{team['id']}"
    title = {"op": "replace", "path": "title", "value": "Changed"}
    name = {"op": "replace", "path": "displayName", "value": "Changed"}
    for method, path, body in (
        ("PUT", user, {"schemas": [CORE_USER], "userName": "alice@example.com"}),
        ("PATCH", user, {"schemas": [PATCH_URN], "Operations": [title]}),
        ("DELETE", user, None),
        ("PUT", group, {"schemas": [CORE_GROUP], "displayName": "Changed"}),
        ("PATCH", group, {"schemas": [PATCH_URN], "Operations": [name]}),
        ("DELETE", group, None),
    ):
        response = scim.request(method, path, *([body] if body else []), headers={"If-Match": tag})
        assert_scim_error(response, 412)
    assert snapshot() == before


@pytest.mark.parametrize("tag", ABSURD_TAGS, ids=["5000 nines", "strong", "2**64", "list", "arabic digit"])
def test_if_none_match_with_a_tag_no_version_can_equal_reads_the_resource(scim, alice, team, tag):
    """Before: a 500 (int() in views._matches)."""
    for title in ("x", "y"):
        scim.patch_ops(f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": title})
    for path in (f"/Users/{alice['id']}", f"/Groups/{team['id']}"):
        response = scim.get(path, headers={"If-None-Match": tag})
        assert response.status_code == 200, response.content
        assert body_of(response)["id"] in path


def test_if_none_match_still_matches_the_current_version_in_a_list(scim, alice):
    response = scim.get(f"/Users/{alice['id']}", headers={"If-None-Match": f'W/"{HUGE_INTEGER}", W/"1"'})
    assert response.status_code == 304


@pytest.mark.parametrize("tag", ABSURD_TAGS, ids=["5000 nines", "strong", "2**64", "list", "arabic digit"])
def test_a_bulk_operation_with_a_version_no_resource_can_have_is_412(scim, alice, team, tag):
    """Before: the operation reported status 500."""
    for title in ("x", "y"):
        scim.patch_ops(f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": title})
    before = snapshot()
    title = {"op": "replace", "path": "title", "value": "Changed"}
    operations = [
        {"method": "PATCH", "path": f"/Users/{alice['id']}", "version": tag, "data": {"Operations": [title]}},
        {"method": "DELETE", "path": f"/Groups/{team['id']}", "version": tag},
    ]
    response = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": operations})
    assert response.status_code == 200, response.content
    assert [op["status"] for op in body_of(response)["Operations"]] == ["412", "412"]
    assert snapshot() == before


def test_a_filter_on_meta_version_reads_versions_as_if_match_does(scim, alice):
    """One reading of entity tags (scim_api/etags.py): a version no resource can have matches
    nothing, and a digit that is not ASCII is no version (before: "\u0663" matched version 3)."""
    for title in ("x", "y"):
        scim.patch_ops(f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": title})
    for version, matched in (("3", 1), ("9" * 300, 0), (BIGGER_THAN_BIGINT, 0)):
        response = scim.post("/Users/.search", {"filter": f'meta.version eq "W/\\"{version}\\""'})
        assert response.status_code == 200, response.content
        assert body_of(response)["totalResults"] == matched
        response = scim.post("/Users/.search", {"filter": f'meta.version ne "W/\\"{version}\\""'})
        assert body_of(response)["totalResults"] == 1 - matched
    for tag in ("\u0663", 'W/\\"\u0663\\"'):
        response = scim.post("/Users/.search", {"filter": f'meta.version eq "{tag}"'})
        assert_scim_error(response, 400, "invalidFilter", detail_contains="meta.version")


# --- Query parameters of absurd size --------------------------------------------------------------


@pytest.mark.parametrize("name", ["startIndex", "count"])
@pytest.mark.parametrize("endpoint", ["/Users", "/Groups"])
def test_a_huge_start_index_or_count_is_read_as_the_largest_one(scim, alice, team, endpoint, name):
    """RFC 7644 section 3.4.2.4: a count beyond the largest page is the largest page, a startIndex
    beyond the results an empty page; so are they when they have 5,000 digits."""
    response = scim.get(f"{endpoint}?{name}={HUGE_INTEGER}")
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["totalResults"] == 1
    assert len(body["Resources"]) == (0 if name == "startIndex" else 1)
    response = scim.post(f"{endpoint}/.search", {name: HUGE_INTEGER})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", [HUGE_INTEGER, "1e999", "٣"])
def test_a_cursor_count_out_of_range_is_invalid_count_without_echoing_it_whole(scim, alice, value):
    body = assert_scim_error(scim.get(f"/Users?cursor=&count={value}"), 400, "invalidCount")
    assert len(body["detail"]) < 300, body["detail"]


def test_a_start_index_that_is_no_integer_is_refused_without_echoing_it_whole(scim, alice):
    body = assert_scim_error(scim.get(f"/Users?startIndex=x{HUGE_INTEGER}"), 400, "invalidValue")
    assert "startIndex" in body["detail"] and len(body["detail"]) < 300, body["detail"]


# --- One validation for every search endpoint ------------------------------------------------------


BAD_SEARCHES = [
    {"filter": 5},
    {"filter": ["userName pr"]},
    {"filter": {"userName": "x"}},
    {"filter": True},
    {"sortOrder": "sideways"},
    {"sortOrder": 1},
    {"startIndex": "first"},
    {"startIndex": [1]},
    {"count": "many"},
    {"count": 1.5},
    {"attributes": 5},
    {"attributes": [["userName"]]},
    {"excludedAttributes": {"a": 1}},
    {"cursor": 5},
    {"sortBy": 5},
    {"unknown": 1},
]


@pytest.mark.parametrize("body", BAD_SEARCHES, ids=[json.dumps(b) for b in BAD_SEARCHES])
def test_the_root_search_refuses_what_the_per_type_search_refuses(scim, alice, team, body):
    """Before: {"filter": 5} was a 500 (TypeError) on /.search and {"sortOrder": "sideways"} a 200."""
    per_type = scim.post("/Users/.search", body)
    assert per_type.status_code == 400, (body, per_type.content)
    expected = body_of(per_type)
    before = snapshot()
    if "sortBy" in body or "cursor" in body:  # the root search has neither, whatever their value
        refused = scim.post("/.search", body)
        assert_scim_error(refused, 400, "invalidValue", detail_contains="one resource type")
    else:
        refused = assert_scim_error(scim.post("/.search", body), 400, expected.get("scimType"))
        assert without_request_id(refused["detail"]) == without_request_id(expected["detail"]), refused
    assert snapshot() == before


def test_the_root_search_reads_what_the_per_type_search_reads(scim, alice, team):
    """What it accepts it applies: sortOrder too (before: ignored), Groups first when descending."""
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "meta.created pr",
        "startIndex": "1",
        "count": 10,
        "attributes": ["displayName", "userName"],
    }
    for order, expected in (("ascending", [alice, team]), ("DESCENDING", [team, alice]), ("", [alice, team])):
        response = scim.post("/.search", {**body, "sortOrder": order})
        assert response.status_code == 200, response.content
        found = body_of(response)
        assert found["totalResults"] == 2
        assert [r["id"] for r in found["Resources"]] == [r["id"] for r in expected], order
        assert all(set(r) <= {"schemas", "id", "userName", "displayName"} for r in found["Resources"])


def test_an_integer_attribute_reads_integers_no_float_can_hold():
    """No User or Group attribute is an integer today; an extension's may be. Before: float() of a
    400-digit integer raised OverflowError (a 500 once such an attribute exists)."""
    attribute = Attribute(name="seniority", type="integer")
    assert coerce_scalar(attribute, 10**400, "seniority") == 10**400
    assert coerce_scalar(attribute, 3.0, "seniority") == 3
    with pytest.raises(InvalidValue, match="integer"):
        coerce_scalar(attribute, 1.5, "seniority")
