"""SCIM filters (RFC 7644 section 3.4.2.2) compiled to Django ``Q`` objects.

Parsing is scim2-models' lark grammar (``ScimFilter``); this module only walks its tree
(``FilterVisitor``) and maps each comparison onto the storage the schema registry names:

- singular attributes are columns; case-insensitive ones with a ``*_key`` column compare the
  value's key against it (indexed; userName's and emails.value's are identifier keys, RFC 8265,
  ``directory.identifiers.lookup_key``: a look-alike of a name finds that user), others use the
  database's case-insensitive lookups;
- elements of multi-valued attributes are rows of the binding's values table (``UserValue``),
  matched with ``EXISTS``; a value filter ``emails[type eq "work" and value co "@x"]`` is one
  ``EXISTS`` whose conditions all hold for the same element;
- derived attributes are what their binding's resolver says (``scim_api.bindings``): ``groups``
  (a user's, direct or through nesting) and ``members`` (a group's) are memberships, ``manager``
  a foreign key, ``meta`` and ``id`` columns.

A filter that names an unknown attribute, compares a type with an operator that does not fit it,
or is too large is refused with ``invalidFilter``; nothing is ever treated as "match all".
"""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Left, Lower, Right, StrIndex
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.db.models.sql import Query
from scim2_models.exceptions import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ScimFilter,
    ValuePath,
)

from directory.db.functions import CaseFold
from directory.extension_values import number as extension_number
from directory.identifiers import key_function, parse_id
from directory.models import casefold_key
from directory.selectors import group_descendants
from scim_api.bindings import Binding, Identity, MemberOf, Members, Metadata, Reference, binding_of
from scim_api.errors import InvalidFilter
from scim_api.etags import NO_VERSION, is_version_tag, version_of
from scim_api.schema import Attribute, AttributePath, ResourceType

MAX_FILTER_LENGTH = 4096
MAX_NODES = 64
MAX_VALUE_LENGTH = 1024
_SURROGATE = re.compile("[\ud800-\udfff]")

ORDERING = {CompareOperator.gt, CompareOperator.ge, CompareOperator.lt, CompareOperator.le}
SUBSTRING = {CompareOperator.co, CompareOperator.sw, CompareOperator.ew}
EQUALITY = {CompareOperator.eq, CompareOperator.ne}
_LOOKUP = {
    CompareOperator.eq: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}
_ORDERING_LOOKUPS = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
_LOOKUPS = {
    "exact": Exact,
    "contains": Contains,
    "startswith": StartsWith,
    "endswith": EndsWith,
    **_ORDERING_LOOKUPS,
}
_INSENSITIVE = {
    "exact": "iexact",
    "contains": "icontains",
    "startswith": "istartswith",
    "endswith": "iendswith",
}
# Conditions that always / never hold. Not ``Q()``: Django drops an empty Q from ``a | Q()``
# (leaving ``a``), and ``~Q()`` filters nothing, so ``not (id pr)`` would match everything.
MATCH_ALL = Q(pk__isnull=False)
MATCH_NONE = Q(pk__in=[])


def compile_filter(resource_type: ResourceType, text: str) -> Q:
    """The ``Q`` that selects the resources ``text`` matches."""
    return QueryCompiler(resource_type).visit(_parse(text))


# Filtered queries kept by (model, tenant, resource type, filter text): parsing a filter and
# resolving it into the query's WHERE clause costs more than PostgreSQL takes to run a page of it,
# and clients repeat their searches. Bounded: the texts come from clients.
_FILTERED: OrderedDict[tuple, Query] = OrderedDict()
FILTERED_KEPT = 256


def filtered(resource_type: ResourceType, text: str, *, tenant, queryset: QuerySet) -> QuerySet:
    """``queryset.filter(compile_filter(resource_type, text))``, where ``queryset`` is the
    tenant's resources of that type; the resolved query is kept for the next request with the
    same text, unless compiling it read data (the groups nested in a group ``groups.value``
    names), which a later write could change."""
    key = (resource_type.key, tenant.pk, text)
    kept = _FILTERED.get(key)
    if kept is not None:
        _FILTERED.move_to_end(key)
        return QuerySet(model=queryset.model, query=kept.chain(), using=queryset.db)
    compiler = QueryCompiler(resource_type)
    result = queryset.filter(compiler.visit(_parse(text)))
    if not compiler.reads_data:
        _FILTERED[key] = result.query.chain()
        if len(_FILTERED) > FILTERED_KEPT:
            _FILTERED.popitem(last=False)
    return result


