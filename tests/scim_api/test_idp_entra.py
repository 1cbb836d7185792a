"""Microsoft Entra ID's documented requests, replayed over HTTP as Entra sends them.

Each test sends a fixture of tests/fixtures/idp/entra/ (method, path, query and body as the source
prints them; only the vendor's placeholder ids are swapped for the ids of resources created first)
and then reads the resource back to check the state it left, not just the status. Sources:
[T] Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
Entra ID"; [K] Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol compliance of
the Microsoft Entra user provisioning service"; see tests/fixtures/README.md.
"""

from functools import partial
from urllib.parse import quote

import pytest

from directory.models import AuditEvent, User, UserState
from tests.scim_api import idp_replay
from tests.scim_api.conftest import (
    ABSOLUTE_BASE,
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    LIST_URN,
    PATCH_URN,
    assert_scim_error,
    body_of,
    member_ids,
    read,
    snapshot,
    version,
)
from tests.support.seed import user_stored_before_the_rule

MS_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
HEADERS = {"Accept": "application/scim+json"}


fixture = partial(idp_replay.fixture, "entra")
replay = partial(idp_replay.replay, vendor="entra", headers=HEADERS)


def assert_patched(response) -> None:
    """A successful PATCH: Entra expects 204 for groups ([T] Update Group), a 200 is also fine."""
    assert response.status_code in (200, 204), response.content


# --- Users ---------------------------------------------------------------------------------------

CREATED_USER = {
    "schemas": [CORE_USER],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [
        {
            "primary": True,
            "type": "work",
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        }
    ],
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
}


@pytest.fixture
def entra_user(scim) -> str:
    """The user of [T] Create User, created by replaying it: meta and an empty roles list in the
    body, the enterprise URN in schemas without enterprise attributes."""
    response = replay(scim, "create-user")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


def test_create_user(scim, entra_user):
    assert read(scim, "Users", entra_user) == {"id": entra_user, **CREATED_USER}
    assert version(scim, "Users", entra_user) == 1


def test_create_user_with_nulls_top_level_enterprise_keys_and_a_misspelled_urn(scim):
    """[T] Example 2: explicit nulls, ``department``/``manager`` at the top level (unqualified
    enterprise attributes, null), and the schema URN typo ``...enterprise:2.0User``."""
    response = replay(scim, "example2-create-user")
    assert response.status_code == 201, response.content
    user_id = body_of(response)["id"]
    assert read(scim, "Users", user_id) == {
        "schemas": [CORE_USER],
        "id": user_id,
        "externalId": "jyoung",
        "userName": "jyoung@testuser.com",
        "active": True,
        "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}],
        "name": {"familyName": "Young", "givenName": "Joy"},
    }


def test_top_level_enterprise_attributes_with_values_land_in_the_extension(scim):
    """The same Example 2 shape with values: Entra emits enterprise attributes unqualified."""
    boss = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "boss@testuser.com"}))["id"]
    body = fixture("example2-create-user")["body"] | {"department": "Sales", "manager": boss}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    user = read(scim, "Users", body_of(response)["id"])
    assert user[ENTERPRISE] == {
        "department": "Sales",
        "manager": {"value": boss, "$ref": f"{ABSOLUTE_BASE}/Users/{boss}"},
    }
    assert user["schemas"] == [CORE_USER, ENTERPRISE]


@pytest.mark.parametrize(
    "query",
    [
        'filter=userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"',
        "filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22",
        "filter=" + quote('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"'),
    ],
    ids=["as documented", "plus for spaces (on the wire)", "percent-encoded"],
)
def test_get_user_by_query(scim, entra_user, query):
    response = replay(scim, "get-user-by-query", query=query)
    assert response.status_code == 200
    body = body_of(response)
    assert (body["schemas"], body["totalResults"], body["startIndex"]) == ([LIST_URN], 1, 1)
    assert body["itemsPerPage"] == 1
    (user,) = body["Resources"]
    assert {k: v for k, v in user.items() if k != "meta"} == {"id": entra_user, **CREATED_USER}


