"""Every failure under /scim/ is a SCIM Error document (RFC 7644 section 3.12) with the right status
and scimType, including Django's and DRF's own refusals; a refused request changes nothing, and no
answer ever carries a stack trace."""

import json

import pytest
from django.test import Client

from directory.models import User
from scim_api.schema import USER
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    SCIM_JSON,
    assert_scim_error,
    body_of,
    snapshot,
)


def _user(**attributes) -> dict:
    return {"schemas": [CORE_USER], **attributes}


# --- Uniqueness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "duplicate"),
    [
        ("alice@example.com", "alice@example.com"),
        ("alice@example.com", "ALICE@Example.COM"),
        ("ÉLODIE", "élodie"),
        ("élodie@example.com", "ÉLODIE@EXAMPLE.COM"),
        ("straße", "STRASSE"),
    ],
)
def test_a_duplicate_user_name_is_a_409_ignoring_case(scim, existing, duplicate):
    scim.create_user(existing)
    before = snapshot()
    body = assert_scim_error(scim.post("/Users", _user(userName=duplicate)), 409, "uniqueness")
    assert duplicate in body["detail"]
    assert snapshot() == before


def test_renaming_onto_a_taken_user_name_is_a_409(scim):
    scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    before = snapshot()
    url = f"/Users/{bob['id']}"
    assert_scim_error(scim.put(url, _user(userName="Alice@example.com")), 409, "uniqueness")
    assert_scim_error(
        scim.patch_ops(url, {"op": "replace", "path": "userName", "value": "ALICE@EXAMPLE.COM"}),
        409,
        "uniqueness",
    )
    assert snapshot() == before


def test_a_user_may_change_the_case_of_its_own_user_name(scim):
    alice = scim.create_user("alice@example.com")
    response = scim.patch_ops(
        f"/Users/{alice['id']}", {"op": "replace", "path": "userName", "value": "Alice@Example.com"}
    )
    assert response.status_code == 200
    assert body_of(response)["userName"] == "Alice@Example.com"


# --- Routing: Django's and DRF's refusals, as SCIM errors -----------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/Nope",
        "/scim/v2/Users/abc/extra",
        "/scim/v2/",
        "/scim/acme/v2/Nope",
        "/scim/",
        "/scim/v3/Users",
        "/scim",
    ],
)
def test_an_unknown_endpoint_is_a_scim_404(scim, method, path):
    before = snapshot()
    response = scim.request(method, path, _user(userName="x@example.com"))
    assert_scim_error(response, 404)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/Users/{id}"),
        ("DELETE", "/Users"),
        ("PUT", "/Users"),
        ("PATCH", "/Users"),
        ("PATCH", "/Groups"),
    ],
)
def test_a_method_the_endpoint_does_not_have_is_a_scim_405(scim, method, path):
    alice = scim.create_user("alice@example.com")
    before = snapshot()
    response = scim.request(method, path.format(id=alice["id"]), _user(userName="bob@example.com"))
    assert_scim_error(response, 405)
    assert snapshot() == before


def test_405_on_a_collection_lists_the_methods_it_has(scim):
    response = scim.delete("/Users")
    assert {m.strip() for m in response["Allow"].split(",")} == {"GET", "POST", "HEAD", "OPTIONS"}


def test_405_on_a_resource_does_not_list_post_as_allowed(scim):
    alice = scim.create_user("alice@example.com")
    response = scim.post(f"/Users/{alice['id']}", _user(userName="x@example.com"))
    assert response.status_code == 405
    assert {m.strip() for m in response["Allow"].split(",")} == {
        "GET",
        "PUT",
        "PATCH",
        "DELETE",
        "HEAD",
        "OPTIONS",
    }


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_a_scim_415(scim, content_type):
    before = snapshot()
    response = scim.post("/Users", raw=json.dumps(_user(userName="a@example.com")), content_type=content_type)
    assert_scim_error(response, 415)
    assert snapshot() == before


# --- Bodies that cannot be read -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"userName": ',
        b'{"userName": "a",}',
        b"{'userName': 'a'}",
        b'{"userName": NaN}',
        b'{"userName": "a", "title": Infinity}',
        b'{"userName": "a"} trailing',
        b"[1, 2]",
        b'"just a string"',
        b"null",
    ],
)
def test_invalid_json_is_invalid_syntax(scim, raw):
    before = snapshot()
    assert_scim_error(scim.post("/Users", raw=raw), 400, "invalidSyntax")
    assert snapshot() == before


