"""Users: create, read, replace, patch and delete (RFC 7644 sections 3.3-3.6), with meta, and the
attribute characteristics of RFC 7643 section 2 (readOnly, writeOnly, returned, case, null)."""

import copy
import uuid
from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.utils import timezone

from directory.models import AuditEvent, Membership, User, UserState
from directory.services.audit import Actor
from directory.services.tenants import tenant_create
from directory.services.tokens import token_create
from tests.scim_api.conftest import (
    ABSOLUTE_BASE,
    CORE_USER,
    ENTERPRISE,
    LIST_URN,
    Scim,
    assert_scim_error,
    body_of,
    read,
    snapshot,
)


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def content(document: dict) -> dict:
    """A resource without id and meta: what the client controls."""
    return {k: v for k, v in document.items() if k not in ("id", "meta")}


def assert_resource(response, status: int, *, version: int, base: str = ABSOLUTE_BASE) -> dict:
    """A User resource answer: status, SCIM JSON, ETag = meta.version, meta complete and consistent."""
    assert response.status_code == status, response.content
    body = body_of(response)
    uuid.UUID(body["id"])
    meta = body["meta"]
    assert set(meta) == {"resourceType", "created", "lastModified", "location", "version"}
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"{base}/Users/{body['id']}"
    assert meta["version"] == f'W/"{version}"'
    assert response["ETag"] == meta["version"]
    assert parse_time(meta["created"]) <= parse_time(meta["lastModified"])
    if status == 201:
        assert response["Location"] == meta["location"]
    return body


def test_create_answers_201_with_location_etag_and_the_resource(scim, tenant):
    manager = scim.create_user("boss@example.com", displayName="The Boss")
    sent = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "okta-00u1",
        "userName": "alice@example.com",
        "name": {"formatted": "Alice Liddell", "givenName": "Alice", "familyName": "Liddell"},
        "displayName": "Alice Liddell",
        "title": "Engineer",
        "locale": "en-GB",
        "password": "Corr3ct-Horse-Battery",
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": True},
            {"value": "alice@home.example", "type": "home", "primary": False},
        ],
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        "addresses": [
            {"streetAddress": "1 Rabbit Hole", "locality": "Oxford", "country": "GB", "type": "home"}
        ],
        ENTERPRISE: {"employeeNumber": "701984", "department": "R&D", "manager": {"value": manager["id"]}},
    }
    before = timezone.now()
    response = scim.post("/Users", sent)
    after = timezone.now()

    body = assert_resource(response, 201, version=1)
    expected = {k: v for k, v in sent.items() if k != "password"}
    expected["active"] = True
    expected[ENTERPRISE] = {
        "employeeNumber": "701984",
        "department": "R&D",
        "manager": {
            "value": manager["id"],
            "$ref": f"{ABSOLUTE_BASE}/Users/{manager['id']}",
            "displayName": "The Boss",
        },
    }
    assert content(body) == expected
    assert body["meta"]["created"] == body["meta"]["lastModified"]
    assert before <= parse_time(body["meta"]["created"]) <= after

    row = User.objects.get(pk=body["id"])
    assert row.tenant == tenant
    assert (row.user_name, row.name_given_name, row.department, str(row.manager_id)) == (
        "alice@example.com",
        "Alice",
        "R&D",
        manager["id"],
    )


def test_create_on_the_tenant_url_gives_locations_under_it(scim):
    response = scim.at("/scim/acme/v2").post("/Users", {"schemas": [CORE_USER], "userName": "a@example.com"})
    assert_resource(response, 201, version=1, base="http://testserver/scim/acme/v2")


def test_locations_follow_the_tenant_url_whatever_the_slug(db, system_actor):
    """A slug that starts with "v2" once made the base URL /scim/v2 (cut at the first "/v2")."""
    tenant = tenant_create(slug="v2labs", actor=system_actor)
    _, plaintext = token_create(tenant=tenant, name="okta", actor=Actor.system("tests"))
    client = Scim(Client(), plaintext, base="/scim/v2labs/v2")
    response = client.post("/Users", {"schemas": [CORE_USER], "userName": "a@example.com"})
    assert_resource(response, 201, version=1, base="http://testserver/scim/v2labs/v2")


