"""Identities that look the same (issue 16): userName is an RFC 8265 UsernameCaseMapped string,
so a look-alike of a taken name is the same name (409), a name holding a space, a control or an
invisible character is refused (400 invalidValue, naming it) on every way in, and a lookup with any
look-alike form finds the one account. Emails are keyed the same way, never refused."""

import json
from urllib.parse import urlencode

import pytest

from directory.models import User
from scim_api.schema import BULK_REQUEST, SEARCH_REQUEST
from tests.scim_api.conftest import (
    CORE_USER,
    PATCH_URN,
    assert_scim_error,
    body_of,
    read,
    snapshot,
    without_request_id,
)
from tests.support.seed import user_stored_before_the_rule

FULLWIDTH_ALICE = "\uff21\uff2c\uff29\uff23\uff25@example.com"
# (the plain name, a look-alike the rule makes the same name)
SAME_NAMES = [
    ("alice@example.com", FULLWIDTH_ALICE),
    ("jos\u00e9", "jose\u0301"),  # NFC, NFD
    ("jose\u0301", "jos\u00e9"),
    ("kevin", "\u212aevin"),  # KELVIN SIGN
]
# (a name the rule refuses, what the refusal names)
REFUSED = [
    ("alice@example.com ", "U+0020 SPACE"),
    ("car\u200bol", "U+200B ZERO WIDTH SPACE"),
    ("bob\n", "U+000A"),
    ("bo\x07b", "U+0007"),
    ("\u202emoc.elpmaxe@ecila", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("alice smith", "U+0020 SPACE"),
]
# (the account's userName, lookups that must find it)
LOOKUPS = [
    (
        "alice@example.com",
        [FULLWIDTH_ALICE, "alice@example.com ", "ali\u200bce@example.com", "ALICE@example.com"],
    ),
    ("jos\u00e9", ["jose\u0301", "JOSE\u0301", " jos\u00e9\u200b"]),
    ("carol", ["car\u200bol", "carol\n", "\u202ecarol"]),
]


def user_body(user_name: str, **attributes) -> dict:
    return {"schemas": [CORE_USER], "userName": user_name, **attributes}


def found(scim, text: str, *, search: bool = False) -> list[str]:
    """The userNames a filter finds, by GET (the userName lookup shortcut for ``eq``) or POST .search."""
    if search:
        response = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": text})
    else:
        response = scim.get(f"/Users?{urlencode({'filter': text})}")
    assert response.status_code == 200, response.content
    return [r["userName"] for r in body_of(response).get("Resources", [])]


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- writes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("plain", "look_alike"), SAME_NAMES)
def test_a_look_alike_of_a_taken_user_name_is_taken(scim, plain, look_alike):
    scim.create_user(plain)
    before = snapshot()
    response = scim.post("/Users", user_body(look_alike))
    body = assert_scim_error(response, 409, "uniqueness", detail_contains="is already taken")
    if look_alike == FULLWIDTH_ALICE:
        assert "compared as 'alice@example.com': RFC 8265" in body["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(("name", "named"), REFUSED)
def test_create_refuses_a_user_name_the_rule_refuses(scim, name, named):
    scim.create_user("alice@example.com")
    before = snapshot()
    response = scim.post("/Users", user_body(name))
    body = assert_scim_error(response, 400, "invalidValue", detail_contains=f"userName contains {named}")
    assert without_request_id(body["detail"]).endswith("which is not allowed (RFC 8265).")
    assert snapshot() == before


@pytest.mark.parametrize(("name", "named"), REFUSED)
def test_put_refuses_a_user_name_the_rule_refuses(scim, name, named):
    user = scim.create_user("carol")
    before = snapshot()
    response = scim.put(f"/Users/{user['id']}", user_body(name))
    assert_scim_error(response, 400, "invalidValue", detail_contains=named)
    assert snapshot() == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "userName", "value": "car\u200bol"},
        {"op": "replace", "value": {"userName": "car\u200bol"}},
        {"op": "add", "path": "userName", "value": "car\u200bol"},
    ],
    ids=["path", "path-less", "add"],
)
def test_patch_refuses_a_user_name_the_rule_refuses(scim, operation):
    user = scim.create_user("carol")
    before = snapshot()
    response = scim.patch_ops(f"/Users/{user['id']}", operation)
    assert_scim_error(response, 400, "invalidValue", detail_contains="U+200B ZERO WIDTH SPACE")
    assert snapshot() == before


