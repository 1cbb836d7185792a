"""An OpenAPI 3 description of the SCIM endpoint, built from the schema registry and the routes'
own parameters, so that it cannot drift from what the code reads.

Served at ``/scim/v2/openapi.json`` (and under each tenant's base URL) for client generators, and
read by the property test that fuzzes every endpoint (tests/scim_api/test_fuzz.py). Resources are
described by RFC 7643 (``scim_api/schema.py``): each attribute's type, multiValued, mutability
(readOnly, writeOnly) and maxLength, and ``required`` where a request needs it. SCIM reads
attribute names in any case and extension attributes without their URN (README, "Lenient input");
a description in JSON Schema cannot say that, so the schemas name the canonical spelling and allow
other properties.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings

from scim_api.bindings import binding_of
from scim_api.schema import (
    BULK_REQUEST,
    BULK_RESPONSE,
    COMMON,
    ERROR,
    LIST_RESPONSE,
    PATCH_OP,
    RESOURCE_TYPES,
    SEARCH_REQUEST,
    Attribute,
    ResourceType,
)

SCIM_JSON = "application/scim+json"
_TYPES = {
    "string": {"type": "string"},
    "reference": {"type": "string"},
    "binary": {"type": "string", "format": "byte"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "dateTime": {"type": "string", "format": "date-time"},
}
# What each search parameter is (RFC 7644 section 3.4.2, RFC 9865 section 2), as a query
# parameter and in a SearchRequest; the names are the views' own (views.SEARCH_PARAMETERS).
_SEARCH_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "filter": {"type": "string", "maxLength": 4096},
    "sortBy": {"type": "string"},
    "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
    "startIndex": {"type": "integer", "minimum": 1},
    "count": {"type": "integer", "minimum": 0},
    "attributes": {"type": "string"},
    "excludedAttributes": {"type": "string"},
    "cursor": {"type": "string"},
}
_NAMES_IN_A_SEARCH_REQUEST = {
    "type": "array",
    "items": {"type": "string"},
}


def attribute_schema(attribute: Attribute) -> dict[str, Any]:
    """The JSON Schema of one attribute's value (RFC 7643 section 2.3 types)."""
    if attribute.type == "complex":
        value: dict[str, Any] = {
            "type": "object",
            "properties": {sub.name: attribute_schema(sub) for sub in attribute.sub_attributes},
        }
    else:
        value = dict(_TYPES[attribute.type])
        if attribute.max_length is not None and attribute.type in ("string", "reference"):
            value["maxLength"] = attribute.max_length
    if attribute.multi_valued:
        value = {"type": "array", "items": value}
    if attribute.description:
        value["description"] = attribute.description
    if attribute.mutability == "readOnly":
        value["readOnly"] = True
    elif attribute.mutability == "writeOnly":
        value["writeOnly"] = True
    return value


def resource_schema(resource_type: ResourceType) -> dict[str, Any]:
    """A resource of ``resource_type``: its core attributes, the common ones (id, externalId,
    meta), ``schemas``, and each extension as an object under its URN."""
    properties: dict[str, Any] = {
        "schemas": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    }
    for attribute in (*COMMON.attributes, *resource_type.schema.attributes):
        properties[attribute.name] = attribute_schema(attribute)
    for extension in resource_type.extensions:
        properties[extension.id] = {
            "type": "object",
            "description": extension.description,
            "properties": {a.name: attribute_schema(a) for a in extension.attributes},
        }
    required = [a.name for a in resource_type.schema.attributes if a.required]
    return {"type": "object", "properties": properties, "required": ["schemas", *required]}


def _message(urn: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schemas = {"type": "array", "items": {"type": "string", "enum": [urn]}, "minItems": 1}
    out: dict[str, Any] = {"type": "object", "properties": {"schemas": schemas, **properties}}
    if required:
        out["required"] = list(required)
    return out


def _search_parameters() -> dict[str, dict[str, Any]]:
    """The schema of each parameter the views read: one they read that is not described here is
    a KeyError when the document is built (tests/scim_api/test_openapi.py builds it)."""
    from scim_api.views import SEARCH_PARAMETERS  # the views serve this module's document

    return {name: _SEARCH_PARAMETER_SCHEMAS[name] for name in SEARCH_PARAMETERS}


def _components() -> dict[str, Any]:
    search = _search_parameters()
    for name in ("attributes", "excludedAttributes"):
        search[name] = {"oneOf": [search[name], _NAMES_IN_A_SEARCH_REQUEST]}
    operation = {
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace"]},
            "path": {"type": "string"},
            "value": {},
        },
        "required": ["op"],
    }
    bulk_operation = {
        "type": "object",
        "properties": {
            "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
            "bulkId": {"type": "string"},
            "version": {"type": "string"},
            "path": {"type": "string"},
            "data": {"type": "object"},
        },
        "required": ["method", "path"],
    }
    schemas = {rt.name: resource_schema(rt) for rt in RESOURCE_TYPES.values()}
    schemas |= {
        "PatchOp": _message(
            PATCH_OP, {"Operations": {"type": "array", "items": operation, "minItems": 1}}, ("Operations",)
        ),
        "SearchRequest": _message(SEARCH_REQUEST, search),
        "BulkRequest": _message(
            BULK_REQUEST,
            {
                "failOnErrors": {"type": "integer", "minimum": 1},
                "Operations": {"type": "array", "items": bulk_operation, "minItems": 1},
            },
            ("Operations",),
        ),
        "BulkResponse": _message(
            BULK_RESPONSE, {"Operations": {"type": "array", "items": {"type": "object"}}}
        ),
        "ListResponse": _message(
            LIST_RESPONSE,
            {
                "totalResults": {"type": "integer"},
                "startIndex": {"type": "integer"},
                "itemsPerPage": {"type": "integer"},
                "nextCursor": {"type": "string"},
                "previousCursor": {"type": "string"},
                "Resources": {"type": "array", "items": {"type": "object"}},
            },
            ("totalResults",),
        ),
        "Error": _message(
            ERROR,
            {"status": {"type": "string"}, "scimType": {"type": "string"}, "detail": {"type": "string"}},
            ("status",),
        ),
        "Document": {"type": "object", "description": "A discovery document (RFC 7643 section 5-7)."},
    }
    parameters = {
        f"query.{name}": {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in _search_parameters().items()
    }
    parameters |= {
        "header.If-Match": {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": 'The entity tag the resource must have, e.g. W/"3" (RFC 7644 section 3.14).',
            "schema": {"type": "string"},
        },
        "header.If-None-Match": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        "header.X-Request-ID": {
            "name": "X-Request-ID",
            "in": "header",
            "required": False,
            "description": "Echoed, and recorded in the audit trail, when it is 1 to 64 letters, digits, "
            "_ . : or -.",
            "schema": {"type": "string"},
        },
    }
    error = {"description": "A SCIM error (RFC 7644 section 3.12).", "content": _json("Error")}
    responses = {str(status): error for status in (400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 501)}
    return {
        "schemas": schemas,
        "parameters": parameters,
        "responses": responses,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    }


def _json(schema: str) -> dict[str, Any]:
    reference = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    return {SCIM_JSON: reference, "application/json": reference}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ref("responses", str(status)) for status in (400, 401, 429, *statuses)}