def _parse(text: str):
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}.")
    try:
        tree = ScimFilter(text).ast
    except InvalidFilterException as error:
        tree = _bare_word_comparison(text)
        if tree is None:
            raise InvalidFilter(f"The filter {text!r} is not valid: {error.detail}.") from None
    nodes = _count(tree)
    if nodes > MAX_NODES:
        raise InvalidFilter(f"The filter has {nodes} expressions; the limit is {MAX_NODES}.")
    return tree


def column_equality(resource_type: ResourceType, text: str) -> tuple[str, str] | None:
    """``(column, value)`` when ``text`` is a single ``eq`` of a non-empty string against a singular
    string attribute stored in a column, such as ``userName eq "x"`` or ``externalId eq "y"``
    (what identity providers send before every create): the rows ``compile_filter`` selects are
    then those whose ``column`` equals ``value`` (casefolded into the ``*_key`` column where the
    attribute ignores case). None for any other filter, and for one that does not parse."""
    found: tuple[str, Any] | None = _simple_equality(text)
    if found is None:
        try:
            tree = _parse(text)
        except InvalidFilter:
            return None
        if not isinstance(tree, Comparison) or tree.op != CompareOperator.eq:
            return None
        found = _name(tree.attr_path), tree.value
    name, value = found
    path = resource_type.resolve(name)
    if not isinstance(value, str) or not value or path is None or path.sub_attribute:
        return None
    attribute = path.attribute
    if attribute.multi_valued or attribute.type != "string" or not attribute.field:
        return None
    if attribute.returned == "never" or attribute.name == "id":
        return None
    try:
        value = _check_value(attribute, CompareOperator.eq, value)
    except InvalidFilter:
        return None  # compile_filter says why
    if attribute.case_exact:
        return attribute.field, value
    key = binding_of(resource_type).key_columns.get(attribute.field)
    return (key, key_function(attribute.field)(value)) if key else None


# ``attribute eq "string"`` written with the grammar's own tokens (scim2-models' ATTR_PATH without a
# URN, COMPARE_OP and STRING, separated by its white space): the parser would make a Comparison of
# exactly these parts, so the lookup sent before every create skips building the parser's tree.
_SPACE = r"[ \t\f\r\n]"
_SIMPLE_EQUALITY = re.compile(
    rf"{_SPACE}*(?P<path>[A-Za-z][A-Za-z0-9$_-]*(?:\.[A-Za-z][A-Za-z0-9$_-]*)?){_SPACE}+"
    rf"eq(?![A-Za-z0-9$_-]){_SPACE}*"
    rf'(?P<value>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{{4}})*"){_SPACE}*',
    re.IGNORECASE,
)


def _simple_equality(text: str) -> tuple[str, str] | None:
    """``(attribute path, value)`` of a filter that is ``_SIMPLE_EQUALITY``, else None."""
    match = _SIMPLE_EQUALITY.fullmatch(text) if len(text) <= MAX_FILTER_LENGTH else None
    return (match["path"], json.loads(match["value"])) if match else None


# One comparison whose value is a bare word: Microsoft's SCIM guide prints
# `filter=externalId eq jyoung`. Only this whole-filter form is read, as the quoted string.
_BARE_WORD = re.compile(
    r"^\s*(?P<path>[\w:.$-]+)\s+(?P<op>eq|ne|co|sw|ew)\s+(?P<word>[^\s\"'()\[\]]+)\s*$", re.I
)


def _bare_word_comparison(text: str):
    match = _BARE_WORD.match(text)
    if match is None or match.group("word").lower() in ("true", "false", "null"):
        return None
    quoted = f"{match.group('path')} {match.group('op')} {json.dumps(match.group('word'))}"
    try:
        return ScimFilter(quoted).ast
    except InvalidFilterException:
        return None


def _count(node) -> int:
    if isinstance(node, LogicalExpr):
        return 1 + sum(_count(t) for t in node.terms)
    if isinstance(node, Not):
        return 1 + _count(node.expr)
    if isinstance(node, ValuePath):
        return 1 + _count(node.val_filter)
    return 1


