"""The schemas of the discovery resources themselves (RFC 7643 section 8.7.2), so that /Schemas
describes ServiceProviderConfig, ResourceType and Schema documents as well."""

from typing import Any, TypedDict

from scim_api.schema import RESOURCE_TYPE, SCHEMA, SERVICE_PROVIDER_CONFIG, Attribute, Schema


class _ReadOnly(TypedDict):
    mutability: str


RO: _ReadOnly = {"mutability": "readOnly"}


def _flag(name: str, description: str) -> Attribute:
    return Attribute(name=name, type="boolean", required=True, description=description, **RO)


def _feature(name: str, description: str, *extra: Attribute) -> Attribute:
    return Attribute(
        name=name,
        type="complex",
        required=True,
        description=description,
        **RO,
        sub_attributes=(_flag("supported", f"Whether {name} is supported."), *extra),
    )


def _integer(name: str, description: str, required: bool = True) -> Attribute:
    return Attribute(name=name, type="integer", required=required, description=description, **RO)


def _text(name: str, description: str, required: bool = False, **kwargs: Any) -> Attribute:
    return Attribute(name=name, required=required, description=description, **{**RO, **kwargs})


SERVICE_PROVIDER_CONFIG_SCHEMA = Schema(
    id=SERVICE_PROVIDER_CONFIG,
    name="Service Provider Configuration",
    description="Schema for representing the service provider's configuration",
    attributes=(
        Attribute(
            name="documentationUri",
            type="reference",
            reference_types=("external",),
            **RO,
            description="An HTTP-addressable URL pointing to the service provider's help documentation.",
        ),
        _feature("patch", "A complex type that specifies PATCH configuration options."),
        _feature(
            "bulk",
            "A complex type that specifies bulk configuration options.",
            _integer("maxOperations", "An integer value specifying the maximum number of operations."),
            _integer("maxPayloadSize", "An integer value specifying the maximum payload size in bytes."),
        ),
        _feature(
            "filter",
            "A complex type that specifies FILTER options.",
            _integer("maxResults", "The maximum number of resources returned in a response."),
        ),
        _feature(
            "changePassword",
            "A complex type that specifies configuration options related to changing a password.",
        ),
        _feature("sort", "A complex type that specifies sort result options."),
        _feature("etag", "A complex type that specifies ETag configuration options."),
        Attribute(
            name="pagination",
            type="complex",
            description="Pagination options (RFC 9865).",
            **RO,
            sub_attributes=(
                Attribute(
                    name="cursor", type="boolean", description="Whether cursor paging is supported.", **RO
                ),
                Attribute(
                    name="index", type="boolean", description="Whether index paging is supported.", **RO
                ),
                _text(
                    "defaultPaginationMethod", "'cursor' or 'index'.", canonical_values=("cursor", "index")
                ),
                _integer("defaultPageSize", "The page size when the client gives no count.", False),
                _integer("maxPageSize", "The largest page size served.", False),
                _integer("cursorTimeout", "Seconds a cursor stays valid.", False),
            ),
        ),
        Attribute(
            name="securityEvents",
            type="complex",
            description="Security Event Token support (RFC 9967 section 4).",
            **RO,
            sub_attributes=(
                _text(
                    "asyncRequest",
                    "Whether asynchronous requests are supported: none, long or request.",
                    canonical_values=("none", "long", "request"),
                ),
                Attribute(
                    name="eventUris",
                    type="reference",
                    multi_valued=True,
                    reference_types=("uri",),
                    description="The event URIs the service provider may send (informational).",
                    **RO,
                ),
            ),
        ),
        Attribute(
            name="authenticationSchemes",
            type="complex",
            multi_valued=True,
            required=True,
            **RO,
            description="A complex type that specifies supported authentication scheme properties.",
            sub_attributes=(
                _text(
                    "type",
                    "The authentication scheme.",
                    True,
                    canonical_values=("oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"),
                ),
                _text("name", "The common authentication scheme name, e.g., HTTP Basic.", True),
                _text("description", "A description of the authentication scheme.", True),
                Attribute(
                    name="specUri",
                    type="reference",
                    reference_types=("external",),
                    **RO,
                    description="An HTTP-addressable URL pointing to the authentication scheme's "
                    "specification.",
                ),
                Attribute(
                    name="documentationUri",
                    type="reference",
                    reference_types=("external",),
                    **RO,
                    description="An HTTP-addressable URL pointing to the authentication scheme's usage "
                    "documentation.",
                ),
                Attribute(
                    name="primary", type="boolean", description="Whether this is the preferred scheme.", **RO
                ),
            ),
        ),
    ),
)