@pytest.mark.parametrize(
    "query",
    ['filter=userName eq "non-existent user"', "filter=userName+eq+%22non-existent+user%22"],
    ids=["as documented", "plus for spaces (on the wire)"],
)
def test_get_user_by_query_zero_results(scim, entra_user, query):
    """[T]: 200 with an empty ListResponse, not 404 (the Test Connection relies on it)."""
    response = replay(scim, "get-user-by-query-zero-results", query=query)
    assert response.status_code == 200
    body = body_of(response)
    assert (body["schemas"], body["totalResults"], body["startIndex"]) == ([LIST_URN], 0, 1)
    assert body.get("Resources", []) == []


def test_a_user_name_with_a_space_is_found_through_plus_encoding(scim, tenant):
    """Spaces arrive as ``+`` (Microsoft Q&A 923479): the value must be decoded, not kept. A
    userName with a space is refused now (RFC 8265), so the one found is stored from before."""
    plus = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "non-existent+user"}))
    spaced = user_stored_before_the_rule(tenant, "non-existent user")
    response = replay(
        scim, "get-user-by-query-zero-results", query="filter=userName+eq+%22non-existent+user%22"
    )
    assert [r["id"] for r in body_of(response)["Resources"]] == [str(spaced.pk)] != [plus["id"]]


def test_query_by_unquoted_external_id(scim):
    """[T] Example 1 prints `filter=externalId eq jyoung`, unquoted (invalid per the RFC 7644
    section 3.4.2.2 ABNF): a lone comparison with a bare word is read as the quoted string."""
    created = replay(scim, "example2-create-user")
    assert created.status_code == 201, created.content
    response = replay(scim, "example1-query-user-by-externalid-unquoted")
    assert response.status_code == 200, response.content
    assert [r["id"] for r in body_of(response)["Resources"]] == [body_of(created)["id"]]


@pytest.mark.parametrize("name", ["get-user", "example3-get-user"])
def test_get_user(scim, entra_user, name):
    placeholder = fixture(name)["path"].rsplit("/", 1)[1]
    response = replay(scim, name, {placeholder: entra_user})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert {k: v for k, v in body_of(response).items() if k != "meta"} == {"id": entra_user, **CREATED_USER}


def test_get_user_not_found(scim, entra_user):
    """[T]: 404 with an Error body; the documented id is not one of ours (nor a UUID)."""
    assert_scim_error(replay(scim, "get-user-not-found"), 404)


@pytest.mark.parametrize("name", ["delete-user", "example6-delete-user"])
def test_delete_user(scim, entra_user, name):
    placeholder = fixture(name)["path"].rsplit("/", 1)[1]
    response = replay(scim, name, {placeholder: entra_user})
    assert response.status_code == 204
    assert response.content == b""
    # [T] Get User, second request: the deleted user is a 404 afterwards, and no lookup finds it.
    assert_scim_error(replay(scim, "get-user-not-found", {"5171a35d82074e068ce2": entra_user}), 404)
    lookup = replay(scim, "get-user-by-query")
    assert body_of(lookup)["totalResults"] == 0
    assert User.objects.get(pk=entra_user).state == UserState.DELETED


def test_patch_user_single_valued(scim, entra_user):
    response = replay(scim, "patch-user-single-valued", {"5171a35d82074e068ce2": entra_user})
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user) == {
        "id": entra_user,
        **CREATED_USER,
        "userName": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
    }
    assert version(scim, "Users", entra_user) == 2