def test_get_returns_what_create_returned(scim):
    created = scim.create_user("alice@example.com", name={"givenName": "Alice"}, nickName="Al")
    response = scim.get(f"/Users/{created['id']}")
    assert assert_resource(response, 200, version=1) == created


def test_list_returns_the_users(scim):
    alice = scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    body = body_of(scim.get("/Users"))
    assert body["schemas"] == [LIST_URN]
    assert body["totalResults"] == 2
    assert body["Resources"] == [alice, bob]


@pytest.mark.parametrize("kind", ["random uuid", "not a uuid", "group id"])
def test_an_unknown_id_is_a_scim_404(scim, kind):
    missing = {
        "random uuid": str(uuid.uuid4()),
        "not a uuid": "no-such-user",
        "group id": scim.create_group("G")["id"],
    }[kind]
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": "title"}],
            }
            if method == "PATCH"
            else {"schemas": [CORE_USER], "userName": "x@example.com"}
        )
        before = snapshot()
        assert_scim_error(scim.request(method, f"/Users/{missing}", body), 404)
        assert snapshot() == before


def test_put_replaces_the_whole_resource(scim):
    created = scim.create_user(
        "alice@example.com",
        password="Original-Passw0rd",
        nickName="Al",
        title="Engineer",
        emails=[{"value": "alice@example.com", "type": "work"}],
        **{ENTERPRISE: {"department": "R&D"}},
    )
    hashed = User.objects.get(pk=created["id"]).password
    replacement = {
        "schemas": [CORE_USER],
        "userName": "alice@example.com",
        "displayName": "Alice",
        "emails": [{"value": "alice@new.example", "type": "home"}],
    }
    response = scim.put(f"/Users/{created['id']}", replacement)
    body = assert_resource(response, 200, version=2)
    # Omitted attributes are cleared, except active (kept) and the write-only password (kept).
    assert content(body) == {**replacement, "active": True}
    assert body["meta"]["created"] == created["meta"]["created"]
    assert parse_time(body["meta"]["lastModified"]) > parse_time(created["meta"]["lastModified"])
    assert User.objects.get(pk=created["id"]).password == hashed
    assert body_of(scim.get(f"/Users/{created['id']}")) == body


def test_put_without_active_keeps_a_disabled_user_disabled(scim):
    created = scim.create_user("alice@example.com", active=False)
    body = assert_resource(
        scim.put(
            f"/Users/{created['id']}", {"schemas": [CORE_USER], "userName": "alice@example.com", "title": "X"}
        ),
        200,
        version=2,
    )
    assert body["active"] is False
    assert User.objects.get(pk=created["id"]).state == UserState.SUSPENDED


def test_a_put_that_changes_nothing_changes_neither_version_nor_last_modified(scim):
    created = scim.create_user(
        "alice@example.com", name={"givenName": "Alice"}, emails=[{"value": "a@x.com"}]
    )
    before = snapshot()
    response = scim.put(f"/Users/{created['id']}", content(created))
    assert assert_resource(response, 200, version=1) == created
    assert snapshot() == before


PATCH_BASE = {
    "userName": "pat@example.com",
    "name": {"givenName": "Pat", "familyName": "Smith"},
    "displayName": "Pat Smith",
    "title": "Engineer",
    "emails": [{"value": "pat@example.com", "type": "work", "primary": True}],
    ENTERPRISE: {"department": "R&D", "costCenter": "CC-1"},
}
DEPARTMENT = f"{ENTERPRISE}:department"


def _set(path, value):
    def change(doc):
        *parents, last = path
        for key in parents:
            doc = doc.setdefault(key, {})
        doc[last] = value

    return change


def _drop(path):
    def change(doc):
        *parents, last = path
        for key in parents:
            doc = doc[key]
        del doc[last]

    return change


