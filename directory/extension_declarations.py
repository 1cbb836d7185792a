"""Extension schema declarations in their RFC 7643 section 7 form, checked against what RFC 7643
allows and what Roster can store.

A declaration is the schema document an administrator uploads (``manage.py load_schema``) or
edits in the admin: ``{"id": "<URN>", "name", "description", "attributes": [...]}``, each attribute
with the characteristics of RFC 7643 section 7 (``type``, ``multiValued``, ``required``,
``caseExact``, ``mutability``, ``returned``, ``uniqueness``, ``canonicalValues``,
``referenceTypes``, ``subAttributes``). ``declaration_from_document`` reads one leniently (keys
in any case, the section 2.2 defaults for what is omitted) into its canonical form, refusing with
every problem named at once (``DeclarationError``); ``declaration_of`` gives a stored schema's
canonical form, so that comparing the two tells what a change changes.
"""

from __future__ import annotations

import re
from typing import Any

from directory.errors import ServiceError

TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex")
MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
RETURNED = ("always", "never", "default", "request")
UNIQUENESS = ("none", "server", "global")
RESOURCE_TYPES = ("User", "Group")
# What uniqueness: server can be enforced on: a string's key or a number (the unique indexes of
# directory/models/extensions.py).
UNIQUE_TYPES = ("string", "integer", "decimal")
STRING_LIKE = ("string", "reference", "binary")

MAX_SCHEMAS = 50  # per tenant
MAX_ATTRIBUTES = 100  # per schema
MAX_SUB_ATTRIBUTES = 20  # per complex attribute
MAX_CANONICAL_VALUES = 100
MAX_TEXT = 1024  # a description
MAX_URN = 256

# RFC 7643 section 2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA; "$ref"
# for a reference sub-attribute (section 2.4).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# RFC 8141: "urn:" NID ":" NSS, without the r-, q- and f-components (a schema id names a schema).
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:[A-Za-z0-9()+,\-.:=@;$_!*'%]+", re.I)
# The schemas RFC 7643 and RFC 7644 define, and their namespaces: a tenant cannot redefine them.
# The namespaces of the schemas and messages RFC 7643 and RFC 7644 define: a tenant's schema may
# be in none of them, nor be a prefix of one of their URNs (an attribute path <URN>:<name> would be
# ambiguous). The rest of urn:ietf:params:scim is left open: Microsoft Entra ID puts custom
# attributes under urn:ietf:params:scim:schemas:extension:<Name>:2.0:User, and Okta's support
# article shows urn:ietf:params:scim:schemas:custom:Space.
RESERVED_URNS = (
    "urn:ietf:params:scim:schemas:core:",
    "urn:ietf:params:scim:api:",
    "urn:ietf:params:scim:schemas:extension:enterprise:",
)
RFC_URNS = (
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
    "urn:ietf:params:scim:schemas:core:2.0:Schema",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:api:messages:2.0:ListResponse",
)

# The canonical attribute: its keys, and the RFC 7643 section 2.2 defaults.
DEFAULTS: dict[str, Any] = {
    "type": "string",
    "multiValued": False,
    "description": "",
    "required": False,
    "caseExact": False,
    "mutability": "readWrite",
    "returned": "default",
    "uniqueness": "none",
    "canonicalValues": [],
    "referenceTypes": [],
}
ATTRIBUTE_KEYS = ("name", *DEFAULTS, "subAttributes")


class DeclarationError(ServiceError):
    """A declaration RFC 7643 does not allow or Roster cannot store, or a change that the values
    already stored would violate; ``problems`` lists each, for a person to fix."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def declaration_from_document(document: Any) -> dict[str, Any]:
    """The canonical declaration of an RFC 7643 section 7 schema document: ``id``, ``name``,
    ``description`` and ``attributes``, each attribute with every key of ``ATTRIBUTE_KEYS``."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise DeclarationError(["A schema document must be a JSON object."])
    given = {str(k).lower(): v for k, v in document.items()}
    urn = given.get("id")
    if not isinstance(urn, str) or not urn.strip():
        problems.append(
            '"id" must be the schema\'s URN, e.g. "urn:ietf:params:scim:schemas:extension:acme:2.0:User".'
        )
        urn = ""
    else:
        urn = urn.strip()
        problems += urn_problems(urn)
    name = _text(given.get("name"), "name", problems, limit=256)
    description = _text(given.get("description"), "description", problems)
    raw = given.get("attributes")
    attributes: list[dict[str, Any]] = []
    if not isinstance(raw, list) or not raw:
        problems.append('"attributes" must be a non-empty list of attribute definitions.')
    elif len(raw) > MAX_ATTRIBUTES:
        problems.append(f"A schema may declare at most {MAX_ATTRIBUTES} attributes; this one has {len(raw)}.")
    else:
        attributes = _attributes(raw, "", problems, sub=False)
    if problems:
        raise DeclarationError(problems)
    return {"id": urn, "name": name, "description": description, "attributes": attributes}


def urn_problems(urn: str) -> list[str]:
    if len(urn) > MAX_URN:
        return [f"The schema URN is {len(urn)} characters long; the limit is {MAX_URN}."]
    if not _URN.fullmatch(urn) or urn.endswith(":"):
        return [
            f'"{urn}" is not a URN (RFC 8141: urn:<namespace>:<name>, e.g. '
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User)."
        ]
    lowered = urn.lower()
    reserved = next((r for r in RESERVED_URNS if lowered.startswith(r)), None)
    if reserved is None:
        reserved = next((r for r in RFC_URNS if r.lower().startswith(lowered + ":")), None)
    if reserved is not None:
        return [
            f'"{urn}" is in, or begins, {reserved}: a namespace RFC 7643 and RFC 7644 define; '
            "choose a URN of your own (e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User)."
        ]
    return []