@pytest.mark.parametrize("raw", [b'{"userName": "\xff\xfe"}', b'{"userName": "\xc3\x28"}', b"\xed\xa0\x80"])
def test_invalid_utf8_is_invalid_syntax(scim, raw):
    before = snapshot()
    assert_scim_error(scim.post("/Users", raw=raw), 400, "invalidSyntax")
    assert snapshot() == before


def test_a_utf8_byte_order_mark_is_tolerated(scim):
    raw = b"\xef\xbb\xbf" + json.dumps(_user(userName="bom@example.com")).encode()
    assert scim.post("/Users", raw=raw).status_code == 201


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000 + "]" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"userName": "a", "emails": ' + "[" * 100 + "]" * 100 + "}",
    ],
    ids=["5000 nested lists", "5000 nested objects", "100 levels in an attribute"],
)
def test_deeply_nested_json_is_invalid_syntax(scim, raw):
    before = snapshot()
    assert_scim_error(scim.post("/Users", raw=raw.encode()), 400, "invalidSyntax")
    assert snapshot() == before


def test_an_empty_body_is_refused(scim):
    alice = scim.create_user("alice@example.com")
    before = snapshot()
    for method, path in (
        ("POST", "/Users"),
        ("PUT", f"/Users/{alice['id']}"),
        ("PATCH", f"/Users/{alice['id']}"),
    ):
        response = scim.request(method, path, raw=b"")
        assert response.status_code == 400, (method, response.content)
        assert_scim_error(response, 400, body_of(response).get("scimType"))
    assert snapshot() == before


def _emails(count: int) -> list[dict]:
    return [{"value": f"{n:03}-{'x' * 50}@example.com"} for n in range(count)]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_over_the_payload_limit_is_a_scim_413(scim, settings, method):
    alice = scim.create_user("alice@example.com")
    settings.SCIM_MAX_PAYLOAD_BYTES = 1000
    path = "/Users" if method == "POST" else f"/Users/{alice['id']}"
    body = (
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "emails", "value": _emails(20)}],
        }
        if method == "PATCH"
        else _user(userName="bob@example.com", emails=_emails(20))
    )
    assert len(json.dumps(body)) > 1000
    before = snapshot()
    assert_scim_error(scim.request(method, path, body), 413)
    assert snapshot() == before
    # Just under the limit is read.
    small = _user(userName="alice@example.com", emails=_emails(11))
    assert 800 < len(json.dumps(small)) < 1000
    assert scim.put(f"/Users/{alice['id']}", small).status_code == 200


def test_duplicate_json_keys_are_refused_naming_the_key(scim):
    before = snapshot()
    body = assert_scim_error(
        scim.post("/Users", raw=b'{"userName": "a", "userName": "b"}'), 400, "invalidSyntax"
    )
    assert "userName" in body["detail"]
    body = assert_scim_error(
        scim.post("/Users", raw=b'{"userName": "a", "name": {"givenName": "x", "givenName": "y"}}'),
        400,
        "invalidSyntax",
    )
    assert "givenName" in body["detail"]
    # The same attribute under two spellings is a duplicate too.
    body = assert_scim_error(scim.post("/Users", {"userName": "a", "USERNAME": "b"}), 400, "invalidSyntax")
    assert "USERNAME" in body["detail"]
    assert snapshot() == before


# --- Values of the wrong type, unknown attributes -------------------------------------------------