def _operation(
    summary: str,
    *,
    ok: tuple[int, str | None],
    body: str | None = None,
    parameters: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    public: bool = False,
) -> dict[str, Any]:
    status, schema = ok
    success: dict[str, Any] = {"description": summary}
    if schema is not None:
        success["content"] = _json(schema)
    out: dict[str, Any] = {
        "summary": summary,
        "parameters": [_ref("parameters", p) for p in ("header.X-Request-ID", *parameters)],
        "responses": {str(status): success, **_errors(*errors)},
    }
    if body is not None:
        out["requestBody"] = {"required": True, "content": _json(body)}
    out["security"] = [] if public else [{"bearer": []}]
    return out


def _paths() -> dict[str, Any]:
    query = tuple(f"query.{name}" for name in _search_parameters())
    projection = ("query.attributes", "query.excludedAttributes")
    resource_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {}
    for resource_type in RESOURCE_TYPES.values():
        name, endpoint = resource_type.name, resource_type.endpoint
        paths[endpoint] = {
            "get": _operation(f"List or filter {name}s", ok=(200, "ListResponse"), parameters=query),
            "post": _operation(
                f"Create a {name}", ok=(201, name), body=name, parameters=projection, errors=(409, 413)
            ),
        }
        paths[f"{endpoint}/.search"] = {
            "post": _operation(f"Search {name}s", ok=(200, "ListResponse"), body="SearchRequest")
        }
        write = (*projection, "header.If-Match")
        paths[f"{endpoint}/{{id}}"] = {
            "parameters": [resource_id],
            "get": _operation(
                f"Read a {name}",
                ok=(200, name),
                parameters=(*projection, "header.If-None-Match"),
                errors=(404,),
            ),
            "put": _operation(
                f"Replace a {name}", ok=(200, name), body=name, parameters=write, errors=(404, 409, 412, 413)
            ),
            "patch": _operation(
                f"Change a {name}",
                ok=(200, name) if binding_of(resource_type).patch_returns_resource else (204, None),
                body="PatchOp",
                parameters=write,
                errors=(404, 409, 412, 413),
            ),
            "delete": _operation(
                f"Delete a {name}", ok=(204, None), parameters=("header.If-Match",), errors=(404, 412)
            ),
        }
    paths["/.search"] = {
        "post": _operation("Search every resource type", ok=(200, "ListResponse"), body="SearchRequest")
    }
    paths["/Bulk"] = {"post": _operation("Bulk operations", ok=(200, "BulkResponse"), body="BulkRequest")}
    for path, summary in (
        ("/ServiceProviderConfig", "The service provider's configuration"),
        ("/ResourceTypes", "The resource types"),
        ("/Schemas", "The schemas"),
    ):
        paths[path] = {"get": _operation(summary, ok=(200, "Document"), public=True)}
    for path, summary in (("/ResourceTypes/{name}", "One resource type"), ("/Schemas/{name}", "One schema")):
        paths[path] = {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": _operation(summary, ok=(200, "Document"), errors=(404,), public=True),
        }
    not_implemented = {"description": "Not supported (RFC 7644 section 3.11)", "content": _json("Error")}
    paths["/Me"] = {
        method: {
            "summary": "/Me: not supported",
            "security": [{"bearer": []}],
            "responses": {"501": not_implemented, **_errors()},
        }
        for method in ("get", "post", "put", "patch", "delete")
    }
    return paths


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Roster SCIM 2.0",
            "version": "2.0",
            "description": "Users and Groups of one tenant (RFC 7643, RFC 7644, RFC 9865). "
            f"Pages up to {settings.SCIM_MAX_PAGE_SIZE} resources; bodies up to "
            f"{settings.SCIM_MAX_PAYLOAD_BYTES} bytes ({settings.SCIM_BULK_MAX_PAYLOAD_BYTES} for /Bulk).",
        },
        "paths": _paths(),
        "components": _components(),
    }


def openapi_document(base_url: str) -> dict[str, Any]:
    """The description, with ``base_url`` (/scim/v2 or /scim/<tenant>/v2, absolute) as its server."""
    return {**_document(), "servers": [{"url": base_url}]}
