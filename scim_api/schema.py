"""The schema registry: every SCIM attribute's characteristics, declared once (RFC 7643 section 2).

Serialization, input validation, projection (``attributes``/``excludedAttributes``), filtering,
sorting, PATCH and the /Schemas discovery documents all read these declarations. Each attribute
also names the model field that stores it (``field``); attributes without one are derived
(``groups``, ``members``, ``meta``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_RESOLVED = 4096  # attribute paths a resource type remembers it resolved
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition, with the RFC 7643 section 7 characteristics."""

    name: str
    type: str = "string"  # string, boolean, decimal, integer, dateTime, reference, binary, complex
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly, readWrite, immutable, writeOnly
    returned: str = "default"  # always, never, default, request
    uniqueness: str = "none"  # none, server, global
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    field: str | None = None  # the model attname that stores it; None when derived
    max_length: int | None = None
    # A tenant-defined extension attribute's declaration (ExtensionAttribute's id): its values are
    # in the resource's ``extensions`` column and its leaf values in the binding's extension rows.
    declaration: int | None = None

    def sub(self, name: str) -> Attribute | None:
        lowered = name.lower()
        return next((s for s in self.sub_attributes if s.name.lower() == lowered), None)

    @property
    def read_only(self) -> bool:
        return self.mutability == "readOnly"

    def to_scim(self) -> dict[str, Any]:
        """The attribute's representation in a /Schemas document (RFC 7643 section 7)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        }
        if self.type in ("string", "reference", "binary"):
            out["caseExact"] = self.case_exact
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        out |= {"mutability": self.mutability, "returned": self.returned, "uniqueness": self.uniqueness}
        if self.sub_attributes:
            out["subAttributes"] = [s.to_scim() for s in self.sub_attributes]
        return out


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    # Declared by a tenant (directory/models/extensions.py): its values live in the resource's
    # ``extensions`` column under ``id``, not in columns of their own.
    tenant_defined: bool = False

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name.lower())

    @cached_property
    def _by_name(self) -> dict[str, Attribute]:
        return {a.name.lower(): a for a in self.attributes}

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


@dataclass(frozen=True)
class AttributePath:
    """A resolved attribute path: the schema, the attribute and possibly one sub-attribute;
    ``in_extension`` when the schema is an extension of the resource type, not its core schema
    or the attributes common to all (RFC 7643 section 3.3)."""

    schema: Schema
    attribute: Attribute
    sub_attribute: Attribute | None = None
    in_extension: bool = False

    @property
    def target(self) -> Attribute:
        return self.sub_attribute or self.attribute

    def __str__(self) -> str:
        prefix = f"{self.schema.id}:" if self.in_extension else ""
        suffix = f".{self.sub_attribute.name}" if self.sub_attribute else ""
        return f"{prefix}{self.attribute.name}{suffix}"


@dataclass(frozen=True, eq=False)
class ResourceType:
    """A resource type as one tenant sees it: the core schema and the extensions, the enterprise
    one and those the tenant declared (``scim_api.tenant_types``). Compared and hashed by identity:
    ``key`` names it for the caches of what is derived from it."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = field(default=())
    key: str = ""
    # URNs (casefolded) of the extensions every resource of the type must carry (schemaExtensions
    # required, RFC 7643 section 6).
    required_extensions: frozenset[str] = frozenset()
    # Whether a request may carry extension URNs the tenant has not declared (ignored), or not.
    strict: bool = False
    # Values kept on every write though no longer declared (removed, not yet purged): {URN: names}.
    retained: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @cached_property
    def memo(self) -> dict[str, Any]:
        """What other modules derive from this type and keep with it (storage's readers, ...)."""
        return {}

    @cached_property
    def tenant_schemas(self) -> tuple[Schema, ...]:
        return tuple(s for s in self.extensions if s.tenant_defined)

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *self.extensions)

    def extension(self, urn: str) -> Schema | None:
        return self._extensions_by_id.get(urn.lower())

    @cached_property
    def _extensions_by_id(self) -> dict[str, Schema]:
        return {s.id.lower(): s for s in self.extensions}

    def resolve(self, path: str) -> AttributePath | None:
        """Resolve ``userName``, ``name.givenName``, ``meta.created`` or a URN-qualified path
        (``urn:...:enterprise:2.0:User:manager.value``), ignoring case (RFC 7644 section 3.10).
        None when the path names no attribute of this resource type."""
        resolved = self._resolved
        if path not in resolved:
            if len(resolved) >= MAX_RESOLVED:  # paths come from clients: keep a bounded few
                resolved.clear()
            resolved[path] = self._resolve(path)
        return resolved[path]

    @cached_property
    def _resolved(self) -> dict[str, AttributePath | None]:
        return {}

    @cached_property
    def _schemas_longest_first(self) -> tuple[Schema, ...]:
        return tuple(sorted(self.schemas, key=lambda s: -len(s.id)))

    def _resolve(self, path: str) -> AttributePath | None:
        schema, rest = self.schema, path
        lowered = path.lower()
        for candidate in self._schemas_longest_first:
            if lowered.startswith(candidate.id.lower() + ":"):
                schema, rest = candidate, path[len(candidate.id) + 1 :]
                break
        name, _, sub_name = rest.partition(".")
        attribute = schema.attribute(name)
        if attribute is None and schema is self.schema:
            attribute = COMMON.attribute(name)
        if attribute is None:
            return None
        extension = schema is not self.schema
        if not sub_name:
            return AttributePath(schema, attribute, in_extension=extension)
        sub = attribute.sub(sub_name)
        return AttributePath(schema, attribute, sub, in_extension=extension) if sub else None

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": [RESOURCE_TYPE],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [
                {"schema": s.id, "required": s.id.lower() in self.required_extensions}
                for s in self.extensions
            ],
            "meta": {"resourceType": "ResourceType", "location": location},
        }


