"""Values of tenant-defined extension attributes: the typed rows filters and uniqueness read, and
the conversion of stored values when a declaration changes type.

A resource's values live in its ``extensions`` column (``{"<URN>": {"<attribute>": value}}``);
``value_rows`` derives its ``ExtensionValue`` rows from it: one per leaf value, in the column of
its type (``directory/models/extensions.py``). Values arrive here already checked against their
declaration (the SCIM layer normalises every write); ``convert`` is for values stored under an
earlier declaration.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from directory.models import ExtensionAttribute, ExtensionSchema, casefold_key
from directory.models.extensions import ExtensionValue

# The typed column's bounds (ExtensionValue.number: numeric(65, 30)).
MAX_INTEGER_DIGITS = 35
DECIMAL_PLACES = 30
NUMBER_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS
_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
_CONTEXT = Context(prec=MAX_INTEGER_DIGITS + DECIMAL_PLACES + 5)
_INTEGER = re.compile(r"[+-]?\d+")


def number(value: int | float | Decimal) -> Decimal:
    """A number as the ``number`` column holds it; ValueError beyond its bounds."""
    try:
        exact = Decimal(value) if isinstance(value, int | Decimal) else Decimal(repr(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not exact.is_finite() or abs(exact) >= NUMBER_LIMIT:
        raise ValueError(f"numbers must have at most {MAX_INTEGER_DIGITS} digits before the point")
    return exact.quantize(_QUANTUM, context=_CONTEXT)


# xsd:dateTime (RFC 7643 section 2.3.5, XML Schema section 3.3.7): a full date and time, an
# optional fraction and zone. Not the shorter forms ISO 8601 (and datetime.fromisoformat) accept.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?")


def moment(value: str) -> datetime:
    """An xsd:dateTime as an aware datetime in UTC (UTC when it has no zone); ValueError when it
    is not one, or its UTC time is out of the years 1 to 9999 every database can store."""
    if not _DATE_TIME.fullmatch(value):
        raise ValueError(f"{value!r} is not an xsd:dateTime")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a dateTime of the years 1 to 9999 (UTC)") from None


def schemas_of(schemas, resource_type: str) -> list[ExtensionSchema]:
    return [s for s in schemas if s.resource_type == resource_type]


def top_level(schema: ExtensionSchema) -> list[ExtensionAttribute]:
    """The schema's attributes, removed ones included (their values are kept until a purge)."""
    return [a for a in schema.attributes.all() if a.parent_id is None]


def value_rows(
    model: type[ExtensionValue], *, tenant_id: int, owner_id: Any, extensions: dict | None, schemas
) -> list[ExtensionValue]:
    """The rows of one resource whose ``extensions`` column holds ``extensions``, for the
    declarations ``schemas`` of its type (``ExtensionSchema``s, attributes prefetched)."""
    rows: list[ExtensionValue] = []
    if not extensions:
        return rows
    for schema in schemas:
        values = extensions.get(schema.urn)
        if not isinstance(values, dict):
            continue
        for attribute in top_level(schema):
            value = values.get(attribute.name)
            if value is None:
                continue
            elements = value if attribute.multi_valued and isinstance(value, list) else [value]
            for position, element in enumerate(elements):
                if attribute.type != "complex":
                    rows.append(_row(model, tenant_id, owner_id, attribute, position, element))
                    continue
                if not isinstance(element, dict):
                    continue
                for sub in attribute.sub_attributes.all():
                    if element.get(sub.name) is not None:
                        rows.append(_row(model, tenant_id, owner_id, sub, position, element[sub.name]))
    return rows


def _row(model, tenant_id, owner_id, attribute: ExtensionAttribute, element: int, value) -> ExtensionValue:
    row = model(
        tenant_id=tenant_id,
        owner_id=owner_id,
        attribute_id=attribute.pk,
        element=element,
        unique=attribute.uniqueness == "server",
    )
    kind = attribute.type
    if kind == "boolean":
        row.flag = bool(value)
    elif kind in ("integer", "decimal"):
        row.number = number(value)
    else:
        row.text = str(value)
        if kind == "string":
            row.key = row.text if attribute.case_exact else casefold_key(row.text)
        elif kind == "dateTime":
            row.moment = moment(row.text)
    return row


def convert(value: Any, attribute: ExtensionAttribute | dict) -> Any:
    """A value stored under an earlier declaration, as the declaration ``attribute`` (a stored
    attribute, or its canonical declaration) has it; ValueError naming why when it cannot be.
    Numbers written as strings become numbers and the reverse, a single value becomes a
    one-element list and the reverse; a list of several cannot become a single value."""
    declared = _declared(attribute)
    if declared["multiValued"]:
        items = value if isinstance(value, list) else [value]
        return [_convert_single(item, declared) for item in items]
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"holds {len(value)} values where one is declared")
        value = value[0]
    return _convert_single(value, declared)


def _declared(attribute: ExtensionAttribute | dict) -> dict:
    if isinstance(attribute, dict):
        return attribute
    from directory.extension_declarations import attribute_declaration

    return attribute_declaration(attribute)


def _convert_single(value: Any, declared: dict) -> Any:
    kind = declared["type"]
    if kind == "complex":
        if not isinstance(value, dict):
            raise ValueError(f"{value!r} is not an object of sub-attributes")
        subs = {s["name"].lower(): s for s in declared["subAttributes"]}
        out = {}
        for name, sub_value in value.items():
            sub = subs.get(name.lower())
            if sub is None:
                raise ValueError(f"has the sub-attribute {name!r}, which is no longer declared")
            out[sub["name"]] = _convert_single(sub_value, sub)
        return out
    if isinstance(value, dict | list):
        raise ValueError(f"{type(value).__name__} where a {kind} is declared")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("integer", "decimal"):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text) if _INTEGER.fullmatch(text) else float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        if kind == "integer" and isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not an integer")
            value = int(value)
        number(value)  # within the column's bounds
        return value
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if kind == "dateTime":
        try:
            moment(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a dateTime") from None
    if kind == "binary":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{text!r} is not base64") from None
    if kind == "string" and len(text) > MAX_STRING:
        raise ValueError(f"is {len(text)} characters long; the limit is {MAX_STRING}")
    return text


MAX_STRING = 256  # a string value: its key (casefolded, up to 3 times as long) stays indexable