HOME_EMAIL = {"value": "pat@home.example", "type": "home"}
PATCHES = {
    "add simple": ([{"op": "add", "path": "nickName", "value": "Patty"}], _set(["nickName"], "Patty")),
    "replace simple": (
        [{"op": "replace", "path": "displayName", "value": "P. Smith"}],
        _set(["displayName"], "P. Smith"),
    ),
    "remove simple": ([{"op": "remove", "path": "title"}], _drop(["title"])),
    "replace sub-attribute": (
        [{"op": "replace", "path": "name.givenName", "value": "Patricia"}],
        _set(["name", "givenName"], "Patricia"),
    ),
    "add sub-attribute": (
        [{"op": "add", "path": "name.middleName", "value": "Q"}],
        _set(["name", "middleName"], "Q"),
    ),
    "remove sub-attribute": ([{"op": "remove", "path": "name.familyName"}], _drop(["name", "familyName"])),
    "replace complex merges": (
        [{"op": "replace", "path": "name", "value": {"givenName": "Patricia"}}],
        _set(["name", "givenName"], "Patricia"),
    ),
    "replace enterprise by urn path": (
        [{"op": "replace", "path": DEPARTMENT, "value": "Sales"}],
        _set([ENTERPRISE, "department"], "Sales"),
    ),
    "add enterprise by urn path": (
        [{"op": "add", "path": f"{ENTERPRISE}:employeeNumber", "value": "42"}],
        _set([ENTERPRISE, "employeeNumber"], "42"),
    ),
    "remove enterprise by urn path": (
        [{"op": "remove", "path": f"{ENTERPRISE}:costCenter"}],
        _drop([ENTERPRISE, "costCenter"]),
    ),
    "replace enterprise without path": (
        [{"op": "replace", "value": {ENTERPRISE: {"department": "Sales"}}}],
        _set([ENTERPRISE, "department"], "Sales"),
    ),
    "replace urn-qualified key without path": (
        [{"op": "replace", "value": {DEPARTMENT: "Sales"}}],
        _set([ENTERPRISE, "department"], "Sales"),
    ),
    "replace several without path": (
        [{"op": "replace", "value": {"displayName": "PS", "nickName": "P"}}],
        lambda d: d.update(displayName="PS", nickName="P"),
    ),
    "disable with string False (Entra)": (
        [{"op": "Replace", "path": "active", "value": "False"}],
        _set(["active"], False),
    ),
    "disable with boolean": ([{"op": "replace", "path": "active", "value": False}], _set(["active"], False)),
    "add to multi-valued appends": (
        [{"op": "add", "path": "emails", "value": [HOME_EMAIL]}],
        lambda d: d["emails"].append(HOME_EMAIL),
    ),
    "replace multi-valued": (
        [{"op": "replace", "path": "emails", "value": [HOME_EMAIL]}],
        _set(["emails"], [HOME_EMAIL]),
    ),
    "remove multi-valued": ([{"op": "remove", "path": "emails"}], _drop(["emails"])),
    "paths and ops ignore case": (
        [
            {"op": "REPLACE", "path": "Name.GivenName", "value": "Patricia"},
            {"op": "Add", "path": "DISPLAYNAME", "value": "PS"},
            {"op": "replace", "path": DEPARTMENT.upper(), "value": "Sales"},
        ],
        lambda d: (
            d["name"].update(givenName="Patricia"),
            d.update(displayName="PS"),
            d[ENTERPRISE].update(department="Sales"),
        ),
    ),
    "several operations in order": (
        [
            {"op": "add", "path": "nickName", "value": "A"},
            {"op": "replace", "path": "nickName", "value": "B"},
            {"op": "remove", "path": "title"},
        ],
        lambda d: (d.update(nickName="B"), d.pop("title")),
    ),
}


