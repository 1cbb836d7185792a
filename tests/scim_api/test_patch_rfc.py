"""The PATCH examples of RFC 7644 section 3.5.2, byte for byte (tests/fixtures/rfc/), applied over
HTTP to resources created from the RFC 7643 section 8.1/8.2 User and 8.4 Group examples, and the
result read back and compared with what the RFC text says the operation does.

The RFC's ids are elided in places (``2819c223-7f76-...413861904646``, ``2819c223...413861904646``,
``08e1d05d...473d93df9210``): each form is read as the id it abbreviates and swapped, like the full
ids, for the id of the resource created in its place.
"""

import copy
import json
from pathlib import Path

import pytest

from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    assert_scim_error,
    body_of,
    member_ids,
    read,
    version,
)

RFC = Path(__file__).resolve().parents[1] / "fixtures" / "rfc"
BABS = ("2819c223-7f76-453a-919d-413861904646", "2819c223-7f76-...413861904646", "2819c223...413861904646")
BABS_NO_SPACE = "2819c223...919d-413861904646"
JAMES = ("08e1d05d-121c-4561-8b96-473d93df9210", "08e1d05d...473d93df9210")
MANDY = "902c246b-6245-4190-8e05-00816be7344a"


def rfc(name: str) -> dict:
    return json.loads((RFC / f"{name}.json").read_text())


def rfc_text(name: str, ids: dict[str, str]) -> str:
    """The example as printed, with the RFC's (possibly elided) ids replaced by real ones."""
    text = json.dumps(rfc(name))
    for placeholder, actual in ids.items():
        text = text.replace(placeholder, actual)
    return text


def patch(scim, kind: str, resource_id: str, name: str, ids: dict[str, str] | None = None):
    response = scim.request("PATCH", f"/{kind}/{resource_id}", raw=rfc_text(name, ids or {}))
    assert response.status_code in (200, 204), response.content
    return response


def as_stored(example: dict) -> dict:
    """What a GET returns for a User created from an RFC example: the readOnly ``id``, ``meta``
    and ``groups`` the example shows are the server's, and ``password`` is never returned."""
    return {k: v for k, v in example.items() if k not in ("id", "meta", "groups", "password")}


@pytest.fixture
def babs(scim) -> dict:
    """The RFC 7643 section 8.2 User, created from the example exactly as printed."""
    response = scim.request("POST", "/Users", raw=json.dumps(rfc("rfc7643-8.2-full-user")))
    assert response.status_code == 201, response.content
    user_id = body_of(response)["id"]
    expected = {"id": user_id, **as_stored(rfc("rfc7643-8.2-full-user"))}
    assert read(scim, "Users", user_id) == expected
    return expected


@pytest.fixture
def minimal(scim) -> dict:
    """The RFC 7643 section 8.1 minimal User (userName bjensen)."""
    response = scim.request("POST", "/Users", raw=json.dumps(rfc("rfc7643-8.1-minimal-user")))
    assert response.status_code == 201, response.content
    user_id = body_of(response)["id"]
    return read(scim, "Users", user_id)


@pytest.fixture
def people(scim, babs) -> dict[str, str]:
    """Babs (8.2), Mandy Pepperidge (8.4's second member) and James Smith (3.5.2's new member)."""
    mandy = body_of(
        scim.post("/Users", {"schemas": [CORE_USER], "userName": "mandy", "displayName": "Mandy Pepperidge"})
    )
    james = body_of(
        scim.post("/Users", {"schemas": [CORE_USER], "userName": "james", "displayName": "James Smith"})
    )
    return {"babs": babs["id"], "mandy": mandy["id"], "james": james["id"]}


@pytest.fixture
def ids(people) -> dict[str, str]:
    mapping = dict.fromkeys(BABS, people["babs"]) | {BABS_NO_SPACE: people["babs"]}
    return mapping | dict.fromkeys(JAMES, people["james"]) | {MANDY: people["mandy"]}


@pytest.fixture
def tour_guides(scim, ids) -> str:
    """The RFC 7643 section 8.4 Group (Babs and Mandy), created from the example."""
    response = scim.request("POST", "/Groups", raw=rfc_text("rfc7643-8.4-group", ids))
    assert response.status_code == 201, response.content
    group_id = body_of(response)["id"]
    assert read(scim, "Groups", group_id)["displayName"] == "Tour Guides"
    return group_id