def _name(path: AttrPath) -> str:
    prefix = f"{path.uri}:" if path.uri else ""
    suffix = f".{path.sub_attr}" if path.sub_attr else ""
    return f"{prefix}{path.attr}{suffix}"


class QueryCompiler(FilterVisitor[Q]):
    def __init__(self, resource_type: ResourceType):
        self.resource_type = resource_type
        self.binding: Binding = binding_of(resource_type)
        self.reads_data = False  # whether compiling looked up data (see ``filtered``)

    # --- structure ---------------------------------------------------------------------------

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        compiled = [self.visit(term) for term in node.terms]
        result = compiled[0]
        for q in compiled[1:]:
            result = result & q if node.op == LogicalOperator.and_ else result | q
        return result

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_present(self, node: Present) -> Q:
        return self._attribute_condition(node.attr_path, CompareOperator.eq, None, present=True)

    def visit_comparison(self, node: Comparison) -> Q:
        return self._attribute_condition(node.attr_path, node.op, node.value)

    def visit_value_path(self, node: ValuePath) -> Q:
        path = self._resolve(node.attr_path)
        if path.sub_attribute is not None or not path.attribute.multi_valued:
            raise InvalidFilter(
                f"{_name(node.attr_path)}[...]: a value filter needs a multi-valued attribute."
            )
        if path.schema.tenant_defined:
            return ExtensionCompiler(self, path).elements(node.val_filter)
        element = ElementCompiler(self, path)
        return element.exists(element.visit(node.val_filter))

    # --- comparisons -------------------------------------------------------------------------

    def _resolve(self, attr_path: AttrPath) -> AttributePath:
        path = self.resource_type.resolve(_name(attr_path))
        if path is None:
            raise InvalidFilter(f"{_name(attr_path)!r} is not an attribute of {self.resource_type.name}.")
        if path.target.returned == "never":
            raise InvalidFilter(f"{path} cannot be used in a filter.")
        return path

    def _attribute_condition(self, attr_path: AttrPath, op, value, present: bool = False) -> Q:
        path = self._resolve(attr_path)
        attribute, sub = path.attribute, path.sub_attribute
        if path.schema.tenant_defined:
            return ExtensionCompiler(self, path).condition(op, value, present)
        if attribute.multi_valued:
            element = ElementCompiler(self, path)
            sub_name = sub.name if sub else ("value" if attribute.sub("value") else None)
            if present and sub is None:
                return element.exists(Q())
            if sub_name is None:
                raise InvalidFilter(f"{path}: name a sub-attribute, e.g. {attribute.name}.value.")
            if not present and value is None and op in (CompareOperator.eq, CompareOperator.ne):
                # Unassigned, null and [] are one state (RFC 7643 section 2.5): "emails.value eq
                # null" holds when no element has a value, i.e. exactly when "emails.value pr" fails.
                assigned = element.exists(element.condition(sub_name, op, None, present=True))
                return assigned if op == CompareOperator.ne else ~assigned
            return element.exists(element.condition(sub_name, op, value, present))
        resolver = self.binding.resolver(attribute)
        if isinstance(resolver, Metadata):
            return self._meta(resolver, path, op, value, present)
        if isinstance(resolver, Identity):
            return self._id(resolver, path, op, value, present)
        if attribute.type == "complex":
            if isinstance(resolver, Reference) and sub is None and present:
                # Its columns are a UUID, never "": not _column.
                return Q(**{f"{resolver.field}__isnull": False})
            if sub is None:
                if present:
                    return _any(
                        [
                            self._column(s, s.field, op, None, True)
                            for s in attribute.sub_attributes
                            if s.field
                        ]
                    )
                example = next(s.name for s in attribute.sub_attributes)
                raise InvalidFilter(
                    f"{path} is complex: compare one of its sub-attributes, e.g. {path}.{example}."
                )
            if isinstance(resolver, Reference):
                return self._reference(resolver, path, op, value, present)
            return self._column(sub, sub.field, op, value, present)
        return self._column(attribute, attribute.field, op, value, present)

    def _column(self, attribute: Attribute, field: str | None, op, value, present: bool) -> Q:
        if field is None:
            raise InvalidFilter(f"{attribute.name} cannot be used in a filter.")
        null_empty = Q(**{f"{field}__isnull": True}) | Q(**{field: ""})
        if attribute.type == "boolean":
            null_empty = Q(**{f"{field}__isnull": True})
        if present:
            return ~null_empty
        value = _check_value(attribute, op, value)
        if value is None:
            return null_empty if op == CompareOperator.eq else ~null_empty
        if attribute.type == "boolean":
            return Q(**{field: value}) if op == CompareOperator.eq else ~Q(**{field: value})
        return compare_assigned(
            ~null_empty,
            field,
            op,
            value,
            case_exact=attribute.case_exact,
            key=self.binding.key_columns.get(field),
            fold=key_function(field),
        )

    def _id(self, resolver: Identity, path, op, value, present: bool) -> Q:
        if present:
            return MATCH_ALL
        value = _check_value(path.attribute, op, value)
        if op in SUBSTRING:
            raise InvalidFilter(f"id supports eq, ne, gt, ge, lt, le and pr, not {op.value}.")
        pk = _exact_id(value) if op in (CompareOperator.eq, CompareOperator.ne) else parse_id(value)
        if pk is None:
            return MATCH_NONE if op != CompareOperator.ne else MATCH_ALL
        return compare(resolver.column, op, pk, case_exact=True)

    def _reference(self, ref: Reference, path, op, value, present: bool) -> Q:
        sub = path.sub_attribute
        is_set = Q(**{f"{ref.field}__isnull": False})
        if sub.name == "value":
            if present:
                return is_set
            value = _check_value(sub, op, value)
            if op not in (CompareOperator.eq, CompareOperator.ne):
                raise InvalidFilter(f"{path} supports eq, ne and pr.")
            pk = _exact_id(value)
            unset = Q(**{f"{ref.field}__isnull": True})
            q = Q(**{ref.column: pk}) if pk else (unset if value is None else MATCH_NONE)
            return q if op == CompareOperator.eq else ~q
        if sub.name == "displayName":
            display = f"{ref.field}__{ref.display}"
            assigned = is_set & ~Q(**{display: ""})
            if present:
                return assigned
            value = _check_value(sub, op, value)
            if value is None:
                return ~assigned if op == CompareOperator.eq else assigned
            return compare_assigned(
                assigned, display, op, value, case_exact=False, key=f"{ref.field}__{ref.display_key}"
            )
        raise InvalidFilter(f"{path} cannot be used in a filter.")

    def _meta(self, meta: Metadata, path, op, value, present: bool) -> Q:
        sub = path.sub_attribute
        if sub is None:
            if present:
                return MATCH_ALL
            raise InvalidFilter(
                "meta is complex: compare meta.created, meta.lastModified or meta.resourceType."
            )
        if present:
            return MATCH_ALL
        value = _check_value(sub, op, value)
        field = meta.column(sub.name)
        if field is not None:
            return compare(field, op, _datetime(value, str(path)), case_exact=True)
        if sub.name == "resourceType":
            if op not in (CompareOperator.eq, CompareOperator.ne):
                raise InvalidFilter("meta.resourceType supports eq and ne.")
            matches = isinstance(value, str) and value.lower() == self.resource_type.name.lower()
            return MATCH_ALL if matches == (op == CompareOperator.eq) else MATCH_NONE
        if sub.name == "version":
            tag = value if not isinstance(value, str) or value.endswith('"') else f'"{value}"'
            if not isinstance(tag, str) or not is_version_tag(tag) or op not in EQUALITY:
                raise InvalidFilter('meta.version supports eq and ne with a version like W/"3".')
            version = version_of(tag)
            # A tag no version can equal (2**64, 5,000 digits) matches nothing, as in If-Match.
            q = Q(**{meta.version: version}) if version != NO_VERSION else MATCH_NONE
            return q if op == CompareOperator.eq else ~q
        raise InvalidFilter(f"{path} cannot be used in a filter.")


