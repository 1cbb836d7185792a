"""Discovery (RFC 7644 section 4, RFC 7643 sections 5-7): public, complete, tenant-free."""

import json
from urllib.parse import quote

import pytest

from tests.scim_api.conftest import (
    ABSOLUTE_BASE,
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    LIST_URN,
    assert_scim_error,
    body_of,
)

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
ALL_SCHEMAS = [CORE_USER, CORE_GROUP, ENTERPRISE, SPC, RESOURCE_TYPE, SCHEMA]

DISCOVERY_PATHS = [
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/ResourceTypes/Group",
    "/Schemas",
    *[f"/Schemas/{urn}" for urn in ALL_SCHEMAS],
]
CHARACTERISTICS = ("name", "type", "multiValued", "description", "required", "mutability", "returned")
TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"}


def _schema(anonymous, urn) -> dict:
    response = anonymous.get(f"/Schemas/{urn}")
    assert response.status_code == 200, response.content
    return body_of(response)


def _attribute(attributes: list[dict], name: str) -> dict:
    (found,) = [a for a in attributes if a["name"] == name]
    return found


@pytest.mark.parametrize("base", ["/scim/v2", "/scim/acme/v2"])
@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_is_served_without_a_token(anonymous, tenant, path, base):
    response = anonymous.at(base).get(path)
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["schemas"]
    assert not response.cookies


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_with_a_bad_token_is_refused(anonymous, path):
    response = anonymous.get(path, token="roster_not-a-token")
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_is_the_same_with_a_valid_token(anonymous, scim, path):
    assert body_of(scim.get(path)) == body_of(anonymous.get(path))


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes", f"/Schemas/{CORE_USER}"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_discovery_endpoints_are_read_only(scim, path, method):
    response = scim.request(method, path, {"schemas": [SPC]})
    assert_scim_error(response, 405)


def test_service_provider_config(anonymous, settings):
    settings.SCIM_MAX_PAGE_SIZE = 250
    body = body_of(anonymous.get("/ServiceProviderConfig"))
    assert body["schemas"] == [SPC]
    assert body["patch"] == {"supported": True}
    assert isinstance(body["bulk"]["supported"], bool)
    assert isinstance(body["bulk"]["maxOperations"], int) and isinstance(body["bulk"]["maxPayloadSize"], int)
    assert body["etag"] == {"supported": True}
    assert body["changePassword"] == {"supported": True}
    assert isinstance(body["filter"]["supported"], bool)
    assert isinstance(body["sort"]["supported"], bool)
    assert body["pagination"]["index"] is True
    assert body["pagination"]["maxPageSize"] == 250
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]
    assert body["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{ABSOLUTE_BASE}/ServiceProviderConfig",
    }


def test_resource_types(anonymous):
    body = body_of(anonymous.get("/ResourceTypes"))
    assert body["schemas"] == [LIST_URN]
    assert body["totalResults"] == 2 == len(body["Resources"])
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"] == {
        "schemas": [RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": by_id["User"]["description"],
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": f"{ABSOLUTE_BASE}/ResourceTypes/User"},
    }
    assert by_id["Group"]["endpoint"] == "/Groups"
    assert by_id["Group"]["schema"] == CORE_GROUP
    assert by_id["Group"].get("schemaExtensions", []) == []
    assert body_of(anonymous.get("/ResourceTypes/User")) == by_id["User"]
    assert body_of(anonymous.get("/ResourceTypes/Group")) == by_id["Group"]


def test_schemas_lists_every_schema_once(anonymous):
    body = body_of(anonymous.get("/Schemas"))
    assert body["schemas"] == [LIST_URN]
    ids = [s["id"] for s in body["Resources"]]
    assert sorted(ids) == sorted(ALL_SCHEMAS)
    assert body["totalResults"] == len(ALL_SCHEMAS)
    for document in body["Resources"]:
        assert document == _schema(anonymous, document["id"])


@pytest.mark.parametrize("urn", ALL_SCHEMAS)
def test_schema_document_by_urn(anonymous, urn):
    body = _schema(anonymous, urn)
    assert body["schemas"] == [SCHEMA]
    assert body["id"] == urn
    assert body["name"] and body["attributes"]
    assert body["meta"] == {"resourceType": "Schema", "location": f"{ABSOLUTE_BASE}/Schemas/{urn}"}