def _sub(name: str, description: str, **kwargs) -> Attribute:
    return Attribute(name=name, description=description, **kwargs)


def _multi(
    name: str,
    description: str,
    *,
    field: str,
    types: tuple[str, ...],
    value_type: str = "string",
    value_case_exact: bool = False,
) -> Attribute:
    """A multi-valued complex attribute with the RFC 7643 section 2.4 sub-attributes."""
    return Attribute(
        name=name,
        type="complex",
        multi_valued=True,
        description=description,
        field=field,
        sub_attributes=(
            _sub(
                "value",
                f"The value of the {name} element.",
                type=value_type,
                case_exact=value_case_exact,
                reference_types=("external",) if value_type == "reference" else (),
                # Case-insensitive values are indexed casefolded (UserValue.value_key, 768 characters,
                # room for casefold's growth); references and certificates are stored unindexed.
                max_length=256 if value_type == "string" else 16384,
            ),
            _sub("display", "A human-readable name, primarily used for display purposes.", max_length=256),
            _sub(
                "type",
                f"A label indicating the {name} element's function.",
                canonical_values=types,
                max_length=64,
            ),
            _sub(
                "primary",
                "Whether this is the primary value; at most one element may be primary.",
                type="boolean",
            ),
        ),
    )


def _meta() -> Attribute:
    read_only = {"mutability": "readOnly"}
    return Attribute(
        name="meta",
        type="complex",
        description="Resource metadata.",
        mutability="readOnly",
        sub_attributes=(
            _sub("resourceType", "The name of the resource type.", case_exact=True, **read_only),
            _sub("created", "When the resource was added.", type="dateTime", **read_only),
            _sub("lastModified", "When the resource was last updated.", type="dateTime", **read_only),
            _sub(
                "location",
                "The URI of the resource.",
                type="reference",
                case_exact=True,
                reference_types=("uri",),
                **read_only,
            ),
            _sub("version", "The version (entity tag) of the resource.", case_exact=True, **read_only),
        ),
    )


# Attributes every resource has, outside its schema (RFC 7643 section 3.1).
COMMON = Schema(
    id="common",
    name="Common",
    description="Attributes of every resource.",
    attributes=(
        Attribute(
            name="id",
            description="Unique identifier assigned by the service provider.",
            case_exact=True,
            mutability="readOnly",
            returned="always",
            uniqueness="server",
            field="id",
        ),
        Attribute(
            name="externalId",
            description="Identifier assigned by the provisioning client.",
            case_exact=True,
            field="external_id",
            max_length=256,
        ),
        _meta(),
    ),
)

_NAME = Attribute(
    name="name",
    type="complex",
    description="The components of the user's name.",
    sub_attributes=(
        _sub("formatted", "The full name, formatted for display.", field="name_formatted", max_length=512),
        _sub("familyName", "The family name, or last name.", field="name_family_name", max_length=256),
        _sub("givenName", "The given name, or first name.", field="name_given_name", max_length=256),
        _sub("middleName", "The middle name(s).", field="name_middle_name", max_length=256),
        _sub(
            "honorificPrefix",
            "The honorific prefix(es), e.g. 'Ms.'.",
            field="name_honorific_prefix",
            max_length=256,
        ),
        _sub(
            "honorificSuffix",
            "The honorific suffix(es), e.g. 'III'.",
            field="name_honorific_suffix",
            max_length=256,
        ),
    ),
)


def _string(name: str, description: str, field: str, max_length: int = 256, **kwargs) -> Attribute:
    return Attribute(name=name, description=description, field=field, max_length=max_length, **kwargs)