class _ElementFilter(FilterVisitor[Q]):
    """What the compilers of conditions on one element share: ``and``, ``or`` and ``not`` as the
    whole filter has them; no value filter inside another (RFC 7644 section 3.4.2.2)."""

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        return QueryCompiler.visit_logical_expr(self, node)  # type: ignore[arg-type]

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_value_path(self, node: ValuePath) -> Q:
        raise InvalidFilter("Value filters cannot be nested.")


class ExtensionCompiler(_ElementFilter):
    """Conditions on a tenant-defined extension attribute: on its leaf values, the binding's
    extension rows (``directory/models/extensions.py``), each kind of value compared in its typed
    column (a string's ``key``: casefolded unless caseExact, indexed for eq and sw). A resource
    matches a comparison when one of its values does (RFC 7644 section 3.4.2.2, multi-valued
    attributes); ``ne``, and ``not``, match the resources without a value too. Inside a value filter
    (``urn:...:badges[type eq "a" and number gt 3]``) every condition is about the same element."""

    def __init__(self, parent: QueryCompiler, path: AttributePath):
        model = parent.binding.extension_values
        if model is None:
            raise InvalidFilter(f"{path} cannot be used in a filter.")
        self.parent, self.path, self.model = parent, path, model
        self.element: tuple[str, str] | None = None  # inside [...]: the element row's owner, element

    def _rows(self, attribute: Attribute) -> QuerySet:
        assert attribute.declaration is not None  # tenant-defined attributes carry it
        if self.element is not None:
            owner, element = self.element
            return self.model._default_manager.filter(
                owner=OuterRef(owner), element=OuterRef(element), attribute_id=attribute.declaration
            )
        # The tenant too: PostgreSQL then finds the rows by the (tenant, attribute, key) index.
        return self.model._default_manager.filter(
            tenant=OuterRef("tenant"), owner=OuterRef("pk"), attribute_id=attribute.declaration
        )

    def condition(self, op, value, present: bool) -> Q:
        attribute, sub = self.path.attribute, self.path.sub_attribute
        if attribute.type == "complex" and sub is None:
            if not present:
                example = attribute.sub_attributes[0].name
                raise InvalidFilter(
                    f"{self.path} is complex: compare one of its sub-attributes, e.g. {self.path}.{example}."
                )
            ids = [s.declaration for s in attribute.sub_attributes]
            rows = self.model._default_manager.filter(
                tenant=OuterRef("tenant"), owner=OuterRef("pk"), attribute_id__in=ids
            )
            return Q(Exists(rows))
        return self._leaf(sub or attribute, op, value, present, str(self.path))

    def _leaf(self, leaf: Attribute, op, value, present: bool, label: str) -> Q:
        rows = self._rows(leaf)
        if present:
            return Q(Exists(rows))
        value = _check_value(leaf, op, value, label)
        if value is None:  # unassigned: eq null holds where no value is, ne null where one is
            return ~Q(Exists(rows)) if op == CompareOperator.eq else Q(Exists(rows))
        if op == CompareOperator.ne:
            return ~self._leaf(leaf, CompareOperator.eq, value, present, label)
        return Q(Exists(rows.filter(self._compare(leaf, op, value, label))))

    def _compare(self, leaf: Attribute, op, value, label: str) -> Q:
        kind = leaf.type
        if kind == "boolean":
            return Q(flag=value)
        if kind in ("integer", "decimal"):
            try:
                return compare("number", op, extension_number(value), case_exact=True)
            except ValueError as error:
                raise InvalidFilter(f"The value compared with {label}: {error}.") from None
        if kind == "dateTime":
            return compare("moment", op, _datetime(value, label), case_exact=True)
        if kind == "string":
            # ``key`` holds the value casefolded unless caseExact: compared exactly, either way.
            return compare("key", op, value if leaf.case_exact else casefold_key(value), case_exact=True)
        return compare("text", op, value, case_exact=leaf.case_exact)

    def elements(self, node) -> Q:
        """A value filter on a multi-valued complex attribute: some element (its rows share owner
        and ``element``) satisfies every condition."""
        attribute = self.path.attribute
        if attribute.type != "complex":
            raise InvalidFilter(
                f"{self.path}[...]: a value filter needs a complex attribute's sub-attributes."
            )
        ids = [s.declaration for s in attribute.sub_attributes]
        rows = self.model._default_manager.filter(
            tenant=OuterRef("tenant"), owner=OuterRef("pk"), attribute_id__in=ids
        )
        self.element = ("owner", "element")
        return Q(Exists(rows.filter(self.visit(node))))

    def visit_present(self, node: Present) -> Q:
        sub = self._sub(node.attr_path)
        return self._leaf(sub, CompareOperator.eq, None, True, f"{self.path}.{sub.name}")

    def visit_comparison(self, node: Comparison) -> Q:
        sub = self._sub(node.attr_path)
        return self._leaf(sub, node.op, node.value, False, f"{self.path}.{sub.name}")

    def _sub(self, attr_path: AttrPath) -> Attribute:
        attribute = self.path.attribute
        sub = attribute.sub(attr_path.attr) if not (attr_path.uri or attr_path.sub_attr) else None
        if sub is None:
            raise InvalidFilter(f"{attr_path} is not a sub-attribute of {attribute.name}.")
        if sub.returned == "never":
            raise InvalidFilter(f"{self.path}.{sub.name} cannot be used in a filter.")
        return sub