def test_put_and_patch_to_a_look_alike_of_another_user_are_taken(scim):
    scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    before = snapshot()
    assert_scim_error(scim.put(f"/Users/{bob['id']}", user_body(FULLWIDTH_ALICE)), 409, "uniqueness")
    response = scim.patch_ops(
        f"/Users/{bob['id']}", {"op": "replace", "path": "userName", "value": FULLWIDTH_ALICE}
    )
    assert_scim_error(response, 409, "uniqueness")
    assert snapshot() == before


def test_a_user_may_rename_itself_to_a_look_alike_of_its_own_name(scim):
    user = scim.create_user("alice@example.com")
    response = scim.put(f"/Users/{user['id']}", user_body(FULLWIDTH_ALICE))
    assert response.status_code == 200, response.content
    assert read(scim, "Users", user["id"])["userName"] == FULLWIDTH_ALICE  # stored as sent


def test_bulk_refuses_the_same_and_changes_nothing(scim):
    carol = scim.create_user("carol")
    scim.create_user("alice@example.com")
    before = snapshot()
    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("dave\u200b")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body(FULLWIDTH_ALICE)},
            {"method": "PUT", "path": f"/Users/{carol['id']}", "data": user_body("carol\n")},
            {
                "method": "PATCH",
                "path": f"/Users/{carol['id']}",
                "data": {
                    "schemas": [PATCH_URN],
                    "Operations": [{"op": "replace", "path": "userName", "value": "\u202ecarol"}],
                },
            },
        ],
    }
    response = scim.post("/Bulk", body)
    assert response.status_code == 200, response.content
    results = body_of(response)["Operations"]
    assert [(r["status"], r["response"]["scimType"]) for r in results] == [
        ("400", "invalidValue"),
        ("409", "uniqueness"),
        ("400", "invalidValue"),
        ("400", "invalidValue"),
    ]
    assert "U+200B ZERO WIDTH SPACE" in results[0]["response"]["detail"]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in results[3]["response"]["detail"]
    assert snapshot() == before


def test_odd_emails_are_stored_not_refused(scim):
    emails = [{"value": "Alice@Example.com ", "type": "work"}, {"value": "x\u200by@example.com"}]
    user = scim.create_user("alice@example.com", emails=emails)
    assert read(scim, "Users", user["id"])["emails"] == emails


def test_a_user_stored_before_the_rule_can_still_be_written_under_its_name(scim, tenant):
    """An unchanged userName is not checked again: a PUT re-sending it works; renaming works."""
    legacy = user_stored_before_the_rule(tenant, "dave ")
    response = scim.put(f"/Users/{legacy.pk}", user_body("dave ", title="Engineer"))
    assert response.status_code == 200, response.content
    assert body_of(response)["title"] == "Engineer"
    response = scim.patch_ops(f"/Users/{legacy.pk}", {"op": "replace", "path": "userName", "value": "dave"})
    assert response.status_code == 200, response.content
    assert User.objects.get(pk=legacy.pk).user_name_key == "dave"


# --- lookups -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "lookups"), LOOKUPS)
def test_a_lookup_with_any_look_alike_finds_the_one_account(scim, name, lookups):
    scim.create_user(name)
    scim.create_user("someone.else@example.com")
    for lookup in lookups:
        assert found(scim, f"userName eq {quoted(lookup)}") == [name], lookup
        # The same through the filter compiler (not the userName shortcut), and its negation.
        assert found(scim, f"userName eq {quoted(lookup)} and active eq true", search=True) == [name], lookup
        assert name not in found(scim, f"not (userName eq {quoted(lookup)})", search=True), lookup