WRONG = {
    "userName as list": (_user(userName=["alice"]), "userName"),
    "userName as object": (_user(userName={"value": "alice"}), "userName"),
    "userName as boolean": (_user(userName=True), "userName"),
    "emails not a list": (_user(userName="a", emails="a@example.com"), "emails"),
    "email element a list": (_user(userName="a", emails=[["a@example.com"]]), "emails"),
    "email value an object": (_user(userName="a", emails=[{"value": {"x": 1}}]), "emails"),
    "two primary emails": (
        _user(
            userName="a",
            emails=[{"value": "a@x.com", "primary": True}, {"value": "b@x.com", "primary": True}],
        ),
        "emails",
    ),
    "primary not a boolean": (
        _user(userName="a", emails=[{"value": "a@x.com", "primary": "yes"}]),
        "primary",
    ),
    "name a string": (_user(userName="a", name="Alice Liddell"), "name"),
    "active an object": (_user(userName="a", active={"value": True}), "active"),
    "externalId a list": (_user(userName="a", externalId=["1"]), "externalId"),
    "userName too long": (_user(userName="a" * 257), "userName"),
    "NUL in a string": (_user(userName="a\x00b"), "userName"),
    "enterprise not an object": (_user(userName="a", **{ENTERPRISE: "R&D"}), ENTERPRISE),
    "missing userName": (_user(displayName="a"), "userName"),
    "empty userName": (_user(userName=""), "userName"),
    "unknown attribute": (_user(userName="a", favouriteColour="blue"), "favouriteColour"),
    "unknown sub-attribute": (_user(userName="a", name={"nick": "Al"}), "nick"),
    "unknown enterprise attribute": (_user(userName="a", **{ENTERPRISE: {"shoeSize": 42}}), "shoeSize"),
    "sub-attribute at the top": (_user(userName="a", **{"name.givenName": "Al"}), "name.givenName"),
    "schemas without the core schema": ({"schemas": [CORE_GROUP], "userName": "a"}, CORE_USER),
    "schemas not a list": ({"schemas": CORE_USER, "userName": "a"}, "schemas"),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_a_value_that_does_not_fit_the_schema_is_refused_naming_it(scim, case):
    body, named = WRONG[case]
    before = snapshot()
    error = assert_scim_error(scim.post("/Users", body), 400, error_type(case))
    assert named in error["detail"], error["detail"]
    assert snapshot() == before


def error_type(case: str) -> str:
    return "invalidSyntax" if case == "schemas not a list" else "invalidValue"


def test_user_name_as_a_number_is_refused(scim):
    before = snapshot()
    error = assert_scim_error(scim.post("/Users", _user(userName=12345)), 400, "invalidValue")
    assert "userName" in error["detail"]
    assert snapshot() == before


def test_a_wrong_value_in_a_put_or_patch_changes_nothing(scim):
    alice = scim.create_user("alice@example.com", title="Engineer")
    url = f"/Users/{alice['id']}"
    before = snapshot()
    assert_scim_error(scim.put(url, _user(userName="alice@example.com", emails="x")), 400, "invalidValue")
    assert_scim_error(
        scim.patch_ops(
            url,
            {"op": "replace", "path": "title", "value": "Manager"},
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "a@x.com", "primary": True}, {"value": "b@x.com", "primary": True}],
            },
        ),
        400,
        "invalidValue",
    )
    assert snapshot() == before


PATCH_ERRORS = {
    "unknown path": ({"op": "add", "path": "shoeSize", "value": "42"}, "invalidPath"),
    "unknown sub-attribute path": ({"op": "add", "path": "name.nick", "value": "x"}, "invalidPath"),
    "unknown operation": ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
    "read-only id": ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
    "read-only meta": (
        {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"},
        "mutability",
    ),
    "read-only groups": ({"op": "add", "path": "groups", "value": [{"value": "x"}]}, "mutability"),
    "remove without path": ({"op": "remove"}, "noTarget"),
    "wrong value type": ({"op": "replace", "path": "name", "value": "Alice"}, "invalidValue"),
    "pathless value not an object": ({"op": "replace", "value": "Alice"}, "invalidValue"),
}


@pytest.mark.parametrize("case", list(PATCH_ERRORS))
def test_a_patch_operation_that_cannot_apply_is_refused(scim, case):
    operation, scim_type = PATCH_ERRORS[case]
    alice = scim.create_user("alice@example.com", title="Engineer")
    before = snapshot()
    assert_scim_error(
        scim.patch_ops(
            f"/Users/{alice['id']}", {"op": "replace", "path": "title", "value": "Boss"}, operation
        ),
        400,
        scim_type,
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": ["urn:example:NotPatchOp"], "Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": {"op": "add"}},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ["add"]},
        _user(userName="alice@example.com"),
    ],
    ids=["wrong schema", "no operations", "operations an object", "operation a string", "a resource"],
)
def test_a_malformed_patch_request_is_refused(scim, body):
    alice = scim.create_user("alice@example.com")
    before = snapshot()
    response = scim.patch(f"/Users/{alice['id']}", body)
    assert response.status_code == 400
    assert_scim_error(response, 400, body_of(response)["scimType"])
    assert body_of(response)["scimType"] in ("invalidSyntax", "invalidValue")
    assert snapshot() == before