class ElementCompiler(_ElementFilter):
    """Conditions on one element of a multi-valued attribute (inside ``[...]`` or ``emails.value``)."""

    def __init__(self, parent: QueryCompiler, path: AttributePath):
        self.parent, self.path, self.attribute = parent, path, path.attribute
        binding = parent.binding
        self.values = binding.values if path.attribute.field else None
        self.resolver = binding.resolver(path.attribute)
        if self.values is None and not isinstance(self.resolver, Members | MemberOf):
            raise InvalidFilter(f"{path.attribute.name} cannot be used in a filter.")

    def exists(self, condition: Q) -> Q:
        rows: QuerySet
        if self.values is not None:
            # The tenant too: PostgreSQL then knows it, and finds values by the (tenant, attribute,
            # value_key) index rather than scanning every tenant's values.
            values = self.values
            rows = values.model._default_manager.filter(
                tenant=OuterRef("tenant"),
                **{values.owner: OuterRef("pk"), values.attribute: self.attribute.field},
            )
        elif isinstance(self.resolver, Members):
            rows = self.resolver.through._default_manager.filter(**{self.resolver.owner: OuterRef("pk")})
        else:
            assert isinstance(self.resolver, MemberOf)  # as __init__ checked: a user's groups
            rows = self.resolver.through._default_manager.filter(**{self.resolver.column: OuterRef("pk")})
        return Q(Exists(rows.filter(condition)))

    def visit_present(self, node: Present) -> Q:
        return self.condition(self._sub(node.attr_path), CompareOperator.eq, None, present=True)

    def visit_comparison(self, node: Comparison) -> Q:
        return self.condition(self._sub(node.attr_path), node.op, node.value)

    def _sub(self, attr_path: AttrPath) -> str:
        if attr_path.uri or attr_path.sub_attr:
            raise InvalidFilter(f"Inside {self.attribute.name}[...], name sub-attributes only, e.g. value.")
        sub = self.attribute.sub(attr_path.attr)
        if sub is None:
            raise InvalidFilter(f"{attr_path.attr!r} is not a sub-attribute of {self.attribute.name}.")
        return sub.name

    def condition(self, sub_name: str, op, value, present: bool = False) -> Q:
        sub = self.attribute.sub(sub_name)
        assert sub is not None, sub_name  # callers name one of the attribute's sub-attributes
        label = f"{self.attribute.name}.{sub.name}"
        if not present:
            value = _check_value(sub, op, value, label)
        if isinstance(self.resolver, Members) and self.values is None:
            return _member_condition(self.resolver, sub.name, op, value, present, label)
        if isinstance(self.resolver, MemberOf) and self.values is None:
            return _group_condition(self.parent, sub.name, op, value, present, label)
        assert self.values is not None  # as __init__ checked: an element stored in the values table
        column = self.values.columns.get(sub.name)
        if column == "primary":
            # A boolean column: an element without "primary" is not primary, so the value is
            # always assigned (as for active).
            if present:
                return MATCH_ALL
            if op not in (CompareOperator.eq, CompareOperator.ne):
                raise InvalidFilter(f"{label} supports eq, ne and pr.")
            if value is None:
                return MATCH_NONE if op == CompareOperator.eq else MATCH_ALL
            q = Q(primary=value is True)
            return q if op == CompareOperator.eq else ~q
        fold: Callable[[str], str] = casefold_key
        if sub.name == "value":
            exact = sub.case_exact or self.attribute.type != "complex"
            field, key = ("value", None) if exact else ("value", "value_key")
            fold = key_function(self.attribute.field)
            # value_key is value casefolded ("" for ""): testing it instead keeps the condition
            # inside an index that holds value_key (user_value_by_user), without the row.
            assigned = ~Q(value="") if exact else ~Q(value_key="")
            value = str(value) if value is not None else None
            case_exact = sub.case_exact
        elif column is not None:  # stored casefolded
            field, key, assigned, case_exact = column, None, ~Q(**{column: ""}), True
            value = casefold_key(str(value)) if value is not None else None
        else:
            field = f"data__{sub.name}"
            key, case_exact = None, sub.case_exact
            assigned = Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})
        if present:
            return assigned
        if value is None:
            return ~assigned if op == CompareOperator.eq else assigned
        return compare_assigned(assigned, field, op, value, case_exact=case_exact, key=key, fold=fold)


