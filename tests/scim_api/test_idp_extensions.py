"""Identity providers' requests carrying custom extension attributes (tests/fixtures/README.md,
"Custom extension schemas"), replayed as documented against a tenant that declared the schema
they name, and against one that did not (ignored, and said so in the audit trail).

Microsoft Entra ID maps a custom attribute to ``urn:ietf:params:scim:schemas:extension:<Name>:2.0:
User:<attribute>`` and sends the extension object without listing its URN in ``schemas``; Okta
sends a custom app-profile attribute under the *External namespace* an administrator gives it.
Okta documents no SCIM 2.0 request that carries one (see the README), so its tests replay Okta's
documented bodies with such an attribute added as its support article describes, and load the
schema document Okta's entitlements guide prints."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from directory.models import AuditEvent, ExtensionSchema, User
from directory.services.extensions import extension_schema_declare
from tests.scim_api.conftest import CORE_USER, body_of, read
from tests.scim_api.idp_replay import FIXTURES, fixture, replay

CUSTOM = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
GREENHOUSE = "urn:ietf:params:scim:schemas:extension:greenhouse:2.0:User"
CUSTOM_EXTENSION_NAME = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
CONTOSO = "urn:ietf:params:scim:schemas:extension:contoso:1.0:User"
OKTA_NAMESPACE = "urn:ietf:params:scim:schemas:custom:Space"  # Okta's support article's example


def declare(tenant, urn, *attributes, resource_type="User"):
    extension_schema_declare(
        tenant=tenant,
        actor=__import__("directory.services.audit", fromlist=["Actor"]).Actor.system("tests"),
        document={"id": urn, "attributes": list(attributes)},
        resource_type=resource_type,
    )


# --- Microsoft Entra ID ------------------------------------------------------------------------------


def test_entra_create_with_a_custom_extension_not_listed_in_schemas(scim, tenant):
    declare(tenant, CUSTOM, {"name": "employeeNumber"}, {"name": "worksiteId"})
    response = replay(scim, "create-user-custom-extension", vendor="entra")
    assert response.status_code == 201, response.content
    created = body_of(response)
    assert created[CUSTOM] == {"employeeNumber": "99887766", "worksiteId": "180"}
    assert CUSTOM in created["schemas"]  # the server lists what the resource carries
    found = body_of(scim.get(f'/Users?filter={CUSTOM}:worksiteId eq "180"'))
    assert [r["id"] for r in found["Resources"]] == [created["id"]]


def test_entra_create_with_an_undeclared_extension_is_ignored_and_audited(scim, tenant):
    response = replay(scim, "create-user-custom-extension", vendor="entra")
    assert response.status_code == 201, response.content
    created = body_of(response)
    assert CUSTOM not in created
    event = AuditEvent.objects.get(action="user.created", target_id=created["id"])
    assert event.changes["ignored"] == [f"{CUSTOM}:employeeNumber", f"{CUSTOM}:worksiteId"]


def test_entra_patch_adds_to_a_multi_valued_custom_attribute_by_urn_path(scim, tenant):
    declare(
        tenant,
        GREENHOUSE,
        {
            "name": "department_ids",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [{"name": "value"}],
        },
    )
    uid = scim.create_user("ann@example.com")["id"]
    response = replay(scim, "patch-user-custom-extension-path", {"{id}": uid}, vendor="entra")
    assert response.status_code == 200, response.content
    assert body_of(response)[GREENHOUSE] == {"department_ids": [{"value": "1"}]}
    again = replay(scim, "patch-user-custom-extension-path", {"{id}": uid}, vendor="entra")
    assert body_of(again)[GREENHOUSE] == {
        "department_ids": [{"value": "1"}]
    }  # add of a held value: no change
    found = body_of(scim.get(f'/Users?filter={GREENHOUSE}:department_ids[value eq "1"]'))
    assert [r["id"] for r in found["Resources"]] == [uid]


def test_entra_example_users_with_the_custom_extension(scim, tenant):
    """The tutorial's example user (URN in ``schemas``) as a create, and the attribute-mapping
    article's (URN not in ``schemas``, attribute ``CustomAttribute``) as a replace of it: names
    match the declaration whatever their case (RFC 7643 section 2.1)."""
    declare(tenant, CUSTOM_EXTENSION_NAME, {"name": "tag"}, {"name": "customAttribute"})
    example = fixture("entra", "user-custom-extension-schema-example")["body"]
    example["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].pop("manager")  # names no user here
    response = scim.post("/Users", example)
    assert response.status_code == 201, response.content
    uid = body_of(response)["id"]
    assert body_of(response)[CUSTOM_EXTENSION_NAME] == {"tag": "701984"}
    representation = fixture("entra", "user-custom-extension-representation")["body"]
    representation["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].pop("manager")
    representation["userName"] = example["userName"]
    response = scim.put(f"/Users/{uid}", {**representation, "id": uid})
    assert response.status_code == 200, response.content
    assert body_of(response)[CUSTOM_EXTENSION_NAME] == {"customAttribute": "701984"}


def test_entra_inbound_bulk_with_a_dated_custom_extension(scim, tenant):
    """The only Microsoft-printed SCIM request body with custom-extension values (sent *to*
    Entra's API-driven provisioning, so a client's request to a SCIM server all the same). Its
    managers are named as Entra's inbound API resolves them (an id of the HR system; the first
    operation's bulkId): here, a user's id, and the bulkId reference RFC 7644 section 3.7.2 writes."""
    declare(tenant, CONTOSO, {"name": "HireDate", "type": "dateTime"}, {"name": "JobCode"})
    manager = scim.create_user("john.smith@example.com")["id"]
    text = json.dumps(fixture("entra", "inbound-api-bulk-custom-extension")["body"])
    text = text.replace('"value": "89607"', f'"value": "{manager}"')
    text = text.replace('"value": "701984"', '"value": "bulkId:701984"')
    body = json.loads(text)
    response = scim.post("/Bulk", body)
    assert response.status_code == 200, response.content
    assert [op["status"] for op in body_of(response)["Operations"]] == ["201", "201"]
    barbara = User.objects.get(user_name="bjensen@example.com")
    assert barbara.extensions == {CONTOSO: {"HireDate": "2021-05-01T00:00:00-05:00", "JobCode": "TG-1001"}}
    hired = body_of(
        scim.get(f'/Users?filter={CONTOSO}:HireDate ge "2021-05-01T05:00:00Z"&sortBy={CONTOSO}:HireDate')
    )
    assert hired["totalResults"] == 2
    assert read(scim, "Users", str(barbara.pk))[CONTOSO]["JobCode"] == "TG-1001"


# --- Okta ------------------------------------------------------------------------------------------


def test_okta_schema_document_loads_and_is_served(scim, tenant):
    out = StringIO()
    path = FIXTURES / "okta" / "schema-custom-extension-entitlement-profile.json"
    document = json.loads(path.read_text())["body"]
    tmp = path.parent / "schema-custom-extension-entitlement-profile.body.json"
    try:
        tmp.write_text(json.dumps(document))
        call_command("load_schema", "acme", str(tmp), "--resource-type", "User", stdout=out)
    finally:
        tmp.unlink()
    urn = document["id"]
    assert f"{urn}: declared; added: customProfileProperty." in out.getvalue()
    served = body_of(scim.get(f"/Schemas/{urn}"))
    assert served["attributes"] == document["attributes"]
    assert ExtensionSchema.objects.get().name == "Profile"


@pytest.mark.parametrize("name", ["create-user", "put-user"])
def test_okta_sends_a_custom_attribute_under_its_external_namespace(scim, tenant, name):
    declare(tenant, OKTA_NAMESPACE, {"name": "custom1"})
    request = fixture("okta", name)
    body = {**request["body"], OKTA_NAMESPACE: {"custom1": "West"}}
    if request["method"] == "PUT":
        uid = scim.create_user(body["userName"])["id"]
        response = scim.put(f"/Users/{uid}", {**body, "id": uid})
    else:
        response = scim.post("/Users", body)
    assert response.status_code in (200, 201), response.content
    assert body_of(response)[OKTA_NAMESPACE] == {"custom1": "West"}
    patched = scim.patch_ops(
        f"/Users/{body_of(response)['id']}",
        {"op": "replace", "value": {OKTA_NAMESPACE: {"custom1": "East"}, "active": True}},
    )
    assert body_of(patched)[OKTA_NAMESPACE] == {"custom1": "East"}


def test_okta_group_description_in_its_own_namespace(scim, tenant):
    """Okta sends a group's description under ``urn:okta:custom:group:1.0`` (its SCIM 1.1
    reference); declared for Groups, it is kept, and a SCIM 2.0 create carrying it works."""
    declare(tenant, "urn:okta:custom:group:1.0", {"name": "description"}, resource_type="Group")
    body = fixture("okta", "create-group-custom-extension-scim11")["body"]
    body = {**body, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "urn:okta:custom:group:1.0"]}
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.content
    assert body_of(response)["urn:okta:custom:group:1.0"] == {"description": "All Users West of the Rockies"}
    assert CORE_USER not in body_of(response)["schemas"]
