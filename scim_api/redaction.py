"""What the SCIM request log (scim_api/traffic.py) keeps of a request, and what it must not: the
body without secrets, capped; the query's parameter names without their values; a Bulk request's
operations as answered.

Never kept: an attribute the schema registry marks ``returned: never`` (RFC 7643 section 7: the
password), in the tenant's view of it (its own extensions' included), nor any attribute whose name
says it is a secret (``password``, ``secret``, ``token``: an undeclared extension's ``apiToken``
too), whether sent as a key (``password``, ``urn:...:User:password``, ``name.password``) or as a
PATCH operation's ``path`` with its ``value``. Matched by name, whatever the schema, which can only
hide more than needed. Filters are kept nowhere, neither in the query nor in a search body: a
filter's values name people, and the lenient grammar IdPs send (unquoted values, RFC 7644 section
3.4.2.2 bent) leaves a redactor guessing where a value ends. The body otherwise keeps what the
identity provider sent, personal data included: the log exists to show it, and keeps it only
``SCIM_REQUEST_LOG_DAYS``.
"""

import json
import re
from typing import Any
from urllib.parse import urlsplit

from directory.models import Tenant
from scim_api.schema import RESOURCE_TYPES
from scim_api.tenant_types import resource_type_of

BODY_LIMIT = 16 * 1024  # bytes of the redacted body's JSON kept
REDACTED = "[redacted]"
_SECRET_WORDS = ("password", "secret", "token")
_FILTERS = re.compile(r"\[[^\]]*\]")


def never_returned(tenant: Tenant | None) -> frozenset[str]:
    """The names (casefolded) of every attribute and sub-attribute marked ``returned: never`` in
    the resource types as ``tenant`` sees them (the registry's alone without a tenant)."""
    names: set[str] = set()
    for name, registered in RESOURCE_TYPES.items():
        resource_type = resource_type_of(tenant, name) if tenant is not None else registered
        found = resource_type.memo.get("never_returned")
        if found is None:
            found = resource_type.memo["never_returned"] = frozenset(
                each.name.lower()
                for schema in resource_type.schemas
                for attribute in schema.attributes
                for each in (attribute, *attribute.sub_attributes)
                if each.returned == "never"
            )
        names |= found
    return frozenset(names)


def _is_secret(name: str, never: frozenset[str]) -> bool:
    """``name``: a key or a PATCH path (``password``, ``urn:...:User:password``,
    ``emails[type eq "work"].value``)."""
    attribute = _FILTERS.sub("", name).rsplit(":", 1)[-1].lower()
    return any(part in never or any(word in part for word in _SECRET_WORDS) for part in attribute.split("."))


def redacted(value: Any, never: frozenset[str]) -> Any:
    if isinstance(value, list):
        return [redacted(item, never) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if _is_secret(key, never) or (key.lower() == "filter" and isinstance(item, str)):
            out[key] = REDACTED
        else:
            out[key] = redacted(item, never)
    # A PATCH operation (RFC 7644 section 3.5.2) naming a secret by its path: its value.
    keys = {key.lower(): key for key in value}
    path = value.get(keys.get("path", ""))
    if isinstance(path, str) and "value" in keys and _is_secret(path, never):
        out[keys["value"]] = REDACTED
    return out


def redacted_body(body: Any, never: frozenset[str]) -> tuple[str, bool]:
    """The body as JSON, redacted, and whether it was cut at ``BODY_LIMIT`` bytes."""
    text = json.dumps(redacted(body, never), ensure_ascii=False, separators=(",", ":"))
    encoded = text.encode("utf-8")
    if len(encoded) <= BODY_LIMIT:
        return text, False
    return encoded[:BODY_LIMIT].decode("utf-8", errors="ignore"), True


def query_names(query: dict) -> str:
    """The query string's parameter names, in order, each once; never a value."""
    return "&".join(dict.fromkeys(query))[:300]


def bulk_operations(response_body: Any) -> list[dict] | None:
    """A BulkResponse's operations (RFC 7644 section 3.7.3), each as the log keeps it: method,
    path (of its location), bulkId, status and scimType."""
    if not isinstance(response_body, dict) or not isinstance(response_body.get("Operations"), list):
        return None
    operations = []
    for result in response_body["Operations"]:
        error = result.get("response") or {}
        operations.append(
            {
                "method": result.get("method"),
                "path": urlsplit(result["location"]).path if result.get("location") else None,
                "bulkId": result.get("bulkId"),
                "status": int(result["status"]) if str(result.get("status", "")).isdigit() else None,
                "scimType": error.get("scimType") if isinstance(error, dict) else None,
            }
        )
    return operations
