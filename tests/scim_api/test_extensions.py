"""Tenant-defined extension schemas through SCIM (RFC 7643 section 3.3): declared per tenant,
served in discovery, validated, stored, returned, projected, filtered, sorted, patched and bulked
like the enterprise extension."""

import pytest

from directory.models import AuditEvent, User, UserExtensionValue
from directory.services.extensions import extension_schema_declare
from tests.scim_api.conftest import (
    CORE_GROUP,
    CORE_USER,
    LIST_URN,
    assert_scim_error,
    body_of,
    read,
    snapshot,
)

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
ACME_GROUP = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"

# An RFC 7643 section 7 schema document with one attribute of each kind.
ACME_SCHEMA = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": ACME,
    "name": "AcmeUser",
    "description": "Acme's own attributes",
    "attributes": [
        {"name": "costCode", "type": "string", "description": "Where the costs go."},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
        {"name": "hired", "type": "dateTime"},
        {"name": "remote", "type": "boolean"},
        {"name": "rate", "type": "decimal"},
        {"name": "tags", "type": "string", "multiValued": True},
        {"name": "homepage", "type": "reference", "referenceTypes": ["external"], "caseExact": True},
        {"name": "badgeCode", "type": "string", "caseExact": True, "uniqueness": "server"},
        {
            "name": "certifications",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [
                {"name": "name", "type": "string", "required": True},
                {"name": "level", "type": "integer"},
                {"name": "expires", "type": "dateTime"},
            ],
        },
        {"name": "pin", "type": "string", "mutability": "writeOnly"},
        {"name": "clearance", "type": "string", "mutability": "immutable"},
        {"name": "score", "type": "integer", "mutability": "readOnly"},
        {"name": "notes", "type": "string", "returned": "request"},
    ],
}


def declare(tenant, document=ACME_SCHEMA, resource_type="User", **kwargs):
    from directory.services.audit import Actor

    return extension_schema_declare(
        tenant=tenant, actor=Actor.system("tests"), document=document, resource_type=resource_type, **kwargs
    )


@pytest.fixture
def acme(tenant):
    declare(tenant)
    return tenant


def create(scim, user_name="alice@example.com", **extension):
    body = {"schemas": [CORE_USER, ACME], "userName": user_name, ACME: extension}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return body_of(response)


# --- stored and returned ---------------------------------------------------------------------------


def test_a_declared_extension_is_stored_and_returned(scim, acme):
    created = create(
        scim,
        costCode="CC-17",
        badge=42,
        hired="2024-01-31T12:00:00Z",
        remote="True",  # Entra's string booleans
        rate=12.5,
        tags=["red", "blue"],
        certifications=[{"name": "CISSP", "level": 3}],
        pin="1234",
        clearance="secret",
        notes="likes tea",
    )
    assert created["schemas"] == [CORE_USER, ACME]
    extension = created[ACME]
    assert extension == {
        "costCode": "CC-17",
        "badge": 42,
        "hired": "2024-01-31T12:00:00Z",
        "remote": True,
        "rate": 12.5,
        "tags": ["red", "blue"],
        "certifications": [{"name": "CISSP", "level": 3}],
        "clearance": "secret",
    }  # pin is writeOnly; notes is returned only on request
    assert read(scim, "Users", created["id"])[ACME] == extension
    user = User.objects.get(pk=created["id"])
    assert user.extensions[ACME]["pin"] == "1234"
    asked = read(scim, "Users", created["id"], f"?attributes={ACME}:notes")
    assert asked[ACME] == {"notes": "likes tea"}


