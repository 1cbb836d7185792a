"""The PATCH engine's semantics (RFC 7644 section 3.5.2), over HTTP: multi-valued add without
duplicates, one primary value, filtered targets that match nothing, the errors (invalidPath,
mutability, invalidValue, noTarget), all-or-nothing requests, and one audit event per request."""

import pytest
from django.contrib.auth.hashers import check_password

from directory.models import AuditEvent, User
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    PATCH_URN,
    assert_scim_error,
    read,
    snapshot,
    version,
)


def updates(resource_id: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_id=resource_id, action__endswith=".updated").order_by("id"))


WORK = {"value": "babs@example.com", "type": "work", "primary": True}
HOME = {"value": "babs@jensen.org", "type": "home"}


@pytest.fixture
def babs(scim) -> dict:
    return scim.create_user(
        "bjensen", name={"givenName": "Barbara", "familyName": "Jensen"}, emails=[WORK, HOME]
    )


def ok(response) -> None:
    assert response.status_code in (200, 204), response.content


# --- add: multi-valued values without duplicates --------------------------------------------------


def test_add_appends_only_the_values_not_there(scim, babs):
    other = {"value": "babs@other.org", "type": "other"}
    ok(scim.patch_ops(f"/Users/{babs['id']}", {"op": "add", "path": "emails", "value": [HOME, other]}))
    assert read(scim, "Users", babs["id"])["emails"] == [WORK, HOME, other]
    assert version(scim, "Users", babs["id"]) == 2
    ok(scim.patch_ops(f"/Users/{babs['id']}", {"op": "add", "path": "emails", "value": [other, WORK]}))
    assert read(scim, "Users", babs["id"])["emails"] == [WORK, HOME, other]
    assert version(scim, "Users", babs["id"]) == 2
    assert len(updates(babs["id"])) == 1


def test_add_of_a_value_there_in_another_case_is_no_duplicate(scim, babs):
    """emails.value and type are caseExact false (RFC 7643 section 4.1.2): ``BABS@Jensen.org``
    is the value already there (RFC 7644 3.5.2.1: no change SHOULD be made)."""
    same = {"value": "BABS@Jensen.org", "type": "Home"}
    ok(scim.patch_ops(f"/Users/{babs['id']}", {"op": "add", "path": "emails", "value": [same]}))
    assert read(scim, "Users", babs["id"])["emails"] == [WORK, HOME]
    assert version(scim, "Users", babs["id"]) == 1


def test_add_of_a_case_exact_value_in_another_case_is_a_new_value(scim, babs):
    """x509Certificates.value is binary and case-exact: another case is another value."""
    ok(
        scim.patch_ops(
            f"/Users/{babs['id']}",
            {"op": "add", "path": "x509Certificates", "value": [{"value": "TUlJQg=="}]},
        )
    )
    ok(
        scim.patch_ops(
            f"/Users/{babs['id']}",
            {"op": "add", "path": "x509Certificates", "value": [{"value": "tUlJQg=="}]},
        )
    )
    assert read(scim, "Users", babs["id"])["x509Certificates"] == [
        {"value": "TUlJQg=="},
        {"value": "tUlJQg=="},
    ]


def test_path_less_add_appends_too(scim, babs):
    other = {"value": "babs@other.org", "type": "other"}
    ok(
        scim.patch_ops(
            f"/Users/{babs['id']}", {"op": "add", "value": {"emails": [HOME, other], "title": "Guide"}}
        )
    )
    user = read(scim, "Users", babs["id"])
    assert (user["emails"], user["title"]) == ([WORK, HOME, other], "Guide")


def test_add_and_replace_on_a_complex_attribute_merge_its_sub_attributes(scim, babs):
    """RFC 7644 3.5.2.1/3.5.2.3: sub-attributes the value leaves out are left unchanged."""
    ok(scim.patch_ops(f"/Users/{babs['id']}", {"op": "add", "path": "name", "value": {"middleName": "Jane"}}))
    ok(
        scim.patch_ops(
            f"/Users/{babs['id']}", {"op": "replace", "path": "name", "value": {"givenName": "Babs"}}
        )
    )
    assert read(scim, "Users", babs["id"])["name"] == {
        "givenName": "Babs",
        "familyName": "Jensen",
        "middleName": "Jane",
    }