USER_SCHEMA = Schema(
    id=CORE_USER,
    name="User",
    description="User Account",
    attributes=(
        _string(
            "userName",
            "Unique identifier for the User, used to sign in. REQUIRED.",
            "user_name",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _string("displayName", "The name of the User, suitable for display.", "display_name"),
        _string("nickName", "The casual way to address the user.", "nick_name"),
        Attribute(
            name="profileUrl",
            type="reference",
            reference_types=("external",),
            field="profile_url",
            description="A URI to the user's online profile.",
            max_length=2048,
        ),
        _string("title", "The user's title, such as 'Vice President'.", "title"),
        _string("userType", "The relationship to the organization, e.g. 'Employee'.", "user_type"),
        _string(
            "preferredLanguage",
            "Preferred written or spoken language (RFC 7231 Accept-Language).",
            "preferred_language",
            max_length=64,
        ),
        _string("locale", "Default location for localization, e.g. 'en-US'.", "locale", max_length=64),
        _string(
            "timezone",
            "Time zone in the IANA database format, e.g. 'America/Los_Angeles'.",
            "timezone",
            max_length=64,
        ),
        Attribute(
            name="active", type="boolean", field="active", description="The user's administrative status."
        ),
        Attribute(
            name="password",
            mutability="writeOnly",
            returned="never",
            field="password",
            max_length=256,
            description="The user's cleartext password, to set it; stored hashed and never returned.",
        ),
        _multi("emails", "Email addresses for the user.", field="emails", types=("work", "home", "other")),
        _multi(
            "phoneNumbers",
            "Phone numbers for the user.",
            field="phone_numbers",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the user.",
            field="ims",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of photos of the user.",
            field="photos",
            types=("photo", "thumbnail"),
            value_type="reference",
            value_case_exact=True,
        ),
        Attribute(
            name="addresses",
            type="complex",
            multi_valued=True,
            description="A physical mailing address for this user.",
            field="addresses",
            sub_attributes=(
                _sub("formatted", "The full mailing address, formatted for display.", max_length=1024),
                _sub("streetAddress", "The full street address component.", max_length=512),
                _sub("locality", "The city or locality component.", max_length=256),
                _sub("region", "The state or region component.", max_length=256),
                _sub("postalCode", "The zip code or postal code component.", max_length=64),
                _sub("country", "The country name component (ISO 3166-1 alpha-2).", max_length=64),
                _sub(
                    "type",
                    "A label indicating the address's function.",
                    canonical_values=("work", "home", "other"),
                    max_length=64,
                ),
                _sub("primary", "Whether this is the primary address.", type="boolean"),
            ),
        ),
        Attribute(
            name="groups",
            type="complex",
            multi_valued=True,
            mutability="readOnly",
            description="The groups the user belongs to, directly or through nested groups.",
            sub_attributes=(
                _sub("value", "The id of the group.", mutability="readOnly", case_exact=True),
                _sub(
                    "$ref",
                    "The URI of the group.",
                    type="reference",
                    reference_types=("Group",),
                    mutability="readOnly",
                    case_exact=True,
                ),
                _sub("display", "The group's displayName.", mutability="readOnly"),
                _sub(
                    "type",
                    "'direct' or 'indirect' membership.",
                    canonical_values=("direct", "indirect"),
                    mutability="readOnly",
                ),
            ),
        ),
        _multi("entitlements", "Entitlements of the user.", field="entitlements", types=()),
        _multi("roles", "Roles of the user.", field="roles", types=()),
        _multi(
            "x509Certificates",
            "X.509 certificates of the user (DER, base64).",
            field="x509_certificates",
            types=(),
            value_type="binary",
            value_case_exact=True,
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    id=ENTERPRISE_USER,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _string("employeeNumber", "A number assigned by the organization.", "employee_number"),
        _string("costCenter", "A cost center name.", "cost_center"),
        _string("organization", "An organization name.", "organization"),
        _string("division", "A division name.", "division"),
        _string("department", "A department name.", "department"),
        Attribute(
            name="manager",
            type="complex",
            description="The user's manager: another user of this directory.",
            sub_attributes=(
                _sub("value", "The id of the manager's User.", case_exact=True, field="manager_id"),
                _sub(
                    "$ref",
                    "The URI of the manager's User; its last segment is the id.",
                    type="reference",
                    reference_types=("User",),
                    case_exact=True,
                ),
                _sub("displayName", "The manager's displayName.", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP_SCHEMA = Schema(
    id=CORE_GROUP,
    name="Group",
    description="Group",
    attributes=(
        _string(
            "displayName", "A human-readable name for the Group. REQUIRED.", "display_name", required=True
        ),
        Attribute(
            name="members",
            type="complex",
            multi_valued=True,
            description="The members of the Group: users or other groups.",
            sub_attributes=(
                _sub("value", "The id of the member.", case_exact=True, mutability="immutable"),
                _sub(
                    "$ref",
                    "The URI of the member.",
                    type="reference",
                    reference_types=("User", "Group"),
                    mutability="immutable",
                    case_exact=True,
                ),
                _sub(
                    "display",
                    "The member's displayName (returned when asked for: members.display).",
                    mutability="readOnly",
                    returned="request",
                ),
                _sub(
                    "type",
                    "The type of the member.",
                    canonical_values=("User", "Group"),
                    mutability="immutable",
                ),
            ),
        ),
    ),
)

USER = ResourceType(
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=USER_SCHEMA,
    extensions=(ENTERPRISE_USER_SCHEMA,),
)
GROUP = ResourceType(name="Group", endpoint="/Groups", description="Group", schema=GROUP_SCHEMA)

RESOURCE_TYPES: dict[str, ResourceType] = {rt.name: rt for rt in (USER, GROUP)}
RESOURCE_SCHEMAS: tuple[Schema, ...] = (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA)