def test_values_of_the_wrong_type_are_refused_and_change_nothing(scim, acme):
    before = snapshot()
    for extension, detail in (
        ({"badge": "forty-two"}, "badge"),
        ({"remote": "maybe"}, "remote"),
        ({"hired": "yesterday"}, "hired"),
        ({"costCode": {"nested": 1}}, "costCode"),
        ({"tags": [1, {"a": 1}]}, "tags"),
        ({"certifications": [{"level": 2}]}, "name"),  # a required sub-attribute missing
        ({"nosuch": "x"}, "nosuch"),
        ({"costCode": "x" * 257}, "costCode"),
        ({"hired": "2024-01-31"}, "hired"),  # a date: not an xsd:dateTime
        ({"hired": "0001-01-01T00:00:00+01:00"}, "hired"),  # year 0 in UTC
        ({"hired": "9999-12-31T23:00:00-05:00"}, "hired"),  # year 10000 in UTC
        ({"certifications": [{"name": "x", "expires": "soon"}]}, "expires"),
    ):
        response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "bob", ACME: extension})
        assert_scim_error(response, 400, "invalidValue", detail_contains=detail)
    assert snapshot() == before


def test_projection_names_extension_attributes(scim, acme):
    created = create(scim, costCode="CC-1", badge=7)
    only = read(scim, "Users", created["id"], f"?attributes={ACME}:costCode")
    assert only[ACME] == {"costCode": "CC-1"}
    assert "userName" not in only
    without = read(scim, "Users", created["id"], f"?excludedAttributes={ACME}:badge")
    assert without[ACME] == {"costCode": "CC-1"}
    whole = read(scim, "Users", created["id"], f"?attributes={ACME}")
    assert whole[ACME] == {"costCode": "CC-1", "badge": 7}


