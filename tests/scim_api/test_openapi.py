"""GET openapi.json: the OpenAPI 3 description built from the schema registry (scim_api/openapi.py)."""

import json

import pytest
import schemathesis

from scim_api.openapi import openapi_document
from scim_api.schema import USER
from tests.scim_api.conftest import assert_scim_error

# Every route of scim_api/urls.py but the catch-all 404 and openapi.json itself.
ENDPOINTS = {
    "/Users": {"get", "post"},
    "/Users/{id}": {"get", "put", "patch", "delete"},
    "/Users/.search": {"post"},
    "/Groups": {"get", "post"},
    "/Groups/{id}": {"get", "put", "patch", "delete"},
    "/Groups/.search": {"post"},
    "/.search": {"post"},
    "/Bulk": {"post"},
    "/ServiceProviderConfig": {"get"},
    "/ResourceTypes": {"get"},
    "/ResourceTypes/{name}": {"get"},
    "/Schemas": {"get"},
    "/Schemas/{name}": {"get"},
    "/Me": {"get", "post", "put", "patch", "delete"},
}


@pytest.mark.parametrize("base", ["/scim/v2", "/scim/acme/v2"])
def test_the_description_is_public_json_naming_the_base_url_called(anonymous, tenant, base):
    response = anonymous.get(f"{base}/openapi.json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": f"http://testserver{base}"}]


def test_a_token_sent_must_still_be_valid(scim):
    assert_scim_error(scim.get("/openapi.json", token="not-a-token"), 401)


def test_it_describes_every_endpoint_and_method():
    paths = openapi_document("http://testserver/scim/v2")["paths"]
    assert {path: set(ops) - {"parameters"} for path, ops in paths.items()} == ENDPOINTS


def test_it_is_a_valid_description_every_operation_of_which_loads():
    schema = schemathesis.openapi.from_dict(openapi_document("http://testserver/scim/v2"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in ENDPOINTS.values())


def test_resources_are_described_by_the_schema_registry():
    """The attributes' characteristics come from scim_api/schema.py, not a copy."""
    components = openapi_document("http://testserver/scim/v2")["components"]["schemas"]
    user = components["User"]
    assert "userName" in user["required"]
    for attribute in USER.schema.attributes:
        described = user["properties"][attribute.name]
        if attribute.max_length:
            assert described["maxLength"] == attribute.max_length
        assert described.get("readOnly", False) == attribute.read_only
        assert (described["type"] == "array") == attribute.multi_valued
    assert user["properties"]["password"]["writeOnly"] is True
    enterprise = user["properties"][USER.extensions[0].id]["properties"]
    assert enterprise["manager"]["properties"]["displayName"]["readOnly"] is True
    assert components["SearchRequest"]["properties"]["sortOrder"]["enum"] == ["ascending", "descending"]