# --- primary -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "new@example.com", "type": "other", "primary": True}],
        },
        {
            "op": "add",
            "path": 'emails[type eq "other"]',
            "value": {"value": "new@example.com", "primary": True},
        },
        {"op": "add", "value": {"emails": [{"value": "new@example.com", "type": "other", "primary": True}]}},
    ],
    ids=["add", "add through a filter that creates it", "path-less add"],
)
def test_a_new_primary_value_clears_primary_on_the_others(scim, babs, operation):
    ok(scim.patch_ops(f"/Users/{babs['id']}", operation))
    emails = read(scim, "Users", babs["id"])["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == ["new@example.com"]
    assert [e["value"] for e in emails] == ["babs@example.com", "babs@jensen.org", "new@example.com"]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True},
        {"op": "replace", "path": 'emails[type eq "home"]', "value": {**HOME, "primary": True}},
        {"op": "add", "path": 'emails[value eq "babs@jensen.org"].primary', "value": "True"},
    ],
    ids=["sub-attribute through a filter", "element through a filter", "add, string boolean"],
)
def test_marking_an_earlier_or_later_value_primary_keeps_that_one(scim, babs, operation):
    """The value the request marks primary is the one that stays primary, wherever it sits in
    the list."""
    ok(scim.patch_ops(f"/Users/{babs['id']}", operation))
    emails = read(scim, "Users", babs["id"])["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == ["babs@jensen.org"]
    # and back: the work email, which comes first, becomes the primary one again
    ok(
        scim.patch_ops(
            f"/Users/{babs['id']}", {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True}
        )
    )
    emails = read(scim, "Users", babs["id"])["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == ["babs@example.com"]


def test_two_primary_values_in_one_list_are_refused(scim, babs):
    both = [{**WORK}, {**HOME, "primary": True}]
    before = snapshot()
    assert_scim_error(
        scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": "emails", "value": both}),
        400,
        "invalidValue",
    )
    assert snapshot() == before


# --- filters that match nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        'emails[type eq "other"]',
        'emails[value eq "nobody@example.com"].display',
        'x509Certificates[value eq "TUlJQg=="]',
    ],
)
def test_removing_a_filtered_value_that_does_not_exist_changes_nothing(scim, babs, path):
    before = snapshot()
    response = scim.patch_ops(f"/Users/{babs['id']}", {"op": "remove", "path": path})
    assert response.status_code == 200, response.content
    assert snapshot() == before


def test_removing_a_filtered_member_that_is_not_there_changes_nothing(scim, babs):
    group = scim.create_group("Guides", members=[babs["id"]])
    before = snapshot()
    ok(
        scim.patch_ops(
            f"/Groups/{group['id']}",
            {"op": "remove", "path": 'members[value eq "01a2d6c0-0000-7000-8000-000000000000"]'},
        )
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ('emails[type eq "other"]', {"value": "x@example.com"}),
        ('emails[type eq "other"].value', "x@example.com"),
        ('addresses[type eq "work"].streetAddress', "1010 Broadway Ave"),
    ],
)
def test_replacing_through_a_filter_that_matches_nothing_is_no_target(scim, babs, path, value):
    before = snapshot()
    response = scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": path, "value": value})
    assert_scim_error(response, 400, "noTarget")
    assert snapshot() == before


def test_remove_without_a_path_is_no_target(scim, babs):
    """RFC 7644 3.5.2.2: "If 'path' is unspecified, the operation fails ... noTarget"."""
    assert_scim_error(scim.patch_ops(f"/Users/{babs['id']}", {"op": "remove"}), 400, "noTarget")


# --- refused operations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "noSuchAttribute",
        "name.noSuchPart",
        'emails[type eq "work"',
        'emails[type eq "work"].noSuchSub',
        'name[givenName eq "Barbara"]',
        'emails[noSuchSub eq "x"]',
        'emails[type eq "work" and noSuchSub eq "x"]',
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:noSuchAttribute",
        "",
    ],
)
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_an_invalid_path_is_invalid_path(scim, babs, path, op):
    """Whether or not any value is there to match, a path naming no attribute is refused."""
    before = snapshot()
    operation = {"op": op, "path": path} | ({"value": "x"} if op != "remove" else {})
    assert_scim_error(scim.patch_ops(f"/Users/{babs['id']}", operation), 400, "invalidPath")
    assert snapshot() == before