def test_put_replaces_the_extension_but_keeps_what_a_client_cannot_write(scim, acme):
    created = create(scim, costCode="CC-1", pin="1234", clearance="secret")
    User.objects.filter(pk=created["id"]).update(
        extensions={ACME: {**User.objects.get(pk=created["id"]).extensions[ACME], "score": 9}}
    )
    body = {"schemas": [CORE_USER], "userName": "alice@example.com", ACME: {"badge": 5}}
    response = scim.put(f"/Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    assert body_of(response)[ACME] == {"badge": 5, "clearance": "secret", "score": 9}
    stored = User.objects.get(pk=created["id"]).extensions[ACME]
    assert stored["pin"] == "1234"


def test_an_immutable_attribute_cannot_change_once_set(scim, acme):
    created = create(scim, clearance="secret")
    response = scim.patch_ops(
        f"/Users/{created['id']}", {"op": "replace", "path": f"{ACME}:clearance", "value": "top"}
    )
    assert_scim_error(response, 400, "mutability", detail_contains="clearance")


# --- PATCH -----------------------------------------------------------------------------------------


def test_patch_with_urn_paths_and_value_filters(scim, acme):
    created = create(scim, certifications=[{"name": "CISSP", "level": 3}, {"name": "CCNA", "level": 1}])
    uid = created["id"]
    response = scim.patch_ops(
        f"/Users/{uid}",
        {"op": "replace", "path": f"{ACME}:costCode", "value": "CC-9"},
        {"op": "add", "path": f"{ACME}:tags", "value": ["green"]},
        {"op": "replace", "path": f'{ACME}:certifications[name eq "ccna"].level', "value": 2},
        {"op": "remove", "path": f"{ACME}:certifications[level gt 2]"},
    )
    assert response.status_code == 200, response.content
    assert body_of(response)[ACME] == {
        "costCode": "CC-9",
        "tags": ["green"],
        "certifications": [{"name": "CCNA", "level": 2}],
    }
    response = scim.patch_ops(f"/Users/{uid}", {"op": "remove", "path": f"{ACME}:costCode"})
    assert "costCode" not in body_of(response)[ACME]


def test_patch_path_less_value_keyed_by_the_extension_urn(scim, acme):
    """Microsoft Entra ID sends path-less values keyed by the extension's URN, or by URN-qualified
    attribute names (Entra SCIM compatibility flags, "Requests to replace multiple attributes")."""
    uid = create(scim, costCode="CC-1")["id"]
    response = scim.patch_ops(
        f"/Users/{uid}",
        {"op": "replace", "value": {ACME: {"costCode": "CC-2", "remote": "False"}}},
        {"op": "replace", "value": {f"{ACME}:badge": 12}},
    )
    assert response.status_code == 200, response.content
    assert body_of(response)[ACME] == {"costCode": "CC-2", "remote": False, "badge": 12}


# --- discovery -------------------------------------------------------------------------------------


def test_discovery_shows_a_tenant_its_extensions_and_no_one_else(scim, other_scim, anonymous, acme):
    mine = body_of(scim.get("/Schemas"))
    assert ACME in {s["id"] for s in mine["Resources"]}
    document = body_of(scim.get(f"/Schemas/{ACME}"))
    attributes = {a["name"]: a for a in document["attributes"]}
    assert attributes["badge"]["uniqueness"] == "server"
    assert attributes["certifications"]["subAttributes"][0]["required"] is True
    assert body_of(scim.at("/scim/acme/v2").get(f"/Schemas/{ACME}"))["id"] == ACME
    users = body_of(scim.get("/ResourceTypes/User"))
    assert {"schema": ACME, "required": False} in users["schemaExtensions"]
    for other in (other_scim, anonymous, anonymous.at("/scim/acme/v2")):
        assert ACME not in {s["id"] for s in body_of(other.get("/Schemas"))["Resources"]}
        assert_scim_error(other.get(f"/Schemas/{ACME}"), 404)
        types = body_of(other.get("/ResourceTypes/User"))
        assert ACME not in {e["schema"] for e in types["schemaExtensions"]}


# --- filters and sorting ---------------------------------------------------------------------------


def _found(scim, query: str) -> list[str]:
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    return [r["userName"] for r in body["Resources"]]


def test_filters_on_every_kind_of_extension_value(scim, acme):
    from urllib.parse import quote

    create(
        scim,
        "ann",
        costCode="Sales-1",
        badge=1,
        hired="2020-01-01T00:00:00Z",
        remote=True,
        rate=1.5,
        tags=["red"],
        certifications=[{"name": "CISSP", "level": 3}],
        badgeCode="AB",
    )
    create(
        scim,
        "ben",
        costCode="sales-2",
        badge=2,
        hired="2022-06-01T00:00:00Z",
        remote=False,
        rate=2.5,
        tags=["blue", "red"],
        certifications=[{"name": "CCNA", "level": 1}, {"name": "CISSP", "level": 1}],
        badgeCode="ab",
    )
    create(scim, "cid")
    cases = {
        f'{ACME}:costCode eq "SALES-1"': ["ann"],
        f'{ACME}:costCode sw "sales"': ["ann", "ben"],
        f'{ACME}:costCode co "S-2"': ["ben"],
        f'{ACME}:costCode ne "sales-1"': ["ben", "cid"],
        f"{ACME}:costCode pr": ["ann", "ben"],
        f"not ({ACME}:costCode pr)": ["cid"],
        f"{ACME}:badge gt 1": ["ben"],
        f"{ACME}:badge eq 1": ["ann"],
        f"{ACME}:rate le 1.5": ["ann"],
        f'{ACME}:hired ge "2021-01-01T00:00:00Z"': ["ben"],
        f"{ACME}:remote eq true": ["ann"],
        f"{ACME}:remote eq false": ["ben"],
        f'{ACME}:tags eq "RED"': ["ann", "ben"],
        f'{ACME}:tags eq "blue" and {ACME}:tags eq "red"': ["ben"],
        f'{ACME}:certifications.name eq "cissp"': ["ann", "ben"],
        f'{ACME}:certifications[name eq "CISSP" and level gt 2]': ["ann"],
        f'{ACME}:certifications[name eq "CCNA" and level eq 1]': ["ben"],
        f"{ACME}:certifications[not (level eq 1)]": ["ann"],
        f'{ACME}:badgeCode eq "AB"': ["ann"],
        f'{ACME}:badgeCode sw "a"': ["ben"],
    }
    for text, expected in cases.items():
        assert _found(scim, f"filter={quote(text)}") == expected, text
    assert _found(scim, f"sortBy={ACME}:badge&sortOrder=descending") == ["cid", "ben", "ann"]
    assert _found(scim, f"sortBy={ACME}:costCode") == ["ann", "ben", "cid"]
    for bad in (
        'costCode eq "x"',
        f'{ACME}:badge eq "x"',
        f'{ACME}:hired sw "2020"',
        f"{ACME}:certifications eq 1",
        f'{ACME}:pin eq "1234"',
        f'{ACME}:nosuch eq "x"',
        f"{ACME}:badge co 4",  # a number has no substrings
        f'{ACME}:hired gt "0001-01-01T00:00:00+01:00"',  # year 0 in UTC
    ):
        assert_scim_error(scim.get(f"/Users?filter={quote(bad)}"), 400, "invalidFilter")


# --- uniqueness and required -----------------------------------------------------------------------


def test_uniqueness_server_is_a_409(scim, acme):
    create(scim, "ann", badge=1, badgeCode="AB")
    before = snapshot()
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ben", ACME: {"badge": 1}})
    assert_scim_error(response, 409, "uniqueness", detail_contains="badge")
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ben", ACME: {"badgeCode": "AB"}})
    assert_scim_error(response, 409, "uniqueness", detail_contains="badgeCode")
    assert snapshot() == before
    ben = create(scim, "ben", badgeCode="ab")  # caseExact: another value
    response = scim.patch_ops(f"/Users/{ben['id']}", {"op": "replace", "path": f"{ACME}:badge", "value": 1})
    assert_scim_error(response, 409, "uniqueness")


def test_a_deleted_user_frees_its_unique_values(scim, acme):
    ann = create(scim, "ann", badge=1)
    assert scim.delete(f"/Users/{ann['id']}").status_code == 204
    create(scim, "ben", badge=1)


def test_required_attributes_and_extensions(scim, tenant):
    document = {
        **ACME_SCHEMA,
        "attributes": [{"name": "costCode", "type": "string", "required": True}, {"name": "region"}],
    }
    declare(tenant, document, required=True)
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann"})
    assert_scim_error(response, 400, "invalidValue", detail_contains=ACME)
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann", ACME: {"region": "eu"}})
    assert_scim_error(response, 400, "invalidValue", detail_contains="costCode")
    uid = create(scim, "ann", costCode="CC")["id"]
    response = scim.patch_ops(f"/Users/{uid}", {"op": "remove", "path": f"{ACME}:costCode"})
    assert_scim_error(response, 400, "mutability", detail_contains="required")
    types = body_of(scim.get("/ResourceTypes/User"))
    assert {"schema": ACME, "required": True} in types["schemaExtensions"]


# --- undeclared extensions -------------------------------------------------------------------------

UNDECLARED = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def test_an_undeclared_extension_is_ignored_and_the_audit_event_says_so(scim, acme):
    body = {"schemas": [CORE_USER, UNDECLARED], "userName": "ann", UNDECLARED: {"costCenter": "x"}}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    uid = body_of(response)["id"]
    assert UNDECLARED not in body_of(response)
    event = AuditEvent.objects.get(action="user.created", target_id=uid)
    assert event.changes["ignored"] == [f"{UNDECLARED}:costCenter"]
    for path in ("region", "region", "costCenter", "costCenter"):
        # Identity providers re-send the same profile: what is ignored is recorded when it differs
        # from what the user's latest event names.
        operation = {"op": "replace", "path": f"{UNDECLARED}:{path}", "value": "y"}
        response = scim.patch_ops(f"/Users/{uid}", operation)
        assert response.status_code == 200, response.content
    events = AuditEvent.objects.filter(target_id=uid).order_by("id")
    assert [(e.action, e.changes.get("ignored")) for e in events] == [
        ("user.created", [f"{UNDECLARED}:costCenter"]),
        ("user.input_ignored", [f"{UNDECLARED}:region"]),
        ("user.input_ignored", [f"{UNDECLARED}:costCenter"]),
    ]


def test_a_strict_tenant_refuses_undeclared_extensions(scim, acme, system_actor):
    from directory.services.tenants import tenant_update

    tenant_update(tenant=acme, actor=system_actor, strict_extensions=True)
    before = snapshot()
    body = {"schemas": [CORE_USER], "userName": "ann", UNDECLARED: {"costCenter": "x"}}
    assert_scim_error(scim.post("/Users", body), 400, "invalidValue", detail_contains=UNDECLARED)
    body = {"schemas": [CORE_USER], "userName": "ann", f"{UNDECLARED}:costCenter": "x"}
    assert_scim_error(scim.post("/Users", body), 400, "invalidValue", detail_contains="strict")
    assert snapshot() == before
    # A URN in "schemas" alone carries no value: Entra lists one of its own in every group create.
    entra_group = {
        "schemas": [CORE_GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "displayName": "Group1DisplayName",
    }
    assert scim.post("/Groups", entra_group).status_code == 201
    uid = create(scim, "ann", costCode="x")["id"]
    response = scim.patch_ops(
        f"/Users/{uid}", {"op": "add", "path": f"{UNDECLARED}:costCenter", "value": "y"}
    )
    assert_scim_error(response, 400, "invalidValue")


# --- groups and bulk -------------------------------------------------------------------------------


def test_group_extensions(scim, tenant):
    declare(
        tenant,
        {
            "id": ACME_GROUP,
            "attributes": [{"name": "budget", "type": "integer"}, {"name": "owner", "type": "string"}],
        },
        resource_type="Group",
    )
    response = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Eng", ACME_GROUP: {"budget": 10}}
    )
    assert response.status_code == 201, response.content
    gid = body_of(response)["id"]
    assert body_of(response)[ACME_GROUP] == {"budget": 10}
    response = (
        scim.patch_ops(
            f"/Groups/{gid}", {"op": "add", "path": f"{ACME_GROUP}:owner", "value": "ann"}, query=""
        )
        if False
        else scim.patch_ops(f"/Groups/{gid}", {"op": "add", "path": f"{ACME_GROUP}:owner", "value": "ann"})
    )
    assert response.status_code == 204, response.content
    assert read(scim, "Groups", gid)[ACME_GROUP] == {"budget": 10, "owner": "ann"}
    found = body_of(scim.get(f"/Groups?filter={ACME_GROUP}:budget%20ge%2010"))
    assert [g["id"] for g in found["Resources"]] == [gid]


def test_bulk_carries_extension_values(scim, acme):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "a",
                "data": {"schemas": [CORE_USER], "userName": "ann", ACME: {"badge": 1}},
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "b",
                "data": {"schemas": [CORE_USER], "userName": "ben", ACME: {"badge": 1}},
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:a",
                "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": f"{ACME}:costCode", "value": "CC"}],
                },
            },
        ],
    }
    response = scim.post("/Bulk", body)
    assert response.status_code == 200, response.content
    statuses = [op["status"] for op in body_of(response)["Operations"]]
    assert statuses == ["201", "409", "200"]
    ann = User.objects.get(user_name="ann")
    assert ann.extensions[ACME] == {"badge": 1, "costCode": "CC"}
    assert UserExtensionValue.objects.filter(owner=ann).count() == 2