def _member_condition(members: Members, sub: str, op, value, present: bool, label: str) -> Q:
    """A condition on one membership of a group: its member is one of the member types the
    binding's ``Members`` allows, each a column of the membership."""
    columns = members.columns
    if sub == "value":
        if present:
            return MATCH_ALL
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{label} supports eq, ne and pr.")
        pk = _exact_id(value)
        q = _any([Q(**{f"{column}_id": pk}) for column in columns.values()]) if pk else MATCH_NONE
        return q if op == CompareOperator.eq else ~q
    if sub == "type":
        if present:
            return MATCH_ALL
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{label} supports eq, ne and pr.")
        kind = str(value).lower() if value is not None else ""
        q = _any([Q(**{f"{c}__isnull": False}) for name, c in columns.items() if name.lower() == kind])
        return q if op == CompareOperator.eq else ~q
    if sub == "display":
        assigned = {
            c: Q(**{f"{c}__isnull": False}) & ~Q(**{f"{c}__display_name": ""}) for c in columns.values()
        }
        if present:
            return _any(list(assigned.values()))
        if value is None:
            anyone = _any(list(assigned.values()))
            return ~anyone if op == CompareOperator.eq else anyone
        if op == CompareOperator.ne:  # not "either side differs": one side is always missing
            return ~_member_condition(members, sub, CompareOperator.eq, value, present, label)
        return _any(
            [
                compare_assigned(
                    condition,
                    f"{column}__display_name",
                    op,
                    value,
                    case_exact=False,
                    key=f"{column}__display_name_key",
                )
                for column, condition in assigned.items()
            ]
        )
    raise InvalidFilter(f"{label} cannot be used in a filter.")


