"""The discovery documents (RFC 7644 section 4): what this server really supports.

They are public: without a token, the registry's schemas and resource types alone. A request with
a tenant's token (at /scim/v2/ or /scim/<tenant>/v2/) also sees the extension schemas that tenant
declared, in /Schemas and in /ResourceTypes' schemaExtensions, and never another tenant's.
"""

from django.conf import settings

from scim_api.errors import NotFound
from scim_api.paging import cursor_timeout
from scim_api.schema import RESOURCE_SCHEMAS, RESOURCE_TYPES, SERVICE_PROVIDER_CONFIG, ResourceType
from scim_api.schema_definitions import META_SCHEMAS
from scim_api.tenant_types import resource_type_of


def _types(tenant) -> list[ResourceType]:
    if tenant is None:
        return list(RESOURCE_TYPES.values())
    return [resource_type_of(tenant, name) for name in RESOURCE_TYPES]


def set_event_uris() -> list[str]:
    from directory.security_events import PREFIX
    from directory.services.webhooks import SET_EVENTS

    return sorted({PREFIX + name for name in SET_EVENTS.values()})


def service_provider_config(base_url: str, name=None, tenant=None) -> dict:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": settings.SCIM_BULK_MAX_OPERATIONS,
            "maxPayloadSize": settings.SCIM_BULK_MAX_PAYLOAD_BYTES,
        },
        "filter": {"supported": True, "maxResults": settings.SCIM_MAX_PAGE_SIZE},
        "changePassword": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 section 4; index paging stays the default (section 2.4).
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": settings.SCIM_DEFAULT_PAGE_SIZE,
            "maxPageSize": settings.SCIM_MAX_PAGE_SIZE,
            "cursorTimeout": cursor_timeout(),
        },
        # RFC 9967 section 4: the SET event URIs Roster can send (to the webhook endpoints that
        # choose the format, issue 22); no asynchronous requests.
        "securityEvents": {"asyncRequest": "none", "eventUris": set_event_uris()},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A bearer token issued by the Roster administrator for one tenant.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def _list(resources: list) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def resource_types(base_url: str, name=None, tenant=None) -> dict:
    documents = {rt.name: rt.to_scim(f"{base_url}/ResourceTypes/{rt.name}") for rt in _types(tenant)}
    if name is None:
        return _list(list(documents.values()))
    found = next((doc for key, doc in documents.items() if key.lower() == name.lower()), None)
    if found is None:
        raise NotFound(f"No resource type {name!r}; there are {', '.join(documents)}.")
    return found


def schemas(base_url: str, name=None, tenant=None) -> dict:
    declared = [] if tenant is None else [s for rt in _types(tenant) for s in rt.tenant_schemas]
    every = (*RESOURCE_SCHEMAS, *declared, *META_SCHEMAS)
    documents = {s.id: s.to_scim(f"{base_url}/Schemas/{s.id}") for s in every}
    if name is None:
        return _list(list(documents.values()))
    found = next((doc for key, doc in documents.items() if key.lower() == name.lower()), None)
    if found is None:
        raise NotFound(f"No schema {name!r}.")
    return found


DOCUMENTS = {"config": service_provider_config, "resource_types": resource_types, "schemas": schemas}