def test_a_filter_naming_no_sub_attribute_is_invalid_even_with_no_values_to_match(scim):
    """An attribute without values must not turn an invalid filter into a silent no-op (remove) or
    a noTarget (replace)."""
    user = scim.create_user("nobody")
    for op in ("remove", "replace"):
        operation = {"op": op, "path": 'emails[noSuchSub eq "x"]'} | (
            {"value": {"value": "x"}} if op == "replace" else {}
        )
        assert_scim_error(scim.patch_ops(f"/Users/{user['id']}", operation), 400, "invalidPath")


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Users", "id", "2819c223-7f76-453a-919d-413861904646"),
        ("Users", "meta", {"resourceType": "Group"}),
        ("Users", "meta.created", "2010-01-23T04:56:22Z"),
        ("Users", "groups", [{"value": "2819c223-7f76-453a-919d-413861904646"}]),
        ("Users", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "Boss"),
        ("Groups", "id", "2819c223-7f76-453a-919d-413861904646"),
        ("Groups", "members.display", "Babs"),
        ("Groups", 'members[value eq "2819c223-7f76-453a-919d-413861904646"].display', "Babs"),
    ],
)
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_a_read_only_target_is_mutability(scim, babs, kind, path, value, op):
    resource = babs if kind == "Users" else scim.create_group("Guides", members=[babs["id"]])
    before = snapshot()
    operation = {"op": op, "path": path} | ({"value": value} if op != "remove" else {})
    assert_scim_error(scim.patch_ops(f"/{kind}/{resource['id']}", operation), 400, "mutability")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("active", "maybe"),
        ("active", 1),
        ("displayName", {"formatted": "Babs"}),
        ("displayName", ["Babs", "Jensen"]),
        ("name", "Barbara Jensen"),
        ("name.givenName", True),
        ("emails", "babs@example.com"),
        ("emails", [{"value": "babs@example.com", "primary": "yes"}]),
        ('emails[type eq "work"].primary', "yes"),
        ("emails", [{"value": "babs@example.com", "nosuch": 1}]),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", {"value": "not-a-user"}),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", {"name": "Sales"}),
    ],
)
def test_a_value_of_the_wrong_type_is_invalid_value(scim, babs, path, value):
    before = snapshot()
    response = scim.patch_ops(f"/Users/{babs['id']}", {"op": "replace", "path": path, "value": value})
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot() == before


@pytest.mark.parametrize("value", ["2819c223", [{"display": "Babs"}], [{"value": 42}], ["2819c223"]])
def test_a_member_value_of_the_wrong_shape_is_invalid_value(scim, babs, value):
    group = scim.create_group("Guides")
    before = snapshot()
    response = scim.patch_ops(f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": value})
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot() == before


# --- all or nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "scim_type"),
    [
        ({"op": "replace", "path": "noSuchAttribute", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "fax"].value', "value": "x"}, "noTarget"),
        ({"op": "replace", "path": "meta.version", "value": 'W/"9"'}, "mutability"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
        (
            {"op": "add", "path": ENTERPRISE + ":manager", "value": "01a2d6c0-0000-7000-8000-000000000000"},
            "invalidValue",
        ),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "copy", "path": "title"}, "invalidSyntax"),
    ],
    ids=[
        "invalid path",
        "no target",
        "read-only",
        "wrong type",
        "dangling manager",
        "required",
        "unknown op",
    ],
)
def test_a_failing_last_operation_leaves_everything_unchanged(scim, babs, last, scim_type):
    """Checks that come after the engine (the manager's existence is checked by the service)
    roll back as well as the engine's own."""
    before = snapshot()
    response = scim.patch_ops(
        f"/Users/{babs['id']}",
        {"op": "replace", "path": "displayName", "value": "Babs"},
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "babs@other.org", "type": "other", "primary": True}],
        },
        {"op": "replace", "path": "active", "value": False},
        {"op": "add", "path": ENTERPRISE + ":department", "value": "Tour Operations"},
        last,
    )
    assert_scim_error(response, 400, scim_type)
    assert snapshot() == before
    assert version(scim, "Users", babs["id"]) == 1


def test_a_failing_last_group_operation_leaves_name_and_members_unchanged(scim, babs):
    james = scim.create_user("james")
    group = scim.create_group("Guides", members=[babs["id"]])
    before = snapshot()
    response = scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "displayName", "value": "Tour Guides"},
        {"op": "add", "path": "members", "value": [{"value": james["id"]}]},
        {"op": "remove", "path": f'members[value eq "{babs["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": "01a2d6c0-0000-7000-8000-000000000000"}]},
    )
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot() == before