# --- 3.5.2.1 add ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rfc7644-3.5.2.1-add-members", "rfc7644-3.5.2-patch-general-form"])
def test_add_member(scim, people, ids, name):
    group = body_of(
        scim.post(
            "/Groups",
            {"schemas": [CORE_GROUP], "displayName": "Tour Guides", "members": [{"value": people["mandy"]}]},
        )
    )
    patch(scim, "Groups", group["id"], name, ids)
    assert member_ids(scim, group["id"]) == {people["mandy"], people["babs"]}
    assert version(scim, "Groups", group["id"]) == 2


def test_add_an_existing_member_changes_nothing(scim, people, ids, tour_guides):
    """3.5.2.1: "If the target location already contains the value specified, no changes SHOULD be
    made to the resource"."""
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.1-add-members", ids)
    assert member_ids(scim, tour_guides) == {people["babs"], people["mandy"]}
    assert version(scim, "Groups", tour_guides) == 1


def test_add_emails_and_nickname_without_path(scim, minimal):
    """3.5.2.1: a path-less add merges the value's attributes into the resource; ``nickname`` is
    spelled in lower case there, attribute names are case-insensitive (RFC 7643 section 2.1)."""
    patch(scim, "Users", minimal["id"], "rfc7644-3.5.2.1-add-emails-nickname-no-path")
    assert read(scim, "Users", minimal["id"]) == {
        **minimal,
        "emails": [{"value": "babs@jensen.org", "type": "home"}],
        "nickName": "Babs",
    }


def test_add_emails_and_nickname_that_are_there_changes_nothing(scim, babs):
    """On the 8.2 user the home email and the nickName are already there: no duplicate, no change."""
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.1-add-emails-nickname-no-path")
    assert read(scim, "Users", babs["id"]) == babs
    assert version(scim, "Users", babs["id"]) == 1


# --- 3.5.2.2 remove ------------------------------------------------------------------------------


def test_remove_single_member(scim, people, ids, tour_guides):
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.2-remove-single-member", ids)
    assert member_ids(scim, tour_guides) == {people["mandy"]}


def test_remove_all_members(scim, ids, tour_guides):
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.2-remove-all-members", ids)
    assert "members" not in read(scim, "Groups", tour_guides)
    assert read(scim, "Groups", tour_guides)["displayName"] == "Tour Guides"
    assert version(scim, "Groups", tour_guides) == 2


def test_remove_email_through_a_complex_filter(scim, babs):
    """``emails[type eq "work" and value ew "example.com"]``: the matching email goes, the home
    email stays."""
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.2-remove-email-complex-filter")
    assert read(scim, "Users", babs["id"]) == {
        **babs,
        "emails": [{"value": "babs@jensen.org", "type": "home"}],
    }


def test_remove_and_add_member(scim, people, ids, tour_guides):
    """The example's filter ``members[value eq"..."]`` lacks the SP the ABNF requires; it is
    accepted as printed."""
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.2-remove-and-add-member", ids)
    assert member_ids(scim, tour_guides) == {people["mandy"], people["james"]}
    assert version(scim, "Groups", tour_guides) == 2  # one request, one version


def test_remove_all_then_add_members(scim, people, ids, tour_guides):
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.2-remove-all-then-add-members", ids)
    assert member_ids(scim, tour_guides) == {people["babs"], people["james"]}
    assert version(scim, "Groups", tour_guides) == 2


# --- 3.5.2.3 replace -----------------------------------------------------------------------------


def test_replace_members(scim, people, ids, tour_guides):
    patch(scim, "Groups", tour_guides, "rfc7644-3.5.2.3-replace-members", ids)
    assert member_ids(scim, tour_guides) == {people["babs"], people["james"]}
    assert version(scim, "Groups", tour_guides) == 2


def test_replace_work_address(scim, babs):
    """``addresses[type eq "work"]`` replaced by the whole value, in place."""
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.3-replace-work-address")
    new_work = rfc("rfc7644-3.5.2.3-replace-work-address")["Operations"][0]["value"]
    assert read(scim, "Users", babs["id"]) == {**babs, "addresses": [new_work, babs["addresses"][1]]}


