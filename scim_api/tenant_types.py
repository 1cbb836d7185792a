"""Each tenant's resource types: the registry's, with the extension schemas the tenant declared
(RFC 7643 section 3.3; ``directory/models/extensions.py``).

Every path that reads the registry for a request (documents, storage, PATCH, filters, sorting,
projection, discovery, Bulk) reads the tenant's ``ResourceType`` from ``resource_type_of``: the
tenant's declarations become ``Schema``s like the enterprise one, whose attributes carry their
declaration's id (``Attribute.declaration``) and whose values live in the resource's
``extensions`` column (``Schema.tenant_defined``). A tenant that never declared one, and is not
strict, sees the registry's types themselves.
"""

from __future__ import annotations

from collections import OrderedDict

from directory.models import ExtensionAttribute, ExtensionSchema, Tenant
from directory.selectors import extension_declarations
from scim_api.schema import RESOURCE_TYPES, Attribute, ResourceType, Schema

# Built once per (tenant, declarations, strictness, type) in a process; bounded, as tenants are many.
_TYPES: OrderedDict[tuple, ResourceType] = OrderedDict()
TYPES_KEPT = 512

# The longest value of each string-like type (RFC 7643 section 2.3): a string's key, casefolded,
# must stay indexable (directory.extension_values.MAX_STRING); references are URLs; binary values
# are base64.
MAX_LENGTH = {"string": 256, "reference": 2048, "binary": 16384, "dateTime": 64}


def resource_type_of(tenant: Tenant, name: str) -> ResourceType:
    """The resource type ``name`` (``User``, ``Group``) as ``tenant`` has it."""
    declarations = extension_declarations(tenant=tenant)
    if declarations.stamp is None and not tenant.strict_extensions:
        return RESOURCE_TYPES[name]
    key = (tenant.pk, declarations.stamp, tenant.strict_extensions, name)
    found = _TYPES.get(key)
    if found is None:
        found = _TYPES[key] = _build(RESOURCE_TYPES[name], declarations.of_type(name), key, tenant)
        if len(_TYPES) > TYPES_KEPT:
            _TYPES.popitem(last=False)
    return found


def _build(
    base: ResourceType, declared: tuple[ExtensionSchema, ...], key: tuple, tenant: Tenant
) -> ResourceType:
    schemas = [_schema(s) for s in declared if s.removed_at is None]
    retained: dict[str, frozenset[str]] = {}
    for schema in declared:
        removed = [
            a.name
            for a in schema.attributes.all()
            if a.parent_id is None and (a.removed_at is not None or schema.removed_at is not None)
        ]
        if removed:
            retained[schema.urn] = frozenset(removed)
    return ResourceType(
        name=base.name,
        endpoint=base.endpoint,
        description=base.description,
        schema=base.schema,
        extensions=(*base.extensions, *schemas),
        key=":".join(str(part) for part in key),
        required_extensions=frozenset(s.urn.lower() for s in declared if s.required and s.removed_at is None),
        strict=tenant.strict_extensions,
        retained=retained,
    )


def _schema(schema: ExtensionSchema) -> Schema:
    return Schema(
        id=schema.urn,
        name=schema.name or schema.urn.rsplit(":", 1)[-1],
        description=schema.description,
        attributes=tuple(
            _attribute(a) for a in schema.attributes.all() if a.parent_id is None and a.removed_at is None
        ),
        tenant_defined=True,
    )


def _attribute(attribute: ExtensionAttribute) -> Attribute:
    return Attribute(
        name=attribute.name,
        type=attribute.type,
        multi_valued=attribute.multi_valued,
        description=attribute.description,
        required=attribute.required,
        case_exact=attribute.case_exact,
        mutability=attribute.mutability,
        returned=attribute.returned,
        uniqueness=attribute.uniqueness,
        canonical_values=tuple(attribute.canonical_values),
        reference_types=tuple(attribute.reference_types),
        sub_attributes=tuple(_attribute(s) for s in attribute.sub_attributes.all() if s.removed_at is None),
        max_length=MAX_LENGTH.get(attribute.type),
        declaration=attribute.pk,
    )