def _group_condition(compiler: QueryCompiler, sub: str, op, value, present: bool, label: str) -> Q:
    """A user's groups include groups that contain one of its groups (RFC 7643 section 4.1.2)."""
    if sub == "value":
        if present:
            return MATCH_ALL
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{label} supports eq, ne and pr.")
        pk = _exact_id(value)
        compiler.reads_data = True
        q = Q(group_id__in=group_descendants(group_id=pk)) if pk else MATCH_NONE
        return q if op == CompareOperator.eq else ~q
    if sub == "display":
        assigned = ~Q(group__display_name="")
        if present:
            return assigned
        if value is None:
            return ~assigned if op == CompareOperator.eq else assigned
        return compare_assigned(
            assigned, "group__display_name", op, value, case_exact=False, key="group__display_name_key"
        )
    if sub == "type":
        if present:
            return MATCH_ALL
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{label} supports eq, ne and pr.")
        matches = isinstance(value, str) and value.lower() == "direct"
        return MATCH_ALL if matches == (op == CompareOperator.eq) else MATCH_NONE
    raise InvalidFilter(f"{label} cannot be used in a filter.")


def _exact_id(value) -> uuid.UUID | None:
    """The id a caseExact comparison names: only the canonical form ids are issued in (lowercase,
    hyphenated), where ``parse_id`` also reads upper case, braces and ``urn:uuid:``."""
    pk = parse_id(value) if isinstance(value, str) else None
    return pk if pk is not None and str(pk) == value else None