# --- Long values that the schema allows -----------------------------------------------------------


def test_a_multi_valued_value_at_the_schema_limit_is_stored_and_one_more_character_refused(scim):
    """The casefolded copy that is indexed (UserValue.value_key) has room for casefold's growth at
    the schema's limit ("ß" folds to "ss"): no database error for any value the schema allows."""
    limit = USER.schema.attribute("emails").sub("value").max_length
    at_limit = "ß" * limit
    response = scim.post("/Users", _user(userName="alice@example.com", emails=[{"value": at_limit}]))
    assert response.status_code == 201, response.content
    assert User.objects.get(pk=body_of(response)["id"]).emails == [{"value": at_limit}]
    before = snapshot()
    response = scim.post("/Users", _user(userName="bob@example.com", emails=[{"value": at_limit + "ß"}]))
    assert_scim_error(response, 400, "invalidValue", detail_contains=f"the limit is {limit}")
    assert snapshot() == before


# --- Unexpected failures --------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_an_unexpected_exception_is_a_scim_500_without_a_stack_trace(scim, settings, monkeypatch, debug):
    settings.DEBUG = debug
    import directory.services.users as user_services

    def explode(**kwargs):
        raise RuntimeError("secret internals: /etc/roster/password.txt")

    monkeypatch.setattr(user_services, "user_create", explode)
    monkeypatch.setattr(user_services, "user_update", explode)
    client = Client(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {scim.plaintext}"}
    alice = User.objects.create(tenant=scim.token.tenant, user_name="alice@example.com")
    before = snapshot()
    for method, path in (("POST", "/scim/v2/Users"), ("PUT", f"/scim/acme/v2/Users/{alice.pk}")):
        response = client.generic(
            method,
            path,
            data=json.dumps(_user(userName="bob@example.com")),
            content_type=SCIM_JSON,
            **headers,
        )
        body = assert_scim_error(response, 500)
        assert "secret internals" not in response.content.decode()
        assert "RuntimeError" not in body["detail"]
        assert response["Content-Type"] == SCIM_JSON
    assert snapshot() == before


@pytest.mark.parametrize("debug", [False, True])
def test_a_disallowed_host_is_a_scim_400(scim, settings, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    response = client.get(
        "/scim/v2/Users", HTTP_HOST="evil.example", HTTP_AUTHORIZATION=f"Bearer {scim.plaintext}"
    )
    assert_scim_error(response, 400)


@pytest.mark.parametrize(("method", "path"), [("GET", "/Nope"), ("DELETE", "/Users"), ("GET", "/Users/nope")])
def test_errors_are_scim_documents_with_debug_on_too(scim, settings, method, path):
    settings.DEBUG = True
    response = scim.request(method, path)
    assert response.status_code in (404, 405)
    assert_scim_error(response, response.status_code)


# --- /Me (RFC 7644 section 3.11) ------------------------------------------------------------------


ME_PATHS = ["/scim/v2/Me", "/scim/v2/Me/", "/scim/acme/v2/Me", "/scim/v2/Me/groups", "/scim/acme/v2/Me/a/b"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "REPORT"])
@pytest.mark.parametrize("path", ME_PATHS)
def test_me_is_not_implemented(scim, method, path):
    """ "A service provider that does NOT support this feature SHOULD respond with HTTP status code
    501 (Not Implemented)". Before: 404, as for an endpoint that does not exist."""
    before = snapshot()
    response = scim.request(method, path, _user(userName="me@example.com"))
    if method == "HEAD":  # no body, by HTTP
        assert response.status_code == 501 and not response.content
    else:
        body = assert_scim_error(response, 501)
        assert "/Users/{id}" in body["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("path", ME_PATHS)
def test_me_checks_the_token_first(scim, anonymous, other_scim, path):
    """Like every tenant endpoint, /Me answers 401 to a client without a valid token (and to a
    token of another tenant under /scim/acme/v2/), before it says it is not implemented."""
    assert_scim_error(anonymous.get(path), 401)
    assert_scim_error(scim.get(path, token="not-a-token"), 401)
    if "/acme/" in path:
        assert_scim_error(other_scim.get(path), 401)
    else:
        assert_scim_error(other_scim.get(path), 501)
