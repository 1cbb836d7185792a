"""PATCH (RFC 7644 section 3.5.2): operations applied to a resource's canonical document.

The engine is pure: it takes the current document and returns the new one; the caller turns
that into a service call, which writes only what changed. A group's ``members`` never enter the
document: operations on them become member changes (``MemberChanges``) that the group service
applies as set operations, so a PATCH never reads a large group's member list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from scim2_models import Path as ScimPath
from scim2_models.exceptions import InvalidPathException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from directory.identifiers import key_function
from directory.models import casefold_key
from scim_api.bindings import Members, binding_of
from scim_api.documents import (
    normalize_attributes,
    normalize_schema_attributes,
    normalize_single,
    normalize_value,
    resolve_unqualified,
    undeclared,
)
from scim_api.errors import InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from scim_api.schema import PATCH_OP, AttributePath, ResourceType

MAX_OPERATIONS = 1000
OPS = {"add", "remove", "replace"}


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
    filter: FilterNode | None


def _target(resource_type: ResourceType, raw: str) -> _Target:
    """Parse a PATCH path with scim2-models' grammar (RFC 7644 section 3.5.2, errata 7122):
    ``attr``, ``attr.sub``, ``urn:...:attr``, ``attr[filter]``, ``attr[filter].sub``, or the
    filter-only form ``emails.type eq "work"`` (read as ``emails[type eq "work"]``)."""
    try:
        node = ScimPath(raw).ast
    except (InvalidPathException, ValueError) as error:
        raise InvalidPath(
            f"{raw!r} is not a valid attribute path: {getattr(error, 'detail', error)}."
        ) from None
    assert node is not None, raw  # None only for the empty path, the resource root
    value_filter, sub_name = None, None
    if isinstance(node, ValuePath):
        attr_path, value_filter, sub_name = node.attr_path, node.val_filter, node.sub_attr
    elif isinstance(node, Comparison | Present):
        attr_path = AttrPath(node.attr_path.attr, None, node.attr_path.uri)
        inner = AttrPath(node.attr_path.sub_attr or "value")
        value_filter = (
            Comparison(inner, node.op, node.value) if isinstance(node, Comparison) else Present(inner)
        )
    else:
        attr_path, sub_name = node, node.sub_attr
    name = (
        (f"{attr_path.uri}:" if attr_path.uri else "") + attr_path.attr + (f".{sub_name}" if sub_name else "")
    )
    path = resource_type.resolve(name) or resolve_unqualified(resource_type, name)
    if path is None:
        raise InvalidPath(f"{raw!r} names no attribute of {resource_type.name}.")
    if value_filter is not None and not path.attribute.multi_valued:
        raise InvalidPath(f"{raw!r}: a value filter needs a multi-valued attribute.")
    if value_filter is not None:
        _check_filter(path.attribute, value_filter)
    return _Target(path, value_filter)


def _check_filter(attribute, node: FilterNode) -> None:
    """Every attribute a value filter names is a sub-attribute, checked up front: matching only
    visits what the elements present make it visit, so on an attribute without values
    ``emails[noSuch eq "x"]`` would otherwise be a silent no-op (remove) or a noTarget (replace)
    instead of invalidPath (RFC 7644 section 3.12)."""
    if isinstance(node, LogicalExpr):
        for term in node.terms:
            _check_filter(attribute, term)
    elif isinstance(node, Not):
        _check_filter(attribute, node.expr)
    elif isinstance(node, Comparison | Present):
        ElementMatcher(attribute, {})._sub(node.attr_path)
    else:
        raise InvalidPath("Value filters cannot be nested.")


class ElementMatcher(FilterVisitor[bool]):
    """Whether one element of a multi-valued attribute (a dict) matches a value filter, comparing
    as the registry says: casefolded where caseExact is false (an email's value by its identifier
    key, as filters compare it: ``directory.identifiers``)."""

    def __init__(self, attribute, element: dict):
        self.attribute, self.element = attribute, element

    def _sub(self, attr_path: AttrPath):
        sub = self.attribute.sub(attr_path.attr) if not (attr_path.uri or attr_path.sub_attr) else None
        if sub is None:
            raise InvalidPath(f"{attr_path} is not a sub-attribute of {self.attribute.name}.")
        return sub

    def visit_logical_expr(self, node: LogicalExpr) -> bool:
        results = (self.visit(term) for term in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)

    def visit_not(self, node: Not) -> bool:
        return not self.visit(node.expr)

    def visit_value_path(self, node: ValuePath) -> bool:
        raise InvalidPath("Value filters cannot be nested.")

    def visit_present(self, node: Present) -> bool:
        return self.element.get(self._sub(node.attr_path).name) not in (None, "", [])

    def visit_comparison(self, node: Comparison) -> bool:
        sub = self._sub(node.attr_path)
        actual, expected = self.element.get(sub.name), node.value
        if sub.name == "primary" and actual is None:
            actual = False  # an element without "primary" is not the primary one
        if isinstance(actual, str) and isinstance(expected, str) and not sub.case_exact:
            fold = _fold(self.attribute, sub)
            actual, expected = fold(actual), fold(expected)
        op = node.op
        if actual is None or expected is None:
            same = actual is None and expected is None
            return same if op == CompareOperator.eq else (not same if op == CompareOperator.ne else False)
        try:
            return {
                CompareOperator.eq: lambda: actual == expected,
                CompareOperator.ne: lambda: actual != expected,
                CompareOperator.co: lambda: isinstance(actual, str) and expected in actual,
                CompareOperator.sw: lambda: isinstance(actual, str) and actual.startswith(expected),
                CompareOperator.ew: lambda: isinstance(actual, str) and actual.endswith(expected),
                CompareOperator.gt: lambda: actual > expected,
                CompareOperator.ge: lambda: actual >= expected,
                CompareOperator.lt: lambda: actual < expected,
                CompareOperator.le: lambda: actual <= expected,
            }[op]()
        except TypeError:
            return False


def _selector_values(node: FilterNode) -> dict:
    """The sub-attribute values a filter pins with ``eq`` joined by ``and``: what an element
    created through ``add emails[type eq "work"].value`` gets besides the added value."""
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and node.value is not None:
        return {node.attr_path.attr: node.value}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        pinned: dict = {}
        for term in node.terms:
            pinned |= _selector_values(term)
        return pinned
    return {}


def apply_operations(
    resource_type: ResourceType,
    doc: dict[str, Any],
    operations: list[Operation],
    ignored: list[str] | None = None,
) -> tuple[dict[str, Any], MemberChanges]:
    """The document after the operations, and the member changes they ask for; ``doc`` itself is
    left as it was (a deep copy, made the fast way a JSON document allows). Operations on
    extensions the tenant has not declared are skipped and appended to ``ignored``
    (``documents.undeclared``: refused instead when the tenant is strict)."""
    doc = orjson.loads(orjson.dumps(doc))
    members = MemberChanges()
    for index, operation in enumerate(operations):
        label = f"Operations[{index}]"
        if operation.path is None:
            _apply_pathless(resource_type, doc, operation, members, label, ignored)
        else:
            _apply_path(resource_type, doc, operation, members, label, ignored)
    return doc, members


def _container(doc: dict, path: AttributePath, create: bool) -> dict | None:
    if not path.in_extension:
        return doc
    if create:
        return doc.setdefault(path.schema.id, {})
    return doc.get(path.schema.id)


def _apply_pathless(
    resource_type, doc, operation: Operation, members: MemberChanges, label: str, ignored: list[str] | None
) -> None:
    if operation.op == "remove":
        raise NoTarget(f"{label}: remove needs a path.")
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{label}: without a path, value must be an object of attributes.")
    value = dict(operation.value)
    members_of = binding_of(resource_type).derived
    member_key = next((k for k in value if isinstance(members_of.get(k.lower()), Members)), None)
    if member_key is not None:
        _member_op(operation.op, None, value.pop(member_key), members, label)
    for key in [k for k in value if k.lower() == "schemas"]:
        value.pop(key)
    for key in [k for k in value if "." in k.rsplit(":", 1)[-1]]:
        # Entra keys path-less values by path: {"name.givenName": ..., "urn:...:User:manager.value": ...}
        _apply_path(resource_type, doc, Operation(operation.op, key, value.pop(key)), members, label, ignored)
    for attribute_name, new in normalize_attributes(resource_type, value, ignored).items():
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
            value = _without(attribute, value, container.get(name) or [])
            value = (container.get(name) or []) + value
        container[name] = _one_primary(value)
    elif attribute.type == "complex":
        merged = dict(container.get(name) or {})
        merged.update(value)
        container[name] = merged
    else:
        container[name] = value


def _comparable(attribute, item):
    """An element as the schema compares values: strings of sub-attributes that are not caseExact
    casefolded (RFC 7643 section 2.4), so ``BABS@Jensen.org`` is the email ``babs@jensen.org``."""
    if not isinstance(item, dict):
        return item.casefold() if isinstance(item, str) and not attribute.case_exact else item
    out = {}
    for key, value in item.items():
        sub = attribute.sub(key)
        folded = isinstance(value, str) and sub is not None and not sub.case_exact
        out[key] = _fold(attribute, sub)(value) if folded else value
    return out


def _fold(attribute, sub):
    """How a caseExact-false sub-attribute's values compare: a value as filters compare it."""
    return key_function(attribute.field or "") if sub.name == "value" else casefold_key