def test_substring_and_ordering_comparisons_compare_keys(scim):
    scim.create_user("alice@example.com")
    scim.create_user("bob@example.com")
    assert found(scim, 'userName sw "\uff21\uff2c"') == ["alice@example.com"]
    assert found(scim, 'userName co "\uff29\u200bCE@"') == ["alice@example.com"]
    assert found(scim, 'userName ew "@EXAMPLE.COM\u200b"') == ["alice@example.com", "bob@example.com"]
    assert found(scim, 'userName lt "\uff42"') == ["alice@example.com"]
    assert found(scim, 'userName ne "\uff21lice@example.com"') == ["bob@example.com"]


@pytest.mark.parametrize("lookup", ["jo hn", "\u200b", " ", "party\U0001f389", "\n"])
def test_a_lookup_no_account_can_match_finds_nothing(scim, lookup):
    scim.create_user("john")
    assert found(scim, f"userName eq {quoted(lookup)}") == []
    assert found(scim, f"userName eq {quoted(lookup)} and active eq true", search=True) == []


def test_a_lookup_finds_a_user_stored_before_the_rule_by_its_own_name(scim, tenant):
    user_stored_before_the_rule(tenant, "jo hn")
    assert found(scim, 'userName eq "jo hn"') == ["jo hn"]
    assert found(scim, 'userName eq "JO HN\u200b" and active eq true', search=True) == ["jo hn"]


@pytest.mark.parametrize(
    "text",
    [
        f"emails.value eq {quoted(FULLWIDTH_ALICE)}",
        'emails.value eq "alice@example.com\u200b "',
        f'emails[type eq "work" and value eq {quoted(FULLWIDTH_ALICE)}]',
        'emails.value sw "\uff21LICE@"',
    ],
)
def test_emails_are_found_by_their_look_alikes(scim, text):
    scim.create_user("a1", emails=[{"value": "Alice@Example.com", "type": "work"}])
    scim.create_user("b1", emails=[{"value": "bob@example.com", "type": "work"}])
    assert found(scim, text) == ["a1"]
    assert found(scim, f"{text} and active eq true", search=True) == ["a1"]


def test_a_patch_filter_on_emails_finds_the_element_by_a_look_alike(scim):
    emails = [{"value": "alice@example.com", "type": "work"}, {"value": "a@home.example", "type": "home"}]
    user = scim.create_user("alice", emails=emails)
    response = scim.patch_ops(
        f"/Users/{user['id']}",
        {"op": "replace", "path": f"emails[value eq {quoted(FULLWIDTH_ALICE)}].type", "value": "other"},
    )
    assert response.status_code == 200, response.content
    assert [e["type"] for e in read(scim, "Users", user["id"])["emails"]] == ["other", "home"]


def test_an_email_added_again_as_a_look_alike_is_the_same_email(scim):
    user = scim.create_user("alice", emails=[{"value": "alice@example.com"}])
    response = scim.patch_ops(
        f"/Users/{user['id']}", {"op": "add", "path": "emails", "value": [{"value": FULLWIDTH_ALICE}]}
    )
    assert response.status_code == 200, response.content
    assert len(read(scim, "Users", user["id"])["emails"]) == 1


@pytest.mark.parametrize(
    "text",
    ['userName eq "\\ud800"', 'userName eq "a\\udfff" and active eq true', 'emails.value sw "\\ud800"'],
)
def test_a_lookup_with_a_lone_surrogate_is_refused_not_a_500(scim, text):
    """The filter's own escapes can spell half a surrogate pair, which no database can be sent."""
    scim.create_user("alice")
    for response in (
        scim.get(f"/Users?{urlencode({'filter': text})}"),
        scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": text}),
    ):
        assert_scim_error(response, 400, "invalidFilter", detail_contains="lone surrogate")