def test_patch_user_multi_valued(scim, entra_user):
    """``emails[type eq "work"].value`` changes the value of the work email only, keeping its
    other sub-attributes; ``name.familyName`` keeps the other name parts. Values are stored as
    sent: Entra's sample response shows a recomputed name.formatted, which Roster does not invent."""
    response = replay(scim, "patch-user-multi-valued", {"6764549bef60420686bc": entra_user})
    assert response.status_code == 200, response.content
    expected = {
        "id": entra_user,
        **CREATED_USER,
        "emails": [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}],
        "name": {**CREATED_USER["name"], "familyName": "updatedFamilyName"},
    }
    assert read(scim, "Users", entra_user) == expected
    assert version(scim, "Users", entra_user) == 2
    # Entra re-sends a PATCH when it is unsure it landed: the same PATCH again changes nothing.
    events = AuditEvent.objects.count()
    assert replay(scim, "patch-user-multi-valued", {"6764549bef60420686bc": entra_user}).status_code == 200
    assert read(scim, "Users", entra_user) == expected
    assert version(scim, "Users", entra_user) == 2
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "name",
    [
        "patch-user-disable",  # [T]: "Replace" with a JSON false
        "compat-disable-user-without-flag",  # [K] default: "Replace" with the string "False"
        "compat-disable-user-with-flag",  # [K] aadOptscim062020: "replace" with false
    ],
)
def test_disable_user(scim, entra_user, name):
    ids = {"5171a35d82074e068ce2": entra_user, "{id}": entra_user}
    response = replay(scim, name, ids)
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user) == {"id": entra_user, **CREATED_USER, "active": False}
    row = User.objects.get(pk=entra_user)
    assert (row.active, row.state) == (False, UserState.SUSPENDED)
    assert version(scim, "Users", entra_user) == 2
    # Disabling a disabled user changes nothing, whichever form of false it comes in.
    for again in ("patch-user-disable", "compat-disable-user-without-flag", "compat-disable-user-with-flag"):
        assert replay(scim, again, ids).status_code == 200
    assert version(scim, "Users", entra_user) == 2


@pytest.mark.parametrize("enabled", ["True", True], ids=["string", "boolean"])
def test_enable_user_with_a_string_or_a_boolean(scim, entra_user, enabled):
    """Re-enabling as Entra's default mode sends it: the [K] body with "True" (or true)."""
    replay(scim, "compat-disable-user-without-flag", {"{id}": entra_user})
    body = fixture("compat-disable-user-without-flag")["body"]
    body["Operations"][0]["value"] = enabled
    assert scim.patch(f"/Users/{entra_user}", body).status_code == 200
    assert read(scim, "Users", entra_user)["active"] is True
    assert User.objects.get(pk=entra_user).state == UserState.ACTIVE
    assert version(scim, "Users", entra_user) == 3


@pytest.mark.parametrize(
    "name", ["compat-add-single-value-without-flag", "compat-add-single-value-with-flag"]
)
def test_add_single_value(scim, entra_user, name):
    """[K]: "Add" (default) or "add" (flag) of a single-valued string."""
    response = replay(scim, name, {"{id}": entra_user})
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user) == {"id": entra_user, **CREATED_USER, "nickName": "Babs"}
    assert replay(scim, name, {"{id}": entra_user}).status_code == 200
    assert version(scim, "Users", entra_user) == 2