RESOURCE_TYPE_SCHEMA = Schema(
    id=RESOURCE_TYPE,
    name="ResourceType",
    description="Specifies the schema that describes a SCIM resource type",
    attributes=(
        _text(
            "id", "The resource type's server unique id; the same as the 'name' attribute.", case_exact=True
        ),
        _text("name", "The resource type name.", True, case_exact=True),
        _text("description", "The resource type's human-readable description."),
        Attribute(
            name="endpoint",
            type="reference",
            reference_types=("uri",),
            required=True,
            **RO,
            description="The resource type's HTTP-addressable endpoint relative to the Base URL.",
        ),
        Attribute(
            name="schema",
            type="reference",
            reference_types=("uri",),
            required=True,
            case_exact=True,
            **RO,
            description="The resource type's primary/base schema URI.",
        ),
        Attribute(
            name="schemaExtensions",
            type="complex",
            multi_valued=True,
            **RO,
            description="A list of URIs of the resource type's schema extensions.",
            sub_attributes=(
                Attribute(
                    name="schema",
                    type="reference",
                    reference_types=("uri",),
                    required=True,
                    case_exact=True,
                    description="The URI of a schema extension.",
                    **RO,
                ),
                Attribute(
                    name="required",
                    type="boolean",
                    required=True,
                    **RO,
                    description="Whether resources of this type must include the extension.",
                ),
            ),
        ),
    ),
)

_ATTRIBUTE_DEFINITION_SUBS = (
    _text("name", "The attribute's name.", True, case_exact=True),
    _text(
        "type",
        "The attribute's data type.",
        True,
        canonical_values=(
            "string",
            "complex",
            "boolean",
            "decimal",
            "integer",
            "dateTime",
            "reference",
            "binary",
        ),
    ),
    Attribute(
        name="multiValued", type="boolean", required=True, description="Whether it is multi-valued.", **RO
    ),
    _text("description", "A human-readable description of the attribute."),
    Attribute(name="required", type="boolean", description="Whether the attribute is required.", **RO),
    _text("canonicalValues", "A collection of canonical values.", case_exact=True, multi_valued=True),
    Attribute(
        name="caseExact", type="boolean", description="Whether string values are case-sensitive.", **RO
    ),
    _text(
        "mutability",
        "Whether the attribute is mutable.",
        canonical_values=("readOnly", "readWrite", "immutable", "writeOnly"),
    ),
    _text(
        "returned",
        "When the attribute is returned.",
        canonical_values=("always", "never", "default", "request"),
    ),
    _text(
        "uniqueness",
        "How the attribute's values must be unique.",
        canonical_values=("none", "server", "global"),
    ),
    _text(
        "referenceTypes",
        "The names of the resource types that may be referenced.",
        case_exact=True,
        multi_valued=True,
    ),
)

SCHEMA_SCHEMA = Schema(
    id=SCHEMA,
    name="Schema",
    description="Specifies the schema attributes of a resource type",
    attributes=(
        _text("id", "The unique URI of the schema.", True, case_exact=True),
        _text("name", "The schema's human-readable name."),
        _text("description", "The schema's human-readable description."),
        Attribute(
            name="attributes",
            type="complex",
            multi_valued=True,
            required=True,
            **RO,
            description="A complex attribute that includes the attributes of a schema.",
            sub_attributes=(
                *_ATTRIBUTE_DEFINITION_SUBS,
                Attribute(
                    name="subAttributes",
                    type="complex",
                    multi_valued=True,
                    **RO,
                    description="Used to define the sub-attributes of a complex attribute.",
                    sub_attributes=_ATTRIBUTE_DEFINITION_SUBS,
                ),
            ),
        ),
    ),
)

META_SCHEMAS = (SERVICE_PROVIDER_CONFIG_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA)