# --- one audit event per request ---------------------------------------------------------------


def test_one_audit_event_per_request_lists_each_change(scim, babs):
    response = scim.patch_ops(
        f"/Users/{babs['id']}",
        {"op": "Replace", "path": "displayName", "value": "Babs"},
        {"op": "add", "path": "title", "value": "Tour Guide"},
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "replace", "path": ENTERPRISE + ":department", "value": "Tour Operations"},
        {"op": "replace", "path": "name.givenName", "value": "Barbara"},  # unchanged: not listed
    )
    assert response.status_code == 200, response.content
    (event,) = updates(babs["id"])
    assert event.changes == {
        "display_name": {"before": "", "after": "Babs"},
        "title": {"before": "", "after": "Tour Guide"},
        "emails": {"before": [WORK, HOME], "after": [WORK]},
        "department": {"before": "", "after": "Tour Operations"},
    }
    assert version(scim, "Users", babs["id"]) == 2


def test_one_audit_event_per_group_request(scim, babs):
    james = scim.create_user("james")
    group = scim.create_group("Guides", members=[babs["id"]])
    ok(
        scim.patch_ops(
            f"/Groups/{group['id']}",
            {"op": "replace", "path": "displayName", "value": "Tour Guides"},
            {"op": "add", "path": "members", "value": [{"value": james["id"]}]},
            {"op": "remove", "path": "members", "value": [{"value": babs["id"]}]},
        )
    )
    (event,) = updates(group["id"])
    assert event.changes == {
        "display_name": {"before": "Guides", "after": "Tour Guides"},
        "members": {"added": [james["id"]], "removed": [babs["id"]]},
    }
    assert version(scim, "Groups", group["id"]) == 2


def test_add_then_remove_of_one_member_in_one_request_changes_nothing(scim, babs):
    group = scim.create_group("Guides")
    before = snapshot()
    ok(
        scim.patch_ops(
            f"/Groups/{group['id']}",
            {"op": "add", "path": "members", "value": [{"value": babs["id"]}]},
            {"op": "remove", "path": f'members[value eq "{babs["id"]}"]'},
        )
    )
    assert snapshot() == before


# --- setting what is there -----------------------------------------------------------------------


def test_setting_the_same_password_again_changes_nothing(scim):
    """The password is write-only, but the server can tell it is the one it has: sending it again
    (an IdP re-pushing the same profile) is no change, so neither version nor audit moves."""
    user = scim.create_user("pat", password="Tr0ub4dor&3")
    ok(scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "password", "value": "Tr0ub4dor&3"}))
    assert version(scim, "Users", user["id"]) == 1
    assert updates(user["id"]) == []
    ok(
        scim.patch_ops(
            f"/Users/{user['id']}", {"op": "replace", "path": "password", "value": "correct horse"}
        )
    )
    assert version(scim, "Users", user["id"]) == 2
    assert check_password("correct horse", User.objects.get(pk=user["id"]).password)
    body = {"schemas": [CORE_USER], "userName": "pat", "password": "correct horse"}
    assert scim.put(f"/Users/{user['id']}", body).status_code == 200
    assert version(scim, "Users", user["id"]) == 2


def test_operation_names_and_keys_in_any_case(scim, babs):
    body = {
        "Schemas": [PATCH_URN],
        "operations": [
            {"OP": "REPLACE", "Path": "title", "VALUE": "Guide"},
            {"Op": "Remove", "path": "nickName"},
        ],
    }
    ok(scim.patch(f"/Users/{babs['id']}", body))
    assert read(scim, "Users", babs["id"])["title"] == "Guide"


def test_group_patch_ignores_read_only_keys_in_a_path_less_value(scim, babs):
    group = scim.create_group("Guides", members=[babs["id"]])
    value = {
        "id": group["id"],
        "schemas": [CORE_GROUP],
        "displayName": "Tour Guides",
        "meta": {"resourceType": "Group"},
    }
    ok(scim.patch_ops(f"/Groups/{group['id']}", {"op": "replace", "value": value}))
    assert read(scim, "Groups", group["id"])["displayName"] == "Tour Guides"
    assert [m["value"] for m in read(scim, "Groups", group["id"])["members"]] == [babs["id"]]