# --- declarations changing under a write -------------------------------------------------------------


def test_a_write_worked_out_against_old_declarations_is_worked_out_anew(scim, tenant, system_actor):
    """The tenant a request read (its token's) names declarations that changed since: the write is
    refused by the service (SchemaChanged) and worked out again against the tenant read anew."""
    from directory.errors import SchemaChanged
    from directory.models import Tenant
    from directory.services.users import user_update
    from scim_api.resources import RESOURCES, with_current_schemas

    document = {"id": ACME, "attributes": [{"name": "code"}]}
    declare(tenant, document)
    uid = create(scim, "ann")["id"]
    stale = Tenant.objects.get(pk=tenant.pk)
    declare(tenant, {"id": ACME, "attributes": [{"name": "code", "type": "integer"}]})
    with pytest.raises(SchemaChanged):
        user_update(tenant=stale, actor=system_actor, user_id=uid, fields={"user_name": "ann2"})
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": f"{ACME}:code", "value": 42}],
    }
    from directory.services.audit import Actor

    patched, used = with_current_schemas(
        stale, lambda t: RESOURCES["Users"].patch(t, Actor.system("tests"), uid, body, None)
    )
    assert used.extensions_stamp == tenant.extensions_stamp != stale.extensions_stamp
    assert patched.extensions == {ACME: {"code": 42}}
    assert User.objects.get(pk=uid).extensions == {ACME: {"code": 42}}