@pytest.mark.parametrize("case", list(PATCHES))
def test_patch(scim, case):
    operations, change = PATCHES[case]
    created = scim.create_user(**PATCH_BASE)
    expected = copy.deepcopy(content(created))
    change(expected)

    response = scim.patch_ops(f"/Users/{created['id']}", *operations)

    body = assert_resource(response, 200, version=2)
    assert content(body) == expected
    assert body["meta"]["created"] == created["meta"]["created"]
    assert parse_time(body["meta"]["lastModified"]) > parse_time(created["meta"]["lastModified"])
    assert body_of(scim.get(f"/Users/{created['id']}")) == body


def test_patch_disabling_suspends_the_user(scim):
    created = scim.create_user("pat@example.com")
    scim.patch_ops(f"/Users/{created['id']}", {"op": "Replace", "path": "active", "value": "False"})
    row = User.objects.get(pk=created["id"])
    assert (row.active, row.state) == (False, UserState.SUSPENDED)
    scim.patch_ops(f"/Users/{created['id']}", {"op": "Replace", "path": "active", "value": "True"})
    row = User.objects.get(pk=created["id"])
    assert (row.active, row.state) == (True, UserState.ACTIVE)


def _active_query(scim, text: str) -> set[str]:
    response = scim.post("/Users/.search", {"filter": text})
    assert response.status_code == 200, response.content
    return {r["id"] for r in body_of(response)["Resources"]}


@pytest.mark.parametrize(
    "removal",
    [
        {"op": "remove", "path": "active"},
        {"op": "Remove", "path": "ACTIVE"},
        {"op": "replace", "path": "active", "value": None},
    ],
)
def test_patch_removing_active_leaves_it_unassigned_and_the_user_suspended(scim, removal):
    """RFC 7644 section 3.5.2.2: a removed attribute is unassigned, and not returned (scim2-tester
    checks this). Not active, though: the user is suspended, and no filter for active users finds
    it. Before: remove set active to false (a deviation scim2-tester reported)."""
    pat = scim.create_user("pat@example.com")
    other = scim.create_user("other@example.com")
    response = scim.patch_ops(f"/Users/{pat['id']}", removal)
    body = assert_resource(response, 200, version=2)
    assert "active" not in body
    assert "active" not in read(scim, "Users", pat["id"])
    row = User.objects.get(pk=pat["id"])
    assert (row.active, row.state) == (None, UserState.SUSPENDED)
    assert row.suspended_at is not None
    for text, expected in (
        ("active eq true", {other["id"]}),
        ("active pr", {other["id"]}),
        ("active eq false", set()),  # unassigned is not false either (RFC 7644 section 3.4.2.2)
        ("not (active pr)", {pat["id"]}),
        ("active ne true", {pat["id"]}),
        ("not (active eq true)", {pat["id"]}),
        ('active eq true or userName eq "pat@example.com"', {pat["id"], other["id"]}),
    ):
        assert _active_query(scim, text) == expected, text
    for order in ("ascending", "descending"):
        response = scim.get(f"/Users?sortBy=active&sortOrder={order}")
        assert response.status_code == 200, response.content
        ids = [r["id"] for r in body_of(response)["Resources"]]
        assert ids == ([other["id"], pat["id"]] if order == "ascending" else [pat["id"], other["id"]])
    event = AuditEvent.objects.filter(action="user.updated", target_id=pat["id"]).get()
    assert event.changes == {"active": {"before": True, "after": None}}


def test_an_unassigned_active_is_kept_by_put_and_set_again_by_patch(scim):
    """The README's PUT rule holds for an unassigned active too: omitted on PUT is unchanged."""
    pat = scim.create_user("pat@example.com", title="Engineer")
    url = f"/Users/{pat['id']}"
    scim.patch_ops(url, {"op": "remove", "path": "active"})
    response = scim.put(url, {"schemas": [CORE_USER], "userName": "pat@example.com", "title": "Lead"})
    assert response.status_code == 200, response.content
    assert "active" not in body_of(response)
    assert User.objects.get(pk=pat["id"]).state == UserState.SUSPENDED
    response = scim.patch_ops(url, {"op": "add", "path": "active", "value": True})
    assert body_of(response)["active"] is True
    row = User.objects.get(pk=pat["id"])
    assert (row.active, row.state, row.suspended_at) == (True, UserState.ACTIVE, None)