def compare(field: str, op, value, *, case_exact: bool, key: str | None = None, fold=casefold_key) -> Q:
    """``field <op> value``; case-insensitive comparisons use the ``key`` column when there is one
    (indexed: it holds ``fold`` of the field, and is compared with ``fold`` of ``value``), else the
    database's case-insensitive lookups (on SQLite, ``CaseFold`` on both sides)."""
    if op == CompareOperator.ne:
        return ~compare(field, CompareOperator.eq, value, case_exact=case_exact, key=key, fold=fold)
    if op in SUBSTRING and value == "":
        return MATCH_ALL  # every string contains, starts and ends with ""
    lookup = _LOOKUP[op]
    if not case_exact and isinstance(value, str):
        if key is not None:
            return Q(**{f"{key}__{lookup}": fold(value)})
        # A sub-attribute read from JSON (data__locality) as text: PostgreSQL has no LOWER(jsonb).
        text = KT(field) if field.startswith("data__") else F(field)
        if connection.vendor == "sqlite":
            return Q(_LOOKUPS[lookup](CaseFold(text), casefold_key(value)))
        if lookup in _INSENSITIVE:
            return Q(**{f"{field}__{_INSENSITIVE[lookup]}": value})
        return Q(_ORDERING_LOOKUPS[lookup](Lower(text), value.lower()))
    if isinstance(value, str) and op in SUBSTRING and connection.vendor == "sqlite":
        # SQLite's LIKE ignores ASCII case, so case-exact substring tests use instr/substr there.
        if op == CompareOperator.co:
            return Q(GreaterThan(StrIndex(F(field), Value(value)), 0))
        function = Left if op == CompareOperator.sw else Right
        return Q(Exact(function(F(field), len(value)), value))
    return Q(**{f"{field}__{lookup}": value})


def compare_assigned(
    assigned: Q, field: str, op, value, *, case_exact: bool, key: str | None = None, fold=casefold_key
) -> Q:
    """``compare``, for a value that may be unassigned (``assigned`` is false): an unassigned
    value satisfies ``ne`` and no other operator, so ``title lt "b"`` and ``title sw ""`` skip users
    without a title while ``title ne "x"`` keeps them. ``assigned`` is false, never NULL, where
    the column is NULL, so the conjunction is never NULL and ``not (...)`` of it is exact."""
    if op == CompareOperator.ne:
        return ~compare_assigned(
            assigned, field, CompareOperator.eq, value, case_exact=case_exact, key=key, fold=fold
        )
    return assigned & compare(field, op, value, case_exact=case_exact, key=key, fold=fold)


def _any(conditions: list[Q]) -> Q:
    result = Q(pk__in=[])
    for condition in conditions:
        result |= condition
    return result


def _check_value(attribute: Attribute, op, value, label: str | None = None) -> Any:
    """The comparison value, checked against the attribute's type and the operator."""
    label = label or attribute.name
    kind = attribute.type
    if kind in ("boolean", "binary") and op in ORDERING:
        raise InvalidFilter(f"{op.value} is not defined for {kind} attribute {label}.")
    if kind in ("boolean", "dateTime", "integer", "decimal") and op in SUBSTRING:
        raise InvalidFilter(f"{op.value} is not defined for {kind} attribute {label}.")
    if value is None:
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{label} {op.value} null: only eq and ne compare with null.")
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidFilter(f"{label} is boolean: compare it with true or false, not {value!r}.")
        return value
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilter(f"{label} is a number: compare it with a number, not {value!r}.")
        return value
    if not isinstance(value, str):
        raise InvalidFilter(f"{label} is a {kind}: compare it with a quoted string, not {value!r}.")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidFilter(f"The value compared with {label} is longer than {MAX_VALUE_LENGTH} characters.")
    if "\x00" in value:
        raise InvalidFilter(f"The value compared with {label} contains a NUL character.")
    if _SURROGATE.search(value):
        # A "\ud800" escape without its pair: no character, and no database can be sent it.
        raise InvalidFilter(f"The value compared with {label} contains a lone surrogate (U+D800 to U+DFFF).")
    return value


def _datetime(value, label: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidFilter(f'{label} is a dateTime: compare it with a string like "2024-01-31T12:00:00Z".')
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC, as the databases compare it: beyond year 1 to 9999 there is no such time.
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidFilter(
            f"{value!r} is not a dateTime of the years 1 to 9999 (e.g. 2024-01-31T12:00:00Z)."
        ) from None