def test_numbers_sent_as_strings_are_read_as_numbers(scim, acme):
    """Entra maps its string attributes (extensionAttribute1 to 15) to whatever a tenant declares."""
    created = create(scim, badge=" 42 ", rate="2.50")
    assert created[ACME] == {"badge": 42, "rate": 2.5}
    for bad in ("4.2", "0x2A", "1e999", "NaN"):
        response = scim.post("/Users", {"schemas": [CORE_USER], "userName": f"u{bad}", ACME: {"badge": bad}})
        assert_scim_error(response, 400, "invalidValue", detail_contains="badge")


def test_what_is_never_returned_survives_a_patch_and_a_put(scim, tenant):
    document = {
        "id": ACME,
        "attributes": [{"name": "token", "returned": "never"}, {"name": "code"}],
    }
    declare(tenant, document)
    uid = create(scim, token="t-1", code="c")["id"]
    assert ACME not in read(scim, "Users", uid) or "token" not in read(scim, "Users", uid)[ACME]
    scim.patch_ops(f"/Users/{uid}", {"op": "replace", "path": f"{ACME}:code", "value": "d"})
    scim.put(f"/Users/{uid}", {"schemas": [CORE_USER], "userName": "alice@example.com"})
    assert User.objects.get(pk=uid).extensions == {ACME: {"token": "t-1"}}