def _text(value: Any, label: str, problems: list[str], limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f'"{label}" must be a string.')
        return ""
    if len(value) > limit:
        problems.append(f'"{label}" is {len(value)} characters long; the limit is {limit}.')
    return value


def _attributes(raw: list, prefix: str, problems: list[str], *, sub: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        attribute = _attribute(
            item, f"{prefix}attributes[{index}]" if not sub else f"{prefix}[{index}]", problems, sub=sub
        )
        if attribute is None:
            continue
        key = attribute["name"].lower()
        if key in seen:
            problems.append(
                f'"{attribute["name"]}" is declared twice '
                "(attribute names ignore case, RFC 7643 section 2.1)."
            )
        seen.add(key)
        out.append(attribute)
    return out


def _attribute(item: Any, label: str, problems: list[str], *, sub: bool) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        problems.append(f"{label} must be an object.")
        return None
    given = {str(k).lower(): v for k, v in item.items()}
    known = {k.lower() for k in ATTRIBUTE_KEYS}
    unknown = sorted(k for k in item if str(k).lower() not in known)
    name = given.get("name")
    if isinstance(name, str) and (_NAME.fullmatch(name) or (sub and name == "$ref")):
        label = f"{label} ({name})"
    else:
        problems.append(
            f"{label}: name must start with a letter and hold only letters, digits, '-' and '_', at "
            f"most 64 characters (RFC 7643 section 2.1), not {name!r}."
        )
        return None
    if unknown:
        problems.append(f"{label}: unknown characteristic(s) {', '.join(unknown)} (RFC 7643 section 7).")
    out: dict[str, Any] = {"name": name}
    for key, default in DEFAULTS.items():
        value = given.get(key.lower(), default)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"{label}: {key} must be true or false, not {value!r}.")
                value = default
        elif isinstance(default, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"{label}: {key} must be a list of strings.")
                value = []
        elif key == "description":
            value = _text(value, f"{label}: description", problems)
        elif not isinstance(value, str):
            problems.append(f"{label}: {key} must be a string, not {value!r}.")
            value = default
        out[key] = value
    if "returned" not in given and out["mutability"] == "writeOnly":
        out["returned"] = "never"  # RFC 7643 section 7: a writeOnly value "SHALL NOT be returned"
    if "caseexact" not in given and out["type"] == "binary":
        out["caseExact"] = True  # RFC 7643 section 2.3.6: binary values are case exact
    _check(out, label, problems, sub=sub, given=given)
    raw_subs = given.get("subattributes")
    out["subAttributes"] = []
    if out["type"] == "complex":
        if not isinstance(raw_subs, list) or not raw_subs:
            problems.append(f"{label}: a complex attribute needs subAttributes (RFC 7643 section 2.3.8).")
        elif len(raw_subs) > MAX_SUB_ATTRIBUTES:
            problems.append(f"{label}: at most {MAX_SUB_ATTRIBUTES} subAttributes; it has {len(raw_subs)}.")
        else:
            out["subAttributes"] = _attributes(raw_subs, f"{label}.subAttributes", problems, sub=True)
    elif raw_subs not in (None, []):
        problems.append(f"{label}: only a complex attribute has subAttributes; this one is {out['type']}.")
    return out