def _without(attribute, items: list, present: list) -> list:
    """``items`` less those equal to a value in ``present`` or earlier in ``items``: an add of a
    value the attribute already holds changes nothing (RFC 7644 section 3.5.2.1)."""
    seen = [_comparable(attribute, item) for item in present]
    kept = []
    for item in items:
        key = _comparable(attribute, item)
        if key not in seen:
            seen.append(key)
            kept.append(item)
    return kept


def _one_primary(items: list, written: frozenset[int] | set[int] = frozenset()) -> list:
    """A value newly marked primary clears primary on the others (RFC 7644 section 3.5.2). The
    newly marked one is among the elements the operation ``written`` if it names any (a filtered
    replace such as RFC 7644 3.5.2.3's ``addresses[type eq "work"]`` with ``"primary": true`` may
    hit an element before the current primary), otherwise the last (an add appends)."""
    primaries = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("primary") is True]
    if len(primaries) > 1:
        keep = ([i for i in primaries if i in written] or primaries)[-1]
        items = [
            ({**item, "primary": False} if i in primaries and i != keep else item)
            for i, item in enumerate(items)
        ]
    return items


def _apply_path(
    resource_type, doc, operation: Operation, members: MemberChanges, label: str, ignored: list[str] | None
) -> None:
    assert operation.path is not None  # path-less operations are _apply_pathless's
    extension = resource_type.extension(operation.path)
    if extension is not None:
        _apply_extension(resource_type, doc, extension, operation, label, ignored)
        return
    if _undeclared(resource_type, operation.path):
        undeclared(resource_type, operation.path, f'{label}: "{operation.path}" names an extension', ignored)
        return
    target = _target(resource_type, operation.path)
    path, attribute = target.path, target.path.attribute
    if binding_of(resource_type).members(attribute):
        _member_op(operation.op, target, operation.value, members, label)
        return
    if attribute.read_only or (path.sub_attribute and path.sub_attribute.read_only):
        raise Mutability(f"{label}: {path} is read-only.")
    container = _container(doc, path, create=operation.op != "remove")
    if target.filter is not None:
        _apply_filtered(container, target, operation, label)
        return
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
    assert container is not None  # _container creates it for add and replace
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