def test_replace_multiple_one_operation_each(scim, entra_user):
    """[K] default: one capitalised "Replace" per attribute, the last on a URN-qualified path."""
    response = replay(scim, "compat-replace-multiple-without-flag", {"{id}": entra_user})
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user) == {
        **CREATED_USER,
        "schemas": [CORE_USER, ENTERPRISE],
        "id": entra_user,
        "displayName": "Pvlo",
        "emails": [{"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
        "name": {"formatted": "givenName familyName", "givenName": "Gtfd", "familyName": "Pkqf"},
        "externalId": "Eqpj",
        ENTERPRISE: {"employeeNumber": "Eqpj"},
    }
    assert version(scim, "Users", entra_user) == 2  # one request, one version
    assert AuditEvent.objects.filter(target_id=entra_user, action="user.updated").count() == 1


def test_replace_multiple_path_less_with_dotted_and_urn_keys(scim, entra_user):
    """[K] aadOptscim062020: a path-less "replace" whose value is keyed by dotted paths
    (``name.givenName``) and by a URN-qualified extension attribute."""
    response = replay(scim, "compat-replace-multiple-with-flag", {"{id}": entra_user})
    assert response.status_code == 200, response.content
    expected = {
        **CREATED_USER,
        "schemas": [CORE_USER, ENTERPRISE],
        "id": entra_user,
        "displayName": "Bjfe",
        "emails": [{"primary": True, "type": "work", "value": "TestMhvaes@test.microsoft.com"}],
        "name": {"formatted": "givenName familyName", "givenName": "Kkom", "familyName": "Unua"},
        ENTERPRISE: {"employeeNumber": "Aklq"},
    }
    assert read(scim, "Users", entra_user) == expected
    assert replay(scim, "compat-replace-multiple-with-flag", {"{id}": entra_user}).status_code == 200
    assert read(scim, "Users", entra_user) == expected
    assert version(scim, "Users", entra_user) == 2


def test_path_less_value_keyed_by_the_extension_urn(scim, entra_user):
    """The nested form of the same update (RFC 7644 3.5.2.3 path-less replace), with Entra's
    capitalised op: attributes of the extension under its URN, next to core attributes."""
    response = scim.patch(
        f"/Users/{entra_user}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {
                    "op": "Replace",
                    "value": {
                        ENTERPRISE: {"department": "Tour Operations", "employeeNumber": "701984"},
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "4130",
                        "title": "Tour Guide",
                    },
                }
            ],
        },
    )
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user) == {
        **CREATED_USER,
        "schemas": [CORE_USER, ENTERPRISE],
        "id": entra_user,
        "title": "Tour Guide",
        ENTERPRISE: {"department": "Tour Operations", "employeeNumber": "701984", "costCenter": "4130"},
    }


def test_add_through_a_filter_that_matches_nothing_creates_the_element(scim):
    """Constructed from the [K]/[T] filter shape with Entra's "Add": a user mapped with a work email
    for the first time. The element is created with what the filter pins (type "work")."""
    user = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "noemail@testuser.com"}))["id"]
    response = scim.patch(
        f"/Users/{user}",
        {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"}],
        },
    )
    assert response.status_code == 200, response.content
    assert read(scim, "Users", user)["emails"] == [{"type": "work", "value": "new@contoso.com"}]
    # The same Add again matches the element now and changes nothing.
    scim.patch(
        f"/Users/{user}",
        {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"}],
        },
    )
    assert read(scim, "Users", user)["emails"] == [{"type": "work", "value": "new@contoso.com"}]
    assert version(scim, "Users", user) == 2


def test_replace_through_a_filter_that_matches_nothing_is_no_target(scim):
    """The [T] multi-valued PATCH on a user without a work email: 400 noTarget, nothing written."""
    user = body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": "noemail@testuser.com"}))["id"]
    before = snapshot()
    response = replay(scim, "patch-user-multi-valued", {"6764549bef60420686bc": user})
    assert_scim_error(response, 400, "noTarget")
    assert snapshot() == before


@pytest.fixture
def manager(scim) -> str:
    response = scim.post(
        "/Users", {"schemas": [CORE_USER], "userName": "boss@testuser.com", "displayName": "Boss"}
    )
    return body_of(response)["id"]


def test_add_manager_unqualified_path_one_element_array(scim, entra_user, manager):
    """[T] Example 5: path "manager" without its URN, the singular complex value as a one-element
    array with ``$ref`` and ``value``."""
    ids = {
        "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1": entra_user,
        "00aa00aa-bb11-cc22-dd33-44ee44ee44ee": manager,
    }
    response = replay(scim, "example5-patch-user-add-manager", ids)
    assert response.status_code == 200, response.content
    expected = {
        **CREATED_USER,
        "schemas": [CORE_USER, ENTERPRISE],
        "id": entra_user,
        ENTERPRISE: {
            "manager": {"value": manager, "$ref": f"{ABSOLUTE_BASE}/Users/{manager}", "displayName": "Boss"}
        },
    }
    assert read(scim, "Users", entra_user) == expected
    assert User.objects.get(pk=entra_user).manager_id.hex == manager.replace("-", "")
    assert replay(scim, "example5-patch-user-add-manager", ids).status_code == 200
    assert version(scim, "Users", entra_user) == 2


