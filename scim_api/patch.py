"""PATCH (RFC 7644 section 3.5.2): operations applied to a resource's canonical document.

The engine is pure: it takes the current document and returns the new one; the caller turns
that into a service call, which writes only what changed. A group's ``members`` never enter the
document: operations on them become member changes (``MemberChanges``) that the group service
applies as set operations, so a PATCH never reads a large group's member list.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from scim_api.documents import (
    normalize_attributes,
    normalize_schema_attributes,
    normalize_single,
    normalize_value,
)
from scim_api.errors import InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from scim_api.schema import PATCH_OP, AttributePath, ResourceType

MAX_OPERATIONS = 1000
OPS = {"add", "remove", "replace"}
_PATH = re.compile(r"^(?P<attr>[^\[\]]+?)(?:\[(?P<filter>[^\[\]]*)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$")
_MEMBER_FILTER = re.compile(r'^\s*value\s+eq\s+"(?P<id>[^"]*)"\s*$', re.IGNORECASE)


@dataclass
class Operation:
    op: str
    path: str | None
    value: Any


@dataclass
class MemberChanges:
    """The net effect of a request's member operations, in order: after a replace, the whole
    list (``replace``); otherwise what to add and what to remove, each id in at most one."""

    add: dict = field(default_factory=dict)
    remove: dict = field(default_factory=dict)
    replace: dict | None = None

    def __bool__(self) -> bool:
        return bool(self.add or self.remove or self.replace is not None)

    def added(self, refs: list[dict]) -> None:
        for ref in refs:
            if self.replace is not None:
                self.replace[ref["value"]] = ref
            else:
                self.remove.pop(ref["value"], None)
                self.add[ref["value"]] = ref

    def removed(self, refs: list[dict]) -> None:
        for ref in refs:
            if self.replace is not None:
                self.replace.pop(ref["value"], None)
            else:
                self.add.pop(ref["value"], None)
                self.remove[ref["value"]] = ref

    def replaced(self, refs: list[dict]) -> None:
        self.add, self.remove, self.replace = {}, {}, {ref["value"]: ref for ref in refs}


def parse_operations(body: Any) -> list[Operation]:
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH request must be a JSON object with Operations.")
    schemas = next((v for k, v in body.items() if k.lower() == "schemas"), [PATCH_OP])
    if not isinstance(schemas, list) or PATCH_OP.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidValue(f'"schemas" must be ["{PATCH_OP}"].')
    raw = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntax('"Operations" must be a non-empty list.')
    if len(raw) > MAX_OPERATIONS:
        raise InvalidValue(f"A PATCH may carry at most {MAX_OPERATIONS} operations; this one has {len(raw)}.")
    operations = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSyntax(f"Operations[{index}] must be an object.")
        lowered = {k.lower(): v for k, v in item.items()}
        op = lowered.get("op")
        if not isinstance(op, str) or op.lower() not in OPS:
            raise InvalidSyntax(f'Operations[{index}].op must be "add", "remove" or "replace", not {op!r}.')
        path = lowered.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise InvalidPath(f"Operations[{index}].path must be a non-empty string.")
        operations.append(Operation(op.lower(), path.strip() if path else None, lowered.get("value")))
    return operations


@dataclass
class _Target:
    path: AttributePath
    filter: str | None


def _target(resource_type: ResourceType, raw: str) -> _Target:
    match = _PATH.match(raw)
    if not match:
        raise InvalidPath(f"{raw!r} is not a valid attribute path.")
    attr, value_filter, sub = match.group("attr"), match.group("filter"), match.group("sub")
    path = resource_type.resolve(attr if not sub else f"{attr}.{sub}")
    if path is None:
        path = resource_type.resolve(attr)
        if path is None or sub:
            raise InvalidPath(f"{raw!r} names no attribute of {resource_type.name}.")
    if value_filter is not None and not path.attribute.multi_valued:
        raise InvalidPath(f"{raw!r}: a value filter needs a multi-valued attribute.")
    return _Target(path, value_filter)


def apply_operations(
    resource_type: ResourceType, doc: dict[str, Any], operations: list[Operation]
) -> tuple[dict[str, Any], MemberChanges]:
    """The document after the operations, and the member changes they ask for."""
    doc = copy.deepcopy(doc)
    members = MemberChanges()
    for index, operation in enumerate(operations):
        label = f"Operations[{index}]"
        if operation.path is None:
            _apply_pathless(resource_type, doc, operation, members, label)
        else:
            _apply_path(resource_type, doc, operation, members, label)
    return doc, members


def _container(doc: dict, path: AttributePath, create: bool) -> dict | None:
    if not path.in_extension:
        return doc
    if create:
        return doc.setdefault(path.schema.id, {})
    return doc.get(path.schema.id)


def _apply_pathless(resource_type, doc, operation: Operation, members: MemberChanges, label: str) -> None:
    if operation.op == "remove":
        raise NoTarget(f"{label}: remove needs a path.")
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{label}: without a path, value must be an object of attributes.")
    value = dict(operation.value)
    member_key = next((k for k in value if k.lower() == "members"), None)
    if member_key is not None and resource_type.name == "Group":
        _member_op(operation.op, None, value.pop(member_key), members, label)
    for key in [k for k in value if k.lower() == "schemas"]:
        value.pop(key)
    for attribute_name, new in normalize_attributes(resource_type, value).items():
        extension = resource_type.extension(attribute_name)
        if extension is not None:
            target = doc.setdefault(extension.id, {})
            for name, sub_value in new.items():
                _set(target, extension.attribute(name), sub_value, operation.op)
            continue
        path = resource_type.resolve(attribute_name)
        _set(doc, path.attribute, new, operation.op)


def _set(container: dict, attribute, value, op: str) -> None:
    """add/replace of a whole attribute: add appends to multi-valued and merges complex values."""
    name = attribute.name
    if attribute.multi_valued:
        if op == "add":
            existing = container.get(name) or []
            value = existing + [item for item in value if item not in existing]
        container[name] = _one_primary(value)
    elif attribute.type == "complex":
        merged = dict(container.get(name) or {})
        merged.update(value)
        container[name] = merged
    else:
        container[name] = value


def _one_primary(items: list) -> list:
    """A value newly marked primary clears primary on the others (RFC 7644 section 3.5.2)."""
    primaries = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("primary") is True]
    if len(primaries) > 1:
        keep = primaries[-1]
        items = [
            ({**item, "primary": False} if i in primaries and i != keep else item)
            for i, item in enumerate(items)
        ]
    return items


def _apply_path(resource_type, doc, operation: Operation, members: MemberChanges, label: str) -> None:
    extension = resource_type.extension(operation.path)
    if extension is not None:
        _apply_extension(doc, extension, operation, label)
        return
    target = _target(resource_type, operation.path)
    path, attribute = target.path, target.path.attribute
    if resource_type.name == "Group" and attribute.name == "members":
        _member_op(operation.op, target, operation.value, members, label)
        return
    if attribute.read_only or (path.sub_attribute and path.sub_attribute.read_only):
        raise Mutability(f"{label}: {path} is read-only.")
    if target.filter is not None:
        raise InvalidPath(f"{label}: value filters in paths are not supported yet for {path}.")
    container = _container(doc, path, create=operation.op != "remove")
    if operation.op == "remove":
        if operation.value is not None and attribute.multi_valued and path.sub_attribute is None:
            _remove_values(container, attribute, operation.value, label)
            return
        if attribute.required and path.sub_attribute is None:
            raise Mutability(f"{label}: {path} is required and cannot be removed.")
        if container is None:
            return
        if path.sub_attribute is None:
            container.pop(attribute.name, None)
        elif attribute.multi_valued:
            for item in container.get(attribute.name) or []:
                item.pop(path.sub_attribute.name, None)
        elif isinstance(container.get(attribute.name), dict):
            container[attribute.name].pop(path.sub_attribute.name, None)
        return
    if path.sub_attribute is None:
        new = normalize_value(attribute, operation.value, str(path))
        if new is None:
            if operation.op == "replace":
                container.pop(attribute.name, None)
            return
        _set(container, attribute, new, operation.op)
        return
    sub = path.sub_attribute
    new = normalize_single(sub, operation.value, str(path))
    if attribute.multi_valued:
        items = container.get(attribute.name) or []
        if not items:
            raise NoTarget(f"{label}: {attribute.name} has no values whose {sub.name} could be set.")
        for item in items:
            if new is None:
                item.pop(sub.name, None)
            else:
                item[sub.name] = new
        if sub.name == "primary":
            container[attribute.name] = _one_primary(items)
        return
    current = dict(container.get(attribute.name) or {})
    if new is None:
        current.pop(sub.name, None)
    else:
        current[sub.name] = new
    container[attribute.name] = current


def _apply_extension(doc, extension, operation: Operation, label: str) -> None:
    """A path that is a whole extension schema URN: its value is an object of that schema's
    attributes, as a path-less operation would nest them under the URN."""
    if operation.op == "remove":
        doc.pop(extension.id, None)
        return
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{label}: the value for {extension.id} must be an object of its attributes.")
    new = normalize_schema_attributes(extension, operation.value, prefix=f"{extension.id}:")
    target = doc.setdefault(extension.id, {}) if operation.op == "add" else {}
    for name, value in new.items():
        _set(target, extension.attribute(name), value, operation.op)
    doc[extension.id] = target
    if not target:
        doc.pop(extension.id, None)


def _remove_values(container, attribute, value, label: str) -> None:
    """remove with a value list instead of a filter (Entra sends it): drop the equal elements."""
    unwanted = normalize_value(attribute, value, label) or []
    if container is None:
        return
    container[attribute.name] = [item for item in container.get(attribute.name) or [] if item not in unwanted]


def member_refs(value, label: str) -> list[dict]:
    """Member values as ``{"value": id, "type": ...}``, from a list or a lone object."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidValue(f'{label}: members must be a list of {{"value": "<id>"}} objects.')
    refs = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidValue(f'{label}: each member must be an object like {{"value": "<id>"}}.')
        lowered = {k.lower(): v for k, v in item.items()}
        member_id = lowered.get("value")
        if not isinstance(member_id, str) or not member_id:
            raise InvalidValue(f'{label}: each member needs a "value" holding its id.')
        member_type = lowered.get("type")
        refs.append({"value": member_id, "type": member_type if isinstance(member_type, str) else None})
    return refs


def _member_op(op: str, target: _Target | None, value, members: MemberChanges, label: str) -> None:
    sub = target.path.sub_attribute if target else None
    if sub is not None:
        raise Mutability(f"{label}: members.{sub.name} cannot be changed; remove and add the member instead.")
    if target is not None and target.filter is not None:
        if op != "remove":
            raise InvalidPath(
                f"{label}: {op} through a members filter is not supported; add the member by value."
            )
        ids = [m.group("id") for m in map(_MEMBER_FILTER.match, _split_or(target.filter)) if m]
        if not ids or len(ids) != len(_split_or(target.filter)):
            raise InvalidPath(f'{label}: members filters must be value eq "<id>" (joined by or).')
        members.removed([{"value": i, "type": None} for i in ids])
        return
    if op == "remove":
        if value is None:
            members.replaced([])
        else:
            members.removed(member_refs(value, label))
        return
    refs = member_refs(value or [], label)
    if op == "replace":
        members.replaced(refs)
    else:
        members.added(refs)


def _split_or(text: str) -> list[str]:
    return re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE)
