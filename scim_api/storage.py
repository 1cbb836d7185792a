"""Between canonical SCIM documents and model field values, by the ``field`` each attribute
declares in the schema registry.

What an omitted attribute means on a full replace (POST, PUT; RFC 7644 section 3.5.1 leaves it
to the server): it is cleared, except the fields the binding keeps (``Binding.kept_when_omitted``,
``scim_api.bindings``: a user's ``password`` and ``active``) and a group's ``members``, which the
group handler keeps when omitted (``"members": []`` empties the group), so that a PUT of a group's
name never drops 100,000 memberships.
"""

from collections.abc import Callable
from functools import cache
from operator import attrgetter
from typing import Any

import orjson
from django.db import models

from scim_api.bindings import binding_of
from scim_api.errors import Mutability
from scim_api.schema import Attribute, ResourceType, Schema

EXTENSIONS_FIELD = "extensions"  # the column holding tenant-defined extensions' values (both models)


def _stored(resource_type: ResourceType) -> tuple[tuple[Schema, Attribute], ...]:
    """(schema, attribute) for every attribute stored in a field, or with sub-attributes that are.
    Kept with the type (``ResourceType.memo``)."""
    found = resource_type.memo.get("stored")
    if found is None:
        found = resource_type.memo["stored"] = _stored_attributes(resource_type)
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
    nullable, default = _emptiness(model, field)
    return None if nullable else default()


@cache
def _emptiness(model: type[models.Model], field: str) -> tuple[bool, Callable[[], Any]]:
    model_field = model._meta.get_field(field)
    assert isinstance(model_field, models.Field), field  # a column, never a reverse relation
    return model_field.null, model_field.get_default


def _container(resource_type: ResourceType, schema, doc: dict) -> dict:
    if schema.id in (resource_type.schema.id, "common"):
        return doc
    return doc.get(schema.id) or {}


def fields_from_document(
    resource_type: ResourceType,
    doc: dict,
    *,
    replace: bool,
    current: dict | None = None,
    complete: bool = False,
) -> dict[str, Any]:
    """Model field values for the attributes in ``doc``. With ``replace``, stored attributes that
    ``doc`` omits are cleared (see the module docstring for the exceptions). ``current`` and
    ``complete``: for a type with tenant-defined extensions, see ``extensions_from_document``."""
    fields: dict[str, Any] = {}
    if resource_type.tenant_schemas or resource_type.retained:
        fields[EXTENSIONS_FIELD] = extensions_from_document(resource_type, doc, current or {}, complete)
    binding = binding_of(resource_type)
    model = binding.model
    for schema, attribute in _stored(resource_type):
        if attribute.read_only:
            continue
        container = _container(resource_type, schema, doc)
        value = container.get(attribute.name)
        if attribute.field:
            if value is not None:
                fields[attribute.field] = value
            elif replace and attribute.field not in binding.kept_when_omitted:
                fields[attribute.field] = _empty(model, attribute.field)
            continue
        if value is not None and binding.reference(attribute) and "value" not in value and value.get("$ref"):
            # A reference given by its location alone: the id is its last segment.
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


def extensions_from_document(
    resource_type: ResourceType, doc: dict, current: dict, complete: bool = False
) -> dict[str, Any]:
    """The ``extensions`` column of a resource that ``doc`` replaces (a PATCH's result, or a
    POST's or PUT's body), given the column's ``current`` value: each tenant-defined extension's
    attributes as ``doc`` has them, except that what a client cannot write or read back is kept
    (readOnly: set by the host application; writeOnly: never returned, so never echoed), and the
    values of removed attributes are kept until purged (``ResourceType.retained``); so is what it
    never returns (returned never), which a client cannot echo back. An immutable
    attribute, once assigned, may not change (RFC 7643 section 2.2): 400 mutability. ``complete``:
    ``doc`` is a PATCH's result, worked from the resource with every value it holds
    (``document_from_instance(..., complete=True)``), so what it lacks was removed: only readOnly
    values are kept, and an immutable one removed is refused."""
    out: dict[str, Any] = {}
    for schema in resource_type.tenant_schemas:
        given = doc.get(schema.id) or {}
        held = _object(current.get(schema.id))
        values: dict[str, Any] = {}
        for attribute in schema.attributes:
            value, before = given.get(attribute.name), held.get(attribute.name)
            if attribute.read_only or (value is None and not complete and _kept_when_omitted(attribute)):
                value = before
            elif attribute.mutability == "immutable" and before is not None and value != before:
                raise Mutability(
                    f'"{schema.id}:{attribute.name}" is immutable: it cannot change once set '
                    "(RFC 7644 section 3.5.1)."
                )
            if value is not None:
                values[attribute.name] = value
        if values:
            out[schema.id] = values
    for urn, names in resource_type.retained.items():
        held = _object(current.get(urn))
        kept = {name: value for name, value in held.items() if name in names}
        if kept:
            out.setdefault(urn, {}).update(kept)
    return out