def test_add_manager_as_a_bare_id(scim, entra_user, manager):
    """SCIM-SDK #686 (third-party capture of Entra traffic): the manager as a bare id string on
    the URN path."""
    response = replay(
        scim,
        "patch-user-add-manager-bare-string",
        {"{id}": entra_user, "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2": manager},
    )
    assert response.status_code == 200, response.content
    assert read(scim, "Users", entra_user)[ENTERPRISE] == {
        "manager": {"value": manager, "$ref": f"{ABSOLUTE_BASE}/Users/{manager}", "displayName": "Boss"}
    }


def test_a_manager_that_is_not_a_user_is_refused(scim, entra_user):
    before = snapshot()
    response = replay(scim, "patch-user-add-manager-bare-string", {"{id}": entra_user})
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot() == before


# --- Groups --------------------------------------------------------------------------------------


@pytest.fixture
def entra_group(scim) -> str:
    """The group of [T] Create Group: the non-URN Microsoft schema next to the core one, meta in
    the body, no members key."""
    response = replay(scim, "create-group")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


@pytest.fixture
def users(scim) -> list[str]:
    return [
        body_of(scim.post("/Users", {"schemas": [CORE_USER], "userName": f"member{i}@testuser.com"}))["id"]
        for i in range(3)
    ]


def test_create_group(scim, entra_group):
    assert read(scim, "Groups", entra_group) == {
        "schemas": [CORE_GROUP],
        "id": entra_group,
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    }
    assert MS_GROUP_SCHEMA in fixture("create-group")["body"]["schemas"]


def test_get_group_without_members(scim, entra_group, users):
    replay(
        scim,
        "patch-group-add-members",
        {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[0]},
    )
    response = replay(scim, "get-group-excluded-members", {"40734ae655284ad3abcc": entra_group})
    assert response.status_code == 200
    assert {k: v for k, v in body_of(response).items() if k != "meta"} == {
        "schemas": [CORE_GROUP],
        "id": entra_group,
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    }
    assert member_ids(scim, entra_group) == {users[0]}


@pytest.mark.parametrize(
    "query",
    [
        None,
        "excludedAttributes=members&filter=displayName+eq+%22displayName%22",
        "excludedAttributes=members&filter=" + quote('displayName eq "displayName"'),
    ],
    ids=["as documented", "plus for spaces (on the wire)", "percent-encoded"],
)
def test_get_group_by_display_name(scim, entra_group, users, query):
    replay(
        scim,
        "patch-group-add-members",
        {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[0]},
    )
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "displayName2"})
    response = replay(scim, "get-group-by-displayname", query=query)
    assert response.status_code == 200
    body = body_of(response)
    assert body["totalResults"] == 1
    (group,) = body["Resources"]
    assert group["id"] == entra_group
    assert "members" not in group


def test_get_groups_by_display_name_plus_encoded(scim, users):
    """Microsoft Q&A 923479: the query exactly as it came over the wire, ``+`` and ``%22``."""
    test = body_of(
        scim.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": "TEST", "members": [{"value": users[0]}]}
        )
    )
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "TEST 2"})
    response = replay(scim, "get-groups-by-displayname-plus-encoded")
    assert response.status_code == 200
    body = body_of(response)
    assert [g["id"] for g in body["Resources"]] == [test["id"]]
    assert "members" not in body["Resources"][0]


def test_add_members_with_null_ref(scim, entra_group, users):
    """[T] Update Group [Add Members]: "Add", path members, ``"$ref": null``."""
    ids = {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[0]}
    assert_patched(replay(scim, "patch-group-add-members", ids))
    assert member_ids(scim, entra_group) == {users[0]}
    assert version(scim, "Groups", entra_group) == 2
    ids["f648f8d5ea4e4cd38e9c"] = users[1]
    assert_patched(replay(scim, "patch-group-add-members", ids))
    assert member_ids(scim, entra_group) == {users[0], users[1]}
    assert version(scim, "Groups", entra_group) == 3
    # Adding a member again changes nothing.
    assert_patched(replay(scim, "patch-group-add-members", ids))
    assert version(scim, "Groups", entra_group) == 3
    (member,) = [m for m in read(scim, "Groups", entra_group)["members"] if m["value"] == users[1]]
    assert member == {"value": users[1], "$ref": f"{ABSOLUTE_BASE}/Users/{users[1]}", "type": "User"}