def _apply_filtered(container: dict | None, target: _Target, operation: Operation, label: str) -> None:
    """An operation through a value filter, e.g. ``emails[type eq "work"].value``: it applies to
    the matching elements. ``add`` that matches none creates the element, with the values the
    filter pins (Microsoft Entra ID relies on it); ``replace`` that matches none is noTarget;
    ``remove`` that matches none changes nothing."""
    assert target.filter is not None  # the paths with a value filter come here
    attribute, sub = target.path.attribute, target.path.sub_attribute
    items = list((container or {}).get(attribute.name) or [])
    matched = [i for i, item in enumerate(items) if ElementMatcher(attribute, item).visit(target.filter)]
    if operation.op == "remove":
        if sub is None:
            items = [item for i, item in enumerate(items) if i not in matched]
        else:
            for i in matched:
                items[i] = {k: v for k, v in items[i].items() if k != sub.name}
    else:
        if sub is not None:
            new = normalize_single(sub, operation.value, f"{label}.value")
            update = {sub.name: new}
        else:
            new = normalize_single(attribute, operation.value, f"{label}.value")
            update = new or {}
        if not matched:
            if operation.op == "replace":
                raise NoTarget(f"{label}: no value of {attribute.name} matches [{target.filter}].")
            pinned = normalize_single(attribute, _selector_values(target.filter), label) or {}
            items.append({**pinned, **update})
            matched = [len(items) - 1]  # the element created is the one written
        for i in matched:
            items[i] = update if (operation.op == "replace" and sub is None) else {**items[i], **update}
        items = [{k: v for k, v in item.items() if v is not None} for item in items]
    written = set(matched) if operation.op != "remove" else set()
    if container is not None:
        container[attribute.name] = [item for item in _one_primary(items, written) if item]