def _check_definitions(attributes: list[dict], where: str) -> None:
    names = [a["name"].lower() for a in attributes]
    assert len(names) == len(set(names)), f"{where}: duplicate attribute names {names}"
    for attribute in attributes:
        label = f"{where}.{attribute.get('name')}"
        for characteristic in (*CHARACTERISTICS, "uniqueness"):
            assert characteristic in attribute, f"{label} lacks {characteristic}"
        assert isinstance(attribute["description"], str) and attribute["description"], label
        assert attribute["type"] in TYPES, label
        assert isinstance(attribute["multiValued"], bool) and isinstance(attribute["required"], bool), label
        assert attribute["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}, label
        assert attribute["returned"] in {"always", "never", "default", "request"}, label
        assert attribute["uniqueness"] in {"none", "server", "global"}, label
        if attribute["type"] in ("string", "reference", "binary"):
            assert isinstance(attribute.get("caseExact"), bool), f"{label} lacks caseExact"
        if attribute["type"] == "reference":
            assert attribute.get("referenceTypes"), f"{label} lacks referenceTypes"
        if attribute["type"] == "complex":
            assert attribute.get("subAttributes"), f"{label} lacks subAttributes"
            _check_definitions(attribute["subAttributes"], label)
        else:
            assert "subAttributes" not in attribute, label


@pytest.mark.parametrize("urn", ALL_SCHEMAS)
def test_every_attribute_definition_is_complete(anonymous, urn):
    _check_definitions(_schema(anonymous, urn)["attributes"], urn)


def test_user_schema_characteristics(anonymous):
    attributes = _schema(anonymous, CORE_USER)["attributes"]
    password = _attribute(attributes, "password")
    assert (password["mutability"], password["returned"]) == ("writeOnly", "never")
    user_name = _attribute(attributes, "userName")
    assert (user_name["required"], user_name["uniqueness"], user_name["caseExact"]) == (True, "server", False)
    groups = _attribute(attributes, "groups")
    assert groups["mutability"] == "readOnly" and groups["multiValued"] is True
    assert {s["name"] for s in groups["subAttributes"]} >= {"value", "$ref", "display", "type"}
    assert all(s["mutability"] == "readOnly" for s in groups["subAttributes"])
    name = _attribute(attributes, "name")
    assert {s["name"] for s in name["subAttributes"]} == {
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    }
    emails = _attribute(attributes, "emails")
    assert emails["multiValued"] is True
    assert {s["name"] for s in emails["subAttributes"]} >= {"value", "type", "primary"}
    assert _attribute(attributes, "active")["type"] == "boolean"


@pytest.mark.parametrize("urn", [CORE_USER, CORE_GROUP])
def test_id_when_published_is_returned_always_and_read_only(anonymous, urn):
    """id is a common attribute (RFC 7643 section 3.1): a schema may leave it out, but a schema that
    lists it must say it is always returned and read-only."""
    for attribute in _schema(anonymous, urn)["attributes"]:
        if attribute["name"] == "id":
            assert (attribute["returned"], attribute["mutability"]) == ("always", "readOnly")
        assert attribute["returned"] != "never" or attribute["mutability"] == "writeOnly", attribute


def test_group_and_enterprise_schema_characteristics(anonymous):
    group = _schema(anonymous, CORE_GROUP)["attributes"]
    assert _attribute(group, "displayName")["required"] is True
    members = _attribute(group, "members")
    assert members["multiValued"] is True
    assert {s["name"] for s in members["subAttributes"]} >= {"value", "$ref", "type", "display"}
    ref = _attribute(members["subAttributes"], "$ref")
    assert set(ref["referenceTypes"]) == {"User", "Group"}

    enterprise = _schema(anonymous, ENTERPRISE)["attributes"]
    assert {a["name"] for a in enterprise} == {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    }
    manager = _attribute(enterprise, "manager")
    assert {s["name"] for s in manager["subAttributes"]} == {"value", "$ref", "displayName"}


def test_schema_meta_schema_declares_canonical_values_and_reference_types_multi_valued(anonymous):
    """RFC 7643 section 7 and 8.7.2: both are collections, and every schema document serves them
    as JSON arrays."""
    attributes = _attribute(_schema(anonymous, SCHEMA)["attributes"], "attributes")
    for level in (
        attributes["subAttributes"],
        _attribute(attributes["subAttributes"], "subAttributes")["subAttributes"],
    ):
        for name in ("canonicalValues", "referenceTypes"):
            assert _attribute(level, name)["multiValued"] is True, name
    # And so every schema document conforms to the meta-schema (the Schema meta-schema itself
    # excepted: like RFC 7643 section 8.7.2, it describes sub-attributes only two levels deep).
    meta_schema = _schema(anonymous, SCHEMA)["attributes"]
    for urn in ALL_SCHEMAS:
        if urn != SCHEMA:
            document = {k: v for k, v in _schema(anonymous, urn).items() if k not in ("schemas", "meta")}
            assert _conformance_problems(document, meta_schema) == [], urn


def _conformance_problems(document: dict, attributes: list[dict], where: str = "") -> list[str]:
    """What in ``document`` its published schema does not describe: undeclared attributes, a list
    where a single value is declared (or the reverse), values of the wrong JSON type."""
    declared = {a["name"].lower(): a for a in attributes}
    problems = []
    for key, value in document.items():
        attribute = declared.get(key.lower())
        label = f"{where}{key}"
        if attribute is None:
            problems.append(f"{label}: not in the published schema")
            continue
        if attribute["multiValued"] != isinstance(value, list):
            problems.append(f"{label}: multiValued is {attribute['multiValued']} but the value is {value!r}")
            continue
        for item in value if isinstance(value, list) else [value]:
            kind = attribute["type"]
            expected = {
                "string": str,
                "reference": str,
                "binary": str,
                "dateTime": str,
                "boolean": bool,
                "integer": int,
                "decimal": (int, float),
                "complex": dict,
            }[kind]
            if not isinstance(item, expected) or (kind in ("integer", "decimal") and isinstance(item, bool)):
                problems.append(f"{label}: {item!r} is not a {kind}")
            elif kind == "complex":
                problems += _conformance_problems(
                    item, attributes=attribute["subAttributes"], where=label + "."
                )
    return problems


COMMON = {"schemas", "id", "externalId", "meta"}


def _resource_problems(document: dict, schemas: dict[str, list[dict]], core: str) -> list[str]:
    problems = []
    core_part = {k: v for k, v in document.items() if k not in COMMON and k not in schemas}
    problems += _conformance_problems(core_part, schemas[core])
    for urn, part in document.items():
        if urn in schemas and urn != core:
            problems += _conformance_problems(part, schemas[urn], where=f"{urn}:")
    return problems


def test_discovery_documents_conform_to_their_published_schemas(anonymous):
    schemas = {urn: _schema(anonymous, urn)["attributes"] for urn in ALL_SCHEMAS}
    spc = body_of(anonymous.get("/ServiceProviderConfig"))
    assert _resource_problems(spc, schemas, SPC) == []
    for resource_type in body_of(anonymous.get("/ResourceTypes"))["Resources"]:
        assert _resource_problems(resource_type, schemas, RESOURCE_TYPE) == []


def test_served_users_and_groups_conform_to_their_published_schemas(scim, anonymous):
    schemas = {urn: _schema(anonymous, urn)["attributes"] for urn in ALL_SCHEMAS}
    manager = scim.create_user("boss@example.com", displayName="The Boss")
    user = scim.create_user(
        "alice@example.com",
        externalId="e-1",
        name={"formatted": "Alice A", "givenName": "Alice", "familyName": "A"},
        displayName="Alice",
        nickName="Al",
        profileUrl="https://example.com/alice",
        title="Engineer",
        userType="Employee",
        preferredLanguage="en",
        locale="en-US",
        timezone="Europe/Paris",
        active=True,
        password="s3cret-Passw0rd",
        emails=[{"value": "alice@example.com", "type": "work", "primary": True, "display": "Alice"}],
        phoneNumbers=[{"value": "+33 1 23 45 67 89", "type": "mobile"}],
        ims=[{"value": "alice", "type": "xmpp"}],
        photos=[{"value": "https://example.com/alice.png", "type": "photo"}],
        addresses=[{"streetAddress": "1 rue X", "locality": "Paris", "country": "FR", "type": "work"}],
        entitlements=[{"value": "admin"}],
        roles=[{"value": "dev", "primary": True}],
        x509Certificates=[{"value": "MIIB"}],
        **{
            ENTERPRISE: {
                "employeeNumber": "42",
                "costCenter": "CC",
                "organization": "Org",
                "division": "Div",
                "department": "Dept",
                "manager": {"value": manager["id"]},
            }
        },
    )
    inner = scim.create_group("Inner", members=[user["id"]])
    outer = scim.create_group("Outer", members=[inner["id"]])

    full_user = body_of(scim.get(f"/Users/{user['id']}"))
    assert full_user["groups"] and full_user[ENTERPRISE]["manager"]["displayName"] == "The Boss"
    assert _resource_problems(full_user, schemas, CORE_USER) == []
    for group in (inner, outer):
        served = body_of(scim.get(f"/Groups/{group['id']}"))
        assert served["members"]
        assert _resource_problems(served, schemas, CORE_GROUP) == []


@pytest.mark.parametrize(
    "path",
    [
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope",
        "/Schemas/" + quote("urn:example:unknown"),
        "/ResourceTypes/Nope",
        "/ResourceTypes/Users",
    ],
)
def test_unknown_schema_or_resource_type_is_a_scim_404(anonymous, path):
    assert_scim_error(anonymous.get(path), 404)


def test_schema_and_resource_type_ids_are_matched_case_insensitively(anonymous):
    assert body_of(anonymous.get(f"/Schemas/{CORE_USER.upper()}"))["id"] == CORE_USER
    assert body_of(anonymous.get("/ResourceTypes/user"))["id"] == "User"


def test_discovery_shows_no_tenant_data(scim, anonymous, tenant, other_scim):
    user = scim.create_user("secret.person@acme.example", displayName="Secret Person", externalId="ext-xyz")
    group = scim.create_group("Secret Project", members=[user["id"]])
    other = other_scim.create_user("someone@globex.example")
    needles = [
        "secret.person",
        "Secret Person",
        "Secret Project",
        "ext-xyz",
        user["id"],
        group["id"],
        other["id"],
        "globex",
        "acme",
        scim.plaintext,
        scim.token.prefix,
    ]
    for client in (anonymous, scim, other_scim):
        for path in DISCOVERY_PATHS:
            text = json.dumps(body_of(client.get(path)))
            for needle in needles:
                assert needle not in text, (path, needle)
    # The tenant URL names the tenant in its own locations, and nothing else of it.
    for path in DISCOVERY_PATHS:
        text = json.dumps(body_of(anonymous.at("/scim/acme/v2").get(path)))
        assert "globex" not in text and user["id"] not in text and "Secret" not in text
