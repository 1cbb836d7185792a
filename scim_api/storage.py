"""Between canonical SCIM documents and model field values, by the ``field`` each attribute
declares in the schema registry.

What an omitted attribute means on a full replace (POST, PUT; RFC 7644 section 3.5.1 leaves it
to the server): it is cleared, except

- ``password``: writeOnly, so a client can never echo it back; omitted means unchanged;
- ``active``: omitted means unchanged, so that a PUT built from a partial view can neither
  re-enable a disabled account nor disable one by accident;
- a group's ``members``: omitted means unchanged (``"members": []`` empties the group), so a
  PUT of a group's name never drops 100,000 memberships.
"""

from typing import Any

from django.db import models

from scim_api.schema import Attribute, ResourceType, Schema

KEPT_WHEN_OMITTED = {"password", "active"}


_STORED: dict[str, tuple[tuple[Schema, Attribute], ...]] = {}


def _stored(resource_type: ResourceType) -> tuple[tuple[Schema, Attribute], ...]:
    """(schema, attribute) for every attribute stored in a field, or with sub-attributes that are.
    Kept by resource type name: hashing the frozen type itself would walk its whole schema."""
    found = _STORED.get(resource_type.name)
    if found is None:
        found = _STORED[resource_type.name] = _stored_attributes(resource_type)
    return found


def _stored_attributes(resource_type: ResourceType) -> tuple[tuple[Schema, Attribute], ...]:
    from scim_api.schema import COMMON

    return tuple(
        (schema, attribute)
        for schema in (COMMON, *resource_type.schemas)
        for attribute in schema.attributes
        if attribute.field or any(s.field for s in attribute.sub_attributes)
    )


def _empty(model: type[models.Model], field: str) -> Any:
    model_field = model._meta.get_field(field)
    if model_field.null:
        return None
    default = model_field.get_default()
    return default


def _container(resource_type: ResourceType, schema, doc: dict) -> dict:
    if schema.id in (resource_type.schema.id, "common"):
        return doc
    return doc.get(schema.id) or {}


def fields_from_document(
    resource_type: ResourceType, model: type[models.Model], doc: dict, *, replace: bool
) -> dict[str, Any]:
    """Model field values for the attributes in ``doc``. With ``replace``, stored attributes that
    ``doc`` omits are cleared (see the module docstring for the exceptions)."""
    fields: dict[str, Any] = {}
    for schema, attribute in _stored(resource_type):
        if attribute.read_only:
            continue
        container = _container(resource_type, schema, doc)
        value = container.get(attribute.name)
        if attribute.field:
            if value is not None:
                fields[attribute.field] = value
            elif replace and attribute.field not in KEPT_WHEN_OMITTED:
                fields[attribute.field] = _empty(model, attribute.field)
            continue
        if value is not None and attribute.name == "manager" and "value" not in value and value.get("$ref"):
            value = {**value, "value": str(value["$ref"]).rstrip("/").rsplit("/", 1)[-1]}
        for sub in attribute.sub_attributes:  # a singular complex attribute stored in columns
            if not sub.field or sub.read_only:
                continue
            sub_value = (value or {}).get(sub.name)
            if sub_value is not None:
                fields[sub.field] = sub_value
            elif replace or value is not None:
                fields[sub.field] = _empty(model, sub.field)
    return fields


def document_from_instance(resource_type: ResourceType, instance: models.Model) -> dict[str, Any]:
    """The stored attributes of ``instance`` as a canonical document (no id, meta or derived
    attributes); unassigned values are left out."""
    doc: dict[str, Any] = {}
    for container, attribute in _readable(resource_type):
        value = _read(attribute, instance)
        if value is None:
            continue
        if container is None:
            doc[attribute.name] = value
        else:
            doc.setdefault(container, {})[attribute.name] = value
    return doc


_READABLE: dict[str, tuple[tuple[str | None, Attribute], ...]] = {}


def _readable(resource_type: ResourceType) -> tuple[tuple[str | None, Attribute], ...]:
    """``(extension URN or None for the core, attribute)`` of every stored attribute a document
    shows (not ``returned: never``, not ``id``), per resource type name."""
    found = _READABLE.get(resource_type.name)
    if found is None:
        core = (resource_type.schema.id, "common")
        found = _READABLE[resource_type.name] = tuple(
            (None if schema.id in core else schema.id, attribute)
            for schema, attribute in _stored(resource_type)
            if attribute.returned != "never" and attribute.name != "id"
        )
    return found


def _read(attribute: Attribute, instance) -> Any:
    if attribute.field:
        value = getattr(instance, attribute.field)
        return None if value in ("", None, []) else value
    out = {}
    for sub in attribute.sub_attributes:
        if sub.field:
            value = getattr(instance, sub.field)
            if value not in ("", None):
                out[sub.name] = str(value) if hasattr(value, "hex") else value
    return out or None