def test_remove_members_by_value_array_removes_only_those(scim, entra_group, users):
    """[T] Update Group [Remove Members]: "Remove", path members, a value array: not "remove all"."""
    for user in users:
        replay(
            scim,
            "patch-group-add-members",
            {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": user},
        )
    ids = {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[1]}
    assert_patched(replay(scim, "patch-group-remove-members", ids))
    assert member_ids(scim, entra_group) == {users[0], users[2]}
    assert version(scim, "Groups", entra_group) == 5
    assert_patched(replay(scim, "patch-group-remove-members", ids))  # a non-member: no change
    assert version(scim, "Groups", entra_group) == 5


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        ("compat-remove-member-without-flag", "u1091"),  # [K] default: value array
        ("compat-remove-member-with-flag", "7f4bc1a3-285e-48ae-8202-5accb43efb0e"),  # [K] flag: filter
    ],
)
def test_remove_member_both_shapes(scim, entra_group, users, name, placeholder):
    for user in users[:2]:
        replay(
            scim,
            "patch-group-add-members",
            {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": user},
        )
    assert_patched(replay(scim, name, {"{id}": entra_group, placeholder: users[0]}))
    assert member_ids(scim, entra_group) == {users[1]}
    assert version(scim, "Groups", entra_group) == 4


def test_replace_members_sets_the_whole_list(scim, entra_group, users):
    """ "Replace" on members with Entra's member shape (third-party reports say Entra sends it):
    RFC 7644 3.5.2.3, the list becomes exactly the value (not an additive merge)."""
    for user in users[:2]:
        replay(
            scim,
            "patch-group-add-members",
            {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": user},
        )
    body = {
        "schemas": [PATCH_URN],
        "Operations": [
            {
                "op": "Replace",
                "path": "members",
                "value": [{"$ref": None, "value": users[1]}, {"$ref": None, "value": users[2]}],
            }
        ],
    }
    assert_patched(scim.patch(f"/Groups/{entra_group}", body))
    assert member_ids(scim, entra_group) == {users[1], users[2]}
    assert version(scim, "Groups", entra_group) == 4
    assert_patched(scim.patch(f"/Groups/{entra_group}", body))
    assert version(scim, "Groups", entra_group) == 4


def test_patch_group_display_name_keeps_members(scim, entra_group, users):
    replay(
        scim,
        "patch-group-add-members",
        {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[0]},
    )
    assert_patched(replay(scim, "patch-group-displayname", {"fa2ce26709934589afc5": entra_group}))
    group = read(scim, "Groups", entra_group)
    assert group["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    assert group["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert member_ids(scim, entra_group) == {users[0]}
    assert version(scim, "Groups", entra_group) == 3
    assert_patched(replay(scim, "patch-group-displayname", {"fa2ce26709934589afc5": entra_group}))
    assert version(scim, "Groups", entra_group) == 3


def test_delete_group(scim, entra_group, users):
    replay(
        scim,
        "patch-group-add-members",
        {"a99962b9f99d4c4fac67": entra_group, "f648f8d5ea4e4cd38e9c": users[0]},
    )
    response = replay(scim, "delete-group", {"cdb1ce18f65944079d37": entra_group})
    assert response.status_code == 204
    assert_scim_error(scim.get(f"/Groups/{entra_group}"), 404)
    assert "groups" not in read(scim, "Users", users[0])


def test_get_schemas(scim):
    response = replay(scim, "get-schemas")
    assert response.status_code == 200
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    ids = {schema["id"] for schema in body["Resources"]}
    assert {CORE_USER, CORE_GROUP, ENTERPRISE} <= ids