def test_removing_active_from_a_suspended_user_keeps_when_it_was_suspended(scim):
    """False to unassigned changes no state: the suspension keeps its time."""
    pat = scim.create_user("pat@example.com", active=False)
    suspended_at = User.objects.get(pk=pat["id"]).suspended_at
    response = scim.patch_ops(f"/Users/{pat['id']}", {"op": "remove", "path": "active"})
    assert response.status_code == 200, response.content
    row = User.objects.get(pk=pat["id"])
    assert (row.active, row.state, row.suspended_at) == (None, UserState.SUSPENDED, suspended_at)
    event = AuditEvent.objects.filter(action="user.updated", target_id=pat["id"]).get()
    assert set(event.changes) == {"active"}


def test_the_admin_shows_an_unassigned_active_as_not_active(scim, tenant, client):
    pat = scim.create_user("pat@example.com")
    scim.patch_ops(f"/Users/{pat['id']}", {"op": "remove", "path": "active"})
    scim.create_user("other@example.com")
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-not-used-123")
    client.force_login(admin)
    page = client.get("/admin/directory/user/").content.decode()
    assert page.count('alt="False"') == 1 and page.count('alt="True"') == 1, page
    assert 'alt="None"' not in page
    detail = client.get(f"/admin/directory/user/{pat['id']}/change/").content.decode()
    assert 'alt="False"' in detail and 'alt="None"' not in detail


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "replace", "path": "displayName", "value": "Pat Smith"}],
        [
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "pat@example.com", "type": "work", "primary": True}],
            }
        ],
        [{"op": "remove", "path": "nickName"}],
        [{"op": "replace", "path": "name.givenName", "value": "Pat"}],
        [{"op": "replace", "path": DEPARTMENT, "value": "R&D"}],
        [{"op": "replace", "path": "active", "value": "True"}],
        [{"op": "add", "path": "nickName", "value": "X"}, {"op": "remove", "path": "nickName"}],
    ],
    ids=[
        "same value",
        "existing email",
        "absent attribute",
        "same sub-attribute",
        "same extension",
        "same active",
        "add then remove",
    ],
)
def test_a_patch_that_changes_nothing_changes_neither_version_nor_last_modified(scim, operations):
    created = scim.create_user(**PATCH_BASE)
    before = snapshot()
    response = scim.patch_ops(f"/Users/{created['id']}", *operations)
    assert assert_resource(response, 200, version=1) == created
    assert snapshot() == before


def test_patch_cannot_remove_the_required_user_name(scim):
    created = scim.create_user(**PATCH_BASE)
    before = snapshot()
    assert_scim_error(
        scim.patch_ops(f"/Users/{created['id']}", {"op": "remove", "path": "userName"}), 400, "mutability"
    )
    assert snapshot() == before


def test_delete_removes_the_user_everywhere(scim):
    alice = scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    group = scim.create_group("Team", members=[alice["id"], bob["id"]])

    response = scim.delete(f"/Users/{alice['id']}")
    assert response.status_code == 204
    assert response.content == b""

    assert_scim_error(scim.get(f"/Users/{alice['id']}"), 404)
    listed = body_of(scim.get("/Users"))
    assert listed["totalResults"] == 1 and [u["id"] for u in listed["Resources"]] == [bob["id"]]
    assert [m["value"] for m in body_of(scim.get(f"/Groups/{group['id']}"))["members"]] == [bob["id"]]
    assert not Membership.objects.filter(member_user_id=alice["id"]).exists()
    assert User.objects.get(pk=alice["id"]).state == UserState.DELETED
    # A deleted user's userName is free again, and the deleted user stays gone.
    assert_scim_error(scim.delete(f"/Users/{alice['id']}"), 404)
    assert scim.post("/Users", {"schemas": [CORE_USER], "userName": "alice@example.com"}).status_code == 201


# --- Attribute characteristics ----------------------------------------------------------------------