def _kept_when_omitted(attribute: Attribute) -> bool:
    """Whether a document without the attribute leaves it as it is: a client never sees it
    (writeOnly, returned never), so it cannot echo it; or it may not change (immutable)."""
    return attribute.mutability in ("writeOnly", "immutable") or attribute.returned == "never"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def document_from_instance(
    resource_type: ResourceType,
    instance: Any,
    *,
    json_text: Callable[[str], Any] = orjson.loads,
    complete: bool = False,
) -> dict[str, Any]:
    """The stored attributes of ``instance`` (a model instance, or a row of ``directory.db.rows``)
    as a canonical document (no id, meta or derived attributes); unassigned values are left out.
    A multi-valued attribute a row carries as JSON text becomes ``json_text(text)``: its value, or
    an ``orjson.Fragment`` that a response embeds as it is. ``complete``: with the tenant-defined
    extensions' values that are never returned too (what a PATCH is applied to)."""
    reader = _reader(resource_type)
    values = reader.values(instance)
    doc: dict[str, Any] = {}
    for container, name, index, subs in reader.plan:
        if subs:  # a singular complex attribute stored in columns (name, manager)
            value = {sub: _text(values[i]) for sub, i in subs if values[i] not in ("", None)} or None
        else:
            value = values[index]
            if value.__class__ is str and index in reader.json:
                value = None if value == "[]" else json_text(value)
            elif value in ("", None, []):
                continue
        if value is None:
            continue
        if container is None:
            doc[name] = value
        else:
            doc.setdefault(container, {})[name] = value
    if reader.extensions is not None:
        stored = values[reader.extensions]
        stored = orjson.loads(stored) if isinstance(stored, str) else stored
        plan = reader.complete_plan if complete else reader.extension_plan
        for urn, names in plan:
            held = stored.get(urn) if stored else None
            if not isinstance(held, dict):
                continue
            shown = {name: held[name] for name in names if held.get(name) is not None}
            if shown:
                doc[urn] = shown
    return doc


def extensions_of(instance: Any) -> dict[str, Any]:
    """The ``extensions`` column of an instance or row, decoded."""
    stored = getattr(instance, EXTENSIONS_FIELD, None)
    stored = orjson.loads(stored) if isinstance(stored, str) else stored
    return stored if isinstance(stored, dict) else {}


def stored_fields(resource_type: ResourceType) -> tuple[str, ...]:
    """The model fields ``document_from_instance`` reads, in its order."""
    return _reader(resource_type).fields


def _text(value: Any) -> Any:
    return str(value) if hasattr(value, "hex") else value  # a UUID (manager.value)


class _Reader:
    """What ``document_from_instance`` reads for one resource type: its fields, read all at once
    (``values``), and per shown attribute ``(extension URN or None, name, index of its field, ((sub
    name, index), ...) for a complex one)``; ``json``: indexes of fields holding JSON lists;
    ``extensions``: the index of the ``extensions`` field when the type has tenant-defined
    extensions, whose shown attributes ``extension_plan`` lists as ``(URN, names)``."""

    def __init__(
        self,
        fields: tuple[str, ...],
        plan: tuple,
        json: frozenset[int],
        extension_plan: tuple[tuple[str, tuple[str, ...]], ...] = (),
        complete_plan: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> None:
        if extension_plan:
            fields = (*fields, EXTENSIONS_FIELD)
        self.fields, self.plan, self.json = fields, plan, json
        self.extensions = len(fields) - 1 if extension_plan else None
        self.extension_plan = extension_plan
        self.complete_plan = complete_plan or extension_plan
        getter = attrgetter(*fields)
        self.values: Callable[[Any], tuple] = getter if len(fields) > 1 else lambda i: (getter(i),)


def _reader(resource_type: ResourceType) -> _Reader:
    """Per resource type (kept with it): every stored attribute a document shows (not ``returned:
    never``, not ``id``)."""
    found = resource_type.memo.get("reader")
    if found is None:
        core = (resource_type.schema.id, "common")
        fields: list[str] = []
        plan: list[tuple[str | None, str, int, tuple[tuple[str, int], ...]]] = []
        json: set[int] = set()
        for schema, attribute in _stored(resource_type):
            if attribute.returned == "never" or attribute.name == "id":
                continue
            container = None if schema.id in core else schema.id
            if attribute.field:
                if attribute.multi_valued:
                    json.add(len(fields))
                plan.append((container, attribute.name, len(fields), ()))
                fields.append(attribute.field)
                continue
            subs = []
            for sub in attribute.sub_attributes:
                if sub.field:
                    subs.append((sub.name, len(fields)))
                    fields.append(sub.field)
            plan.append((container, attribute.name, -1, tuple(subs)))
        extension_plan = tuple(
            (schema.id, tuple(a.name for a in schema.attributes if a.returned != "never"))
            for schema in resource_type.tenant_schemas
        )
        complete_plan = tuple(
            (schema.id, tuple(a.name for a in schema.attributes)) for schema in resource_type.tenant_schemas
        )
        found = resource_type.memo["reader"] = _Reader(
            tuple(fields), tuple(plan), frozenset(json), extension_plan, complete_plan
        )
    return found