def test_replace_work_address_made_primary_resets_the_other_primary(scim, babs):
    """The same example on a Babs whose home address is the primary one: the replaced work address
    says primary, so the home address stops being primary (RFC 7643 section 2.4: at most one
    primary; RFC 7644 3.5.2: the server resets the others)."""
    home_primary = copy.deepcopy(babs["addresses"])
    del home_primary[0]["primary"]
    home_primary[1]["primary"] = True
    scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": "addresses", "value": home_primary})
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.3-replace-work-address")
    new_work = rfc("rfc7644-3.5.2.3-replace-work-address")["Operations"][0]["value"]
    addresses = read(scim, "Users", babs["id"])["addresses"]
    assert addresses[0] == new_work
    assert addresses[1].get("primary", False) is False
    assert {k: v for k, v in addresses[1].items() if k != "primary"} == babs["addresses"][1]


def test_replace_street_address(scim, babs):
    """``addresses[type eq "work"].streetAddress``: only that sub-attribute of that address."""
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.3-replace-street-address")
    work, home = babs["addresses"]
    assert read(scim, "Users", babs["id"]) == {
        **babs,
        "addresses": [{**work, "streetAddress": "1010 Broadway Ave"}, home],
    }


def test_replace_emails_and_nickname_without_path(scim, minimal):
    """A path-less replace sets each attribute of the value: the emails become exactly the two."""
    scim.patch_ops(
        f"/Users/{minimal['id']}",
        {"op": "add", "path": "emails", "value": [{"value": "old@example.com", "type": "other"}]},
    )
    patch(scim, "Users", minimal["id"], "rfc7644-3.5.2.3-replace-emails-nickname-no-path")
    value = rfc("rfc7644-3.5.2.3-replace-emails-nickname-no-path")["Operations"][0]["value"]
    assert read(scim, "Users", minimal["id"]) == {**minimal, "emails": value["emails"], "nickName": "Babs"}


def test_replace_emails_and_nickname_that_are_there_changes_nothing(scim, babs):
    patch(scim, "Users", babs["id"], "rfc7644-3.5.2.3-replace-emails-nickname-no-path")
    assert read(scim, "Users", babs["id"]) == babs
    assert version(scim, "Users", babs["id"]) == 1


# --- x509Certificates through a value filter (the 8.2 certificate) -----------------------------


def test_x509_certificate_removed_through_a_value_filter(scim, babs):
    """Not a 3.5.2 example body (the RFC prints none for certificates): a ``value eq`` filter on the
    8.2 user's binary x509Certificates value, which is case-exact (RFC 7643 section 4.1.2)."""
    certificate = babs["x509Certificates"][0]["value"]
    lowered = f'x509Certificates[value eq "{certificate.lower()}"]'
    scim.patch_ops(f"/Users/{babs['id']}", {"op": "remove", "path": lowered})
    assert read(scim, "Users", babs["id"]) == babs  # case-exact: no match, nothing removed
    assert version(scim, "Users", babs["id"]) == 1

    scim.patch_ops(
        f"/Users/{babs['id']}", {"op": "add", "path": "x509Certificates", "value": [{"value": "TUlJQg=="}]}
    )
    response = scim.patch_ops(
        f"/Users/{babs['id']}", {"op": "remove", "path": f'x509Certificates[value eq "{certificate}"]'}
    )
    assert response.status_code == 200, response.content
    assert read(scim, "Users", babs["id"]) == {**babs, "x509Certificates": [{"value": "TUlJQg=="}]}


def test_x509_certificate_display_set_through_a_value_filter(scim, babs):
    certificate = babs["x509Certificates"][0]["value"]
    path = f'x509Certificates[value eq "{certificate}"].display'
    response = scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": path, "value": "Babs (2011)"})
    assert response.status_code == 200, response.content
    assert read(scim, "Users", babs["id"])["x509Certificates"] == [
        {"value": certificate, "display": "Babs (2011)"}
    ]
    missing = 'x509Certificates[value eq "TUlJQg=="].display'
    assert_scim_error(
        scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": missing, "value": "x"}),
        400,
        "noTarget",
    )