def test_put_of_what_get_returned_ignores_read_only_attributes(scim):
    """Okta builds its PUT from the GET: id, meta and groups are echoed; readOnly, so ignored."""
    alice = scim.create_user("alice@example.com", displayName="Alice")
    team = scim.create_group("Team", members=[alice["id"]])
    other = scim.create_group("Other")
    echoed = body_of(scim.get(f"/Users/{alice['id']}"))
    assert [g["value"] for g in echoed["groups"]] == [team["id"]]

    version = int(echoed["meta"]["version"].strip('W/"'))  # joining the team was a change too
    echoed["displayName"] = "Alice L."
    echoed["groups"] = [{"value": other["id"], "display": "Other"}]
    echoed["meta"] = {"resourceType": "User", "created": "1999-01-01T00:00:00Z", "version": 'W/"99"'}
    body = assert_resource(scim.put(f"/Users/{alice['id']}", echoed), 200, version=version + 1)

    assert body["displayName"] == "Alice L."
    assert [g["value"] for g in body["groups"]] == [team["id"]]
    assert body["meta"]["created"] == alice["meta"]["created"]
    assert not Membership.objects.filter(group_id=other["id"]).exists()


def test_create_ignores_read_only_id_meta_and_groups(scim):
    group = scim.create_group("Team")
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER],
            "id": "chosen-by-client",
            "userName": "alice@example.com",
            "groups": [{"value": group["id"]}],
            "meta": {"resourceType": "User", "created": "1999-01-01T00:00:00Z", "version": 'W/"7"'},
        },
    )
    body = assert_resource(response, 201, version=1)
    assert body["id"] != "chosen-by-client"
    assert "groups" not in body
    assert parse_time(body["meta"]["created"]).year != 1999
    assert not Membership.objects.exists()


def test_put_with_another_id_is_a_mutability_error(scim):
    alice = scim.create_user("alice@example.com")
    bob = scim.create_user("bob@example.com")
    before = snapshot()
    response = scim.put(
        f"/Users/{alice['id']}", {"schemas": [CORE_USER], "id": bob["id"], "userName": "alice2@example.com"}
    )
    assert_scim_error(response, 400, "mutability")
    assert snapshot() == before


def test_password_is_stored_hashed_and_never_returned(scim):
    response = scim.post(
        "/Users", {"schemas": [CORE_USER], "userName": "alice@example.com", "password": "Corr3ct-Horse-1"}
    )
    created = assert_resource(response, 201, version=1)
    assert "password" not in created and b"Corr3ct-Horse-1" not in response.content

    stored = User.objects.get(pk=created["id"]).password
    assert stored != "Corr3ct-Horse-1" and "Corr3ct-Horse-1" not in stored
    assert check_password("Corr3ct-Horse-1", stored)

    user_url = f"/Users/{created['id']}"
    for response in (
        scim.get(user_url),
        scim.get(f"{user_url}?attributes=password"),
        scim.get("/Users?attributes=password,userName"),
        scim.patch_ops(user_url, {"op": "replace", "path": "password", "value": "N3w-Horse-Battery"}),
    ):
        assert response.status_code == 200
        assert b"password" not in response.content and b"Horse" not in response.content
    assert set(body_of(scim.get(f"{user_url}?attributes=password"))) == {"schemas", "id"}
    stored = User.objects.get(pk=created["id"]).password
    assert check_password("N3w-Horse-Battery", stored) and not check_password("Corr3ct-Horse-1", stored)

    response = scim.put(
        user_url, {"schemas": [CORE_USER], "userName": "alice@example.com", "password": "Th1rd-Horse"}
    )
    assert b"Horse" not in response.content
    assert check_password("Th1rd-Horse", User.objects.get(pk=created["id"]).password)