def _undeclared(resource_type: ResourceType, path: str) -> bool:
    """Whether a PATCH path names an extension schema the tenant has not declared, or an attribute
    it removed from one it has (``ResourceType.retained``)."""
    lowered = path.lower()
    if not lowered.startswith("urn:"):
        return False
    for schema in resource_type.schemas:
        urn = schema.id.lower()
        if lowered.startswith(urn + ":"):
            name = re.split(r"[.\[]", path[len(urn) + 1 :], maxsplit=1)[0].lower()
            removed = resource_type.retained.get(schema.id, frozenset())
            return name in {n.lower() for n in removed}
    return True


def _apply_extension(
    resource_type, doc, extension, operation: Operation, label: str, ignored: list[str] | None
) -> None:
    """A path that is a whole extension schema URN: its value is an object of that schema's
    attributes, as a path-less operation would nest them under the URN."""
    if operation.op == "remove":
        doc.pop(extension.id, None)
        return
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{label}: the value for {extension.id} must be an object of its attributes.")
    new = normalize_schema_attributes(
        extension, operation.value, prefix=f"{extension.id}:", retained=(resource_type, ignored)
    )
    target = doc.setdefault(extension.id, {}) if operation.op == "add" else {}
    for name, value in new.items():
        _set(target, extension.attribute(name), value, operation.op)
    doc[extension.id] = target
    if not target:
        doc.pop(extension.id, None)


def _remove_values(container, attribute, value, label: str) -> None:
    """remove with a value list instead of a filter (Entra sends it): drop the equal elements,
    compared as the schema says (``_comparable``)."""
    unwanted = [_comparable(attribute, item) for item in normalize_value(attribute, value, label) or []]
    if container is None:
        return
    container[attribute.name] = [
        item for item in container.get(attribute.name) or [] if _comparable(attribute, item) not in unwanted
    ]


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
        ids = _member_ids(target.filter)
        if ids is None:
            raise InvalidPath(f'{label}: a members filter must be value eq "<id>", optionally joined by or.')
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


def _member_ids(node: FilterNode) -> list[str] | None:
    """The ids of ``value eq "a" or value eq "b"``; None for any other filter."""
    terms = node.terms if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_ else (node,)
    ids = []
    for term in terms:
        if not (
            isinstance(term, Comparison)
            and term.op == CompareOperator.eq
            and term.attr_path.attr.lower() == "value"
            and isinstance(term.value, str)
        ):
            return None
        ids.append(term.value)
    return ids