def _check(out: dict[str, Any], label: str, problems: list[str], *, sub: bool, given: dict) -> None:
    kind = out["type"]
    for key, allowed in (
        ("type", TYPES),
        ("mutability", MUTABILITY),
        ("returned", RETURNED),
        ("uniqueness", UNIQUENESS),
    ):
        if out[key] not in allowed:
            problems.append(f"{label}: {key} must be one of {', '.join(allowed)}, not {out[key]!r}.")
            return
    if sub and kind == "complex":
        problems.append(f"{label}: a sub-attribute cannot be complex (RFC 7643 section 2.3.8).")
    if sub and (out["mutability"] in ("readOnly", "writeOnly", "immutable") or out["returned"] == "never"):
        problems.append(
            f"{label}: Roster keeps mutability and returned never per attribute, not per sub-attribute; "
            "give them to the complex attribute."
        )
    if sub and out["multiValued"]:
        problems.append(
            f"{label}: Roster does not store multi-valued sub-attributes; "
            "make the complex attribute multi-valued instead."
        )
    if out["name"] == "$ref" and kind != "reference":
        problems.append(f"{label}: $ref must be of type reference (RFC 7643 section 2.4).")
    if out["uniqueness"] == "global":
        problems.append(
            f"{label}: uniqueness global is not supported; use server (unique within the tenant's directory)."
        )
    elif out["uniqueness"] == "server" and kind not in UNIQUE_TYPES:
        problems.append(
            f"{label}: uniqueness server is supported on {', '.join(UNIQUE_TYPES)} attributes, not {kind}."
        )
    if out["mutability"] == "writeOnly" and out["returned"] != "never":
        problems.append(
            f"{label}: a writeOnly attribute is never returned (RFC 7643 section 7); "
            'returned must be "never".'
        )
    if out["mutability"] == "readOnly" and out["required"]:
        problems.append(f"{label}: a readOnly attribute cannot be required: no client may set it.")
    if kind == "binary" and not out["caseExact"]:
        problems.append(f"{label}: a binary attribute is case exact (RFC 7643 section 2.3.6).")
    if out["caseExact"] and kind not in STRING_LIKE:
        out["caseExact"] = False  # meaningless beyond strings (RFC 7643 section 2.2): not kept
    if kind == "reference":
        if not out["referenceTypes"]:
            problems.append(
                f'{label}: a reference needs referenceTypes, e.g. ["external"] or ["User"] '
                "(RFC 7643 section 7)."
            )
        for value in out["referenceTypes"]:
            if value not in ("external", "uri", *RESOURCE_TYPES):
                problems.append(
                    f"{label}: referenceTypes may hold external, uri, User and Group, not {value!r}."
                )
    elif "referencetypes" in given and out["referenceTypes"]:
        problems.append(f"{label}: only a reference has referenceTypes; this one is {kind}.")
    canonical = out["canonicalValues"]
    if canonical:
        if kind not in ("string", "reference"):
            problems.append(f"{label}: canonicalValues apply to string attributes, not {kind}.")
        if len(canonical) > MAX_CANONICAL_VALUES or any(len(v) > 256 for v in canonical):
            problems.append(
                f"{label}: at most {MAX_CANONICAL_VALUES} canonicalValues of up to 256 characters."
            )
        if len({v.casefold() for v in canonical}) != len(canonical):
            problems.append(f"{label}: canonicalValues repeat a value.")


def declaration_of(schema) -> dict[str, Any]:
    """The canonical declaration of a stored ``ExtensionSchema`` (its attributes not removed), as
    ``declaration_from_document`` gives it: also the schema document the admin exports."""
    return {
        "id": schema.urn,
        "name": schema.name,
        "description": schema.description,
        "attributes": [
            attribute_declaration(a)
            for a in active(a for a in schema.attributes.all() if a.parent_id is None)
        ],
    }


def attribute_declaration(attribute) -> dict[str, Any]:
    subs = active(attribute.sub_attributes.all())
    return {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
        "canonicalValues": list(attribute.canonical_values),
        "referenceTypes": list(attribute.reference_types),
        "subAttributes": [attribute_declaration(s) for s in subs],
    }


def active(attributes) -> list:
    """Those of ``attributes`` not removed, in declared order."""
    return sorted((a for a in attributes if a.removed_at is None), key=lambda a: (a.position, a.pk or 0))


def schema_document(schema, location: str | None = None) -> dict[str, Any]:
    """The stored schema as an RFC 7643 section 7 document (``schemas``, ``meta`` and all)."""
    document = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], **declaration_of(schema)}
    if location is not None:
        document["meta"] = {"resourceType": "Schema", "location": location}
    return document


def schema_documents(loaded: Any) -> list[dict]:
    """The schema documents of a file: one, a list, or a ListResponse (``Resources``)."""
    if isinstance(loaded, dict) and any(str(k).lower() == "resources" for k in loaded):
        loaded = next(v for k, v in loaded.items() if str(k).lower() == "resources")
    documents = loaded if isinstance(loaded, list) else [loaded]
    if not documents or not all(isinstance(d, dict) for d in documents):
        raise DeclarationError(["Give a schema document (a JSON object), a list of them, or a ListResponse."])
    return documents