def test_id_and_schemas_are_always_returned(scim):
    alice = scim.create_user("alice@example.com", displayName="Alice")
    url = f"/Users/{alice['id']}"
    assert body_of(scim.get(f"{url}?attributes=userName")) == {
        "schemas": [CORE_USER],
        "id": alice["id"],
        "userName": "alice@example.com",
    }
    excluded = body_of(scim.get(f"{url}?excludedAttributes=id,schemas,meta,displayName"))
    assert excluded["id"] == alice["id"] and excluded["schemas"] == [CORE_USER]
    assert "displayName" not in excluded and "meta" not in excluded


def test_attribute_names_and_schema_urns_are_case_insensitive(scim):
    response = scim.post(
        "/Users",
        {
            "SCHEMAS": [CORE_USER.upper(), ENTERPRISE.lower()],
            "USERNAME": "alice@example.com",
            "Name": {"GivenName": "Alice", "FAMILYNAME": "Liddell"},
            "displayname": "Alice",
            "Emails": [{"Value": "alice@example.com", "TYPE": "work", "Primary": True}],
            ENTERPRISE.upper(): {"DEPARTMENT": "R&D"},
        },
    )
    body = assert_resource(response, 201, version=1)
    assert content(body) == {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": "alice@example.com",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "displayName": "Alice",
        "active": True,
        "emails": [{"value": "alice@example.com", "type": "work", "primary": True}],
        ENTERPRISE: {"department": "R&D"},
    }
    projected = body_of(
        scim.get(f"/Users/{body['id']}?attributes=USERNAME,Name.GivenName,{DEPARTMENT.upper()}")
    )
    assert projected == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": body["id"],
        "userName": "alice@example.com",
        "name": {"givenName": "Alice"},
        ENTERPRISE: {"department": "R&D"},
    }


def test_enterprise_attributes_addressed_by_full_urn(scim):
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER, ENTERPRISE],
            "userName": "alice@example.com",
            DEPARTMENT: "R&D",
            f"{ENTERPRISE}:employeeNumber": 701984,
        },
    )
    body = assert_resource(response, 201, version=1)
    assert body[ENTERPRISE] == {"department": "R&D", "employeeNumber": "701984"}
    row = User.objects.get(pk=body["id"])
    assert (row.department, row.employee_number) == ("R&D", "701984")


def test_an_unknown_extension_is_accepted_and_ignored(scim):
    custom = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    response = scim.post(
        "/Users",
        {"schemas": [CORE_USER, custom], "userName": "alice@example.com", custom: {"badge": "B-12"}},
    )
    body = assert_resource(response, 201, version=1)
    assert content(body) == {"schemas": [CORE_USER], "userName": "alice@example.com", "active": True}


def test_null_means_unassigned(scim):
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER],
            "userName": "alice@example.com",
            "nickName": None,
            "name": {"givenName": None, "familyName": "Liddell"},
            "emails": None,
            ENTERPRISE: None,
        },
    )
    body = assert_resource(response, 201, version=1)
    assert content(body) == {
        "schemas": [CORE_USER],
        "userName": "alice@example.com",
        "name": {"familyName": "Liddell"},
        "active": True,
    }
    # null in a PUT clears, and so does a replace with null in a PATCH.
    url = f"/Users/{body['id']}"
    scim.patch_ops(url, {"op": "add", "path": "title", "value": "Engineer"})
    body = body_of(
        scim.put(
            url, {"schemas": [CORE_USER], "userName": "alice@example.com", "title": None, "nickName": "Al"}
        )
    )
    assert "title" not in body and "name" not in body and body["nickName"] == "Al"
    body = body_of(scim.patch_ops(url, {"op": "replace", "path": "nickName", "value": None}))
    assert "nickName" not in body
    row = User.objects.get(pk=body["id"])
    assert (row.title, row.nick_name, row.name_family_name) == ("", "", "")


@pytest.mark.parametrize(
    ("sent", "stored"), [("True", True), ("False", False), ("true", True), ("false", False)]
)
def test_active_sent_as_a_string_is_accepted(scim, sent, stored):
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "alice@example.com", "active": sent})
    body = assert_resource(response, 201, version=1)
    assert body["active"] is stored
    row = User.objects.get(pk=body["id"])
    assert row.active is stored
    assert row.state == (UserState.ACTIVE if stored else UserState.SUSPENDED)