def test_a_required_write_only_attribute_does_not_block_patches(scim, tenant):
    """It is never returned, so a PATCH's document lacks it; what is stored still counts."""
    attributes = [{"name": "pin", "mutability": "writeOnly", "required": True}, {"name": "code"}]
    declare(tenant, {"id": ACME, "attributes": attributes})
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann", ACME: {"code": "c"}})
    assert_scim_error(response, 400, "invalidValue", detail_contains="pin")
    uid = create(scim, "ann", pin="1234")["id"]
    response = scim.patch_ops(f"/Users/{uid}", {"op": "replace", "path": f"{ACME}:code", "value": "d"})
    assert response.status_code == 200, response.content
    response = scim.put(f"/Users/{uid}", {"schemas": [CORE_USER], "userName": "ann"})
    assert response.status_code == 200, response.content
    assert User.objects.get(pk=uid).extensions == {ACME: {"pin": "1234"}}


def test_a_patch_removes_what_a_client_cannot_read(scim, acme):
    """RFC 7644 section 3.5.2.2: remove unassigns, writeOnly or not; an immutable value may not go."""
    uid = create(scim, pin="1234", clearance="secret")["id"]
    response = scim.patch_ops(f"/Users/{uid}", {"op": "remove", "path": f"{ACME}:pin"})
    assert response.status_code == 200, response.content
    assert "pin" not in User.objects.get(pk=uid).extensions[ACME]
    response = scim.patch_ops(f"/Users/{uid}", {"op": "remove", "path": f"{ACME}:clearance"})
    assert_scim_error(response, 400, "mutability", detail_contains="clearance")
    assert User.objects.get(pk=uid).extensions[ACME]["clearance"] == "secret"


def test_binary_values_are_base64(scim, tenant):
    declare(tenant, {"id": ACME, "attributes": [{"name": "photo", "type": "binary"}]})
    assert create(scim, photo="aGVsbG8=")[ACME] == {"photo": "aGVsbG8="}
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ben", ACME: {"photo": "abcd$"}})
    assert_scim_error(response, 400, "invalidValue", detail_contains="base64")
