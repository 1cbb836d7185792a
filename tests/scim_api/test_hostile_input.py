"""Inputs no identity provider should send, that must still be refused precisely and change
nothing: numbers JSON allows but Python or the database cannot hold, entity tags no version can
equal, query parameters of absurd size, and search requests refused alike on every search endpoint.
"""

import pytest

from directory.models import User
from scim_api.schema import BULK_REQUEST
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    PATCH_URN,
    assert_scim_error,
    body_of,
    snapshot,
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