@pytest.mark.parametrize("sent", ["yes", "1", 1, [True], {"value": True}])
def test_active_that_is_no_boolean_is_refused(scim, sent):
    before = snapshot()
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "alice@example.com", "active": sent})
    assert_scim_error(response, 400, "invalidValue", detail_contains="active")
    assert snapshot() == before


def test_deleting_a_member_changes_the_groups_version(scim):
    """The group's members change, so its ETag must (RFC 7644 section 3.14): a stale one would let
    If-None-Match answer 304 with the old member list."""
    alice = scim.create_user("alice@example.com")
    group = scim.create_group("Team", members=[alice["id"]])
    assert scim.delete(f"/Users/{alice['id']}").status_code == 204
    after = scim.get(f"/Groups/{group['id']}")
    assert "members" not in body_of(after)
    assert after["ETag"] != group["meta"]["version"]
    assert body_of(after)["meta"]["lastModified"] != group["meta"]["lastModified"]
    assert (
        scim.get(f"/Groups/{group['id']}", headers={"If-None-Match": group["meta"]["version"]}).status_code
        == 200
    )


def test_joining_or_leaving_a_group_changes_the_users_version(scim):
    alice = scim.create_user("alice@example.com")
    team = scim.create_group("Team")
    scim.patch_ops(
        f"/Groups/{team['id']}", {"op": "add", "path": "members", "value": [{"value": alice["id"]}]}
    )
    joined = scim.get(f"/Users/{alice['id']}", headers={"If-None-Match": alice["meta"]["version"]})
    assert joined.status_code == 200
    assert [g["value"] for g in body_of(joined)["groups"]] == [team["id"]]
    assert joined["ETag"] != alice["meta"]["version"]

    scim.patch_ops(f"/Groups/{team['id']}", {"op": "remove", "path": "members"})
    left = scim.get(f"/Users/{alice['id']}", headers={"If-None-Match": joined["ETag"]})
    assert left.status_code == 200
    assert "groups" not in body_of(left)


def test_a_new_primary_value_clears_the_previous_one(scim):
    alice = scim.create_user(
        "alice@example.com", emails=[{"value": "w@example.com", "type": "work", "primary": True}]
    )
    response = scim.patch_ops(
        f"/Users/{alice['id']}",
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "h@example.com", "type": "home", "primary": True}],
        },
    )
    assert body_of(response)["emails"] == [
        {"value": "w@example.com", "type": "work", "primary": False},
        {"value": "h@example.com", "type": "home", "primary": True},
    ]


def test_removing_the_whole_extension_clears_it(scim):
    alice = scim.create_user("alice@example.com", **{ENTERPRISE: {"department": "R&D", "costCenter": "CC"}})
    body = assert_resource(
        scim.patch_ops(f"/Users/{alice['id']}", {"op": "remove", "path": ENTERPRISE}), 200, version=2
    )
    assert content(body) == {"schemas": [CORE_USER], "userName": "alice@example.com", "active": True}
    row = User.objects.get(pk=alice["id"])
    assert (row.department, row.cost_center) == ("", "")


def test_deleting_a_manager_clears_it_from_the_reports(scim):
    boss = scim.create_user("boss@example.com", displayName="Boss")
    report = scim.create_user("rep@example.com", **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    assert report[ENTERPRISE]["manager"]["displayName"] == "Boss"
    assert scim.delete(f"/Users/{boss['id']}").status_code == 204
    body = assert_resource(scim.get(f"/Users/{report['id']}"), 200, version=2)
    assert content(body) == {"schemas": [CORE_USER], "userName": "rep@example.com", "active": True}


def test_a_user_cannot_be_its_own_manager(scim):
    alice = scim.create_user("alice@example.com")
    before = snapshot()
    response = scim.patch_ops(
        f"/Users/{alice['id']}",
        {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": alice["id"]}},
    )
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot() == before
