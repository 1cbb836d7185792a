"""Incoming SCIM resource documents, checked against the schema registry and put in canonical form.

Canonical form: attribute names spelled as declared (clients may use any case, RFC 7644 section
3.10), extension attributes nested under their schema URN, values of the declared type, and
``null`` or empty values removed (RFC 7643 section 2.5: unassigned). readOnly attributes are
dropped without complaint, because clients echo what they read (Okta's PUT sends ``id``,
``meta`` and ``groups`` back).

Tolerated deviations, each seen from real identity providers: booleans sent as the strings
"True"/"False" (Microsoft Entra ID), numbers where strings are declared (employeeNumber), a
single object where a list is declared, schema URNs we do not support in ``schemas`` or as
keys (Entra adds one to group creates), and extension attributes named without their URN
(Entra's top-level ``department`` and ``manager``). Everything else that does not fit is an invalidValue or
invalidSyntax error naming the attribute.
"""

import base64
import binascii
import re
from typing import Any

from directory.extension_values import moment
from directory.extension_values import number as extension_number
from scim_api.errors import InvalidSyntax, InvalidValue
from scim_api.schema import Attribute, AttributePath, ResourceType, Schema

_INTEGER = re.compile(r"[+-]?\d{1,4300}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE = {"true"}
_FALSE = {"false"}


def normalize_resource(
    resource_type: ResourceType, body: Any, ignored: list[str] | None = None
) -> dict[str, Any]:
    """A whole resource (POST, PUT) in canonical form; without ``schemas``, ``id`` or ``meta``.
    What it carries of extensions the tenant has not declared is appended to ``ignored``."""
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A {resource_type.name} must be a JSON object.")
    check_schemas(resource_type, body)
    return normalize_attributes(resource_type, body, ignored)


def check_schemas(resource_type: ResourceType, body: dict) -> None:
    """``schemas`` names the core schema. Other URNs in it carry no values, so one the tenant has
    not declared is no input to refuse or record, even for a strict tenant: Microsoft Entra ID adds
    ``http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`` to every group it
    creates (tests/fixtures/idp/entra/create-group.json)."""
    schemas = next((v for k, v in body.items() if k.lower() == "schemas"), None)
    if schemas is None:
        return  # required by RFC 7643 section 3, but carries nothing we need; tolerated
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidSyntax('"schemas" must be a list of schema URNs.')
    if resource_type.schema.id.lower() not in {s.lower() for s in schemas}:
        raise InvalidValue(
            f'"schemas" must include {resource_type.schema.id} for a {resource_type.name}; got {schemas}.'
        )


def undeclared(resource_type: ResourceType, path: str, what: str, ignored: list[str] | None) -> None:
    """Input for an extension the tenant has not declared (RFC 7644 section 3.3 lets a server
    ignore it): refused with invalidValue when the tenant is strict, else noted in ``ignored``
    (the write's audit event names it)."""
    if resource_type.strict:
        raise InvalidValue(
            f"{what}, which is not an extension schema (or attribute) this directory declares for "
            f"{resource_type.name}s; declare it, or turn off strict extensions for the tenant."
        )
    if ignored is not None:
        ignored.append(path)


def normalize_attributes(
    resource_type: ResourceType, body: dict, ignored: list[str] | None = None
) -> dict[str, Any]:
    """Top-level attributes (core, common and URN-keyed extensions) in canonical form."""
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered == "schemas":
            continue
        if lowered in seen:
            raise InvalidSyntax(f'"{key}" and "{seen[lowered]}" name the same attribute.')
        seen[lowered] = key
        extension = resource_type.extension(key)
        if extension is not None:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise InvalidValue(f'"{extension.id}" must be an object of {extension.name} attributes.')
            attributes = normalize_schema_attributes(
                extension,
                value,
                prefix=f"{extension.id}:",
                retained=(resource_type, ignored),
            )
            if attributes:
                out.setdefault(extension.id, {}).update(attributes)
            continue
        path = resource_type.resolve(key) or resolve_unqualified(resource_type, key)
        if path is None:
            if lowered.startswith("urn:"):
                if value is not None:
                    names = list(value) if isinstance(value, dict) and value else [None]
                    for name in names:
                        where = f"{key}:{name}" if name is not None else key
                        undeclared(resource_type, where, f'"{where}" is given', ignored)
                continue
            raise InvalidValue(f'"{key}" is not an attribute of {resource_type.name}.')
        if path.sub_attribute is not None:
            raise InvalidValue(
                f'"{key}": give sub-attributes inside their parent, e.g. {{"{path.attribute.name}": '
                f'{{"{path.sub_attribute.name}": ...}}}}.'
            )
        if path.attribute.read_only:
            continue
        normalized = normalize_value(path.attribute, value, str(path))
        if normalized is None:
            continue
        if path.in_extension:
            out.setdefault(path.schema.id, {})[path.attribute.name] = normalized
        else:
            out[path.attribute.name] = normalized
    return out


def resolve_unqualified(resource_type: ResourceType, name: str) -> AttributePath | None:
    """An extension attribute named without its URN, when exactly one extension has an attribute
    of that name. Microsoft Entra ID emits enterprise attributes unqualified: ``"path": "manager"``
    in a PATCH and top-level ``"department"``/``"manager"`` keys in a create (Entra SCIM tutorial,
    Examples 2 and 5)."""
    found = [p for p in (resource_type.resolve(f"{s.id}:{name}") for s in resource_type.extensions) if p]
    return found[0] if len(found) == 1 else None


def normalize_schema_attributes(
    schema: Schema, body: dict, prefix: str, retained: tuple[ResourceType, list[str] | None] | None = None
) -> dict[str, Any]:
    """One extension's attributes in canonical form. With ``retained`` (the tenant's type, and the
    list of what is ignored): an attribute the tenant removed from its declaration is treated as
    undeclared (``undeclared``), where any other unknown attribute is refused."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.lower() == "schemas":
            continue  # some clients serialize an extension as a resource of its own
        attribute = schema.attribute(key)
        if attribute is None and retained is not None and _removed(retained[0], schema, key):
            if value is not None:
                undeclared(retained[0], f"{prefix}{key}", f'"{prefix}{key}" is given', retained[1])
            continue
        if attribute is None:
            raise InvalidValue(f'"{prefix}{key}" is not an attribute of {schema.name}.')
        if attribute.name in out:
            raise InvalidSyntax(f'"{prefix}{key}" is given twice.')
        if attribute.read_only:
            continue
        normalized = normalize_value(attribute, value, prefix + attribute.name)
        if normalized is not None:
            out[attribute.name] = normalized
    return out


def _removed(resource_type: ResourceType, schema: Schema, name: str) -> bool:
    names = resource_type.retained.get(schema.id, frozenset())
    return name.lower() in {n.lower() for n in names}


def normalize_value(attribute: Attribute, value: Any, label: str) -> Any:
    """One attribute's value in canonical form; None when it is unassigned (null or empty)."""
    if value is None:
        return None
    if attribute.multi_valued:
        if isinstance(value, dict):
            value = [value]  # a lone element where a list is declared
        if not isinstance(value, list):
            raise InvalidValue(f'"{label}" must be a list.')
        items = [normalize_single(attribute, item, f"{label}[{i}]") for i, item in enumerate(value)]
        items = [item for item in items if item is not None]
        if attribute.type == "complex":
            primaries = sum(1 for item in items if item.get("primary") is True)
            if primaries > 1:
                raise InvalidValue(f'"{label}": at most one value may be primary; {primaries} are.')
        return items or None
    return normalize_single(attribute, value, label)


def normalize_single(attribute: Attribute, value: Any, label: str) -> Any:
    if value is None:
        return None
    if attribute.type == "complex":
        if isinstance(value, list) and len(value) == 1 and not attribute.multi_valued:
            value = value[0]  # Entra sends a singular complex value (manager) as a one-element list
        if isinstance(value, str) and attribute.sub("value") is not None:
            value = {"value": value}  # Entra sends manager as a bare id
        if not isinstance(value, dict):
            raise InvalidValue(f'"{label}" must be an object.')
        out = {}
        for key, sub_value in value.items():
            sub = attribute.sub(key)
            if sub is None:
                raise InvalidValue(f'"{label}.{key}" is not a sub-attribute of {attribute.name}.')
            if sub.name in out:
                raise InvalidSyntax(f'"{label}.{key}" is given twice.')
            if sub.read_only:
                continue
            normalized = normalize_single(sub, sub_value, f"{label}.{sub.name}")
            if normalized is not None:
                out[sub.name] = normalized
        return out or None
    return coerce_scalar(attribute, value, label)


def coerce_scalar(attribute: Attribute, value: Any, label: str) -> Any:
    """A simple value of the attribute's declared type, or invalidValue."""
    kind = attribute.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE  # Entra sends "True" / "False"
        raise InvalidValue(f'"{label}" must be true or false, not {value!r}.')
    if kind in ("integer", "decimal"):
        if isinstance(value, str) and attribute.declaration is not None and _NUMBER.fullmatch(value.strip()):
            # A tenant's attribute mapped from a string in the IdP (Entra's extensionAttribute1 to
            # 15 are strings): its digits are the number.
            text = value.strip()
            value = int(text) if kind == "integer" and _INTEGER.fullmatch(text) else float(text)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f'"{label}" must be a number, not {value!r}.')
        # Not float(value): an int of 400 digits is a valid integer that no float can hold.
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            raise InvalidValue(f'"{label}" must be an integer, not {value!r}.')
        if attribute.declaration is not None:
            try:  # a tenant's attribute: within what its rows' number column holds
                extension_number(value)
            except ValueError as error:
                raise InvalidValue(f'"{label}": {error}.') from None
        return int(value) if kind == "integer" else value
    if isinstance(value, bool | dict | list):
        raise InvalidValue(f'"{label}" must be a {kind}, not {type(value).__name__}.')
    if isinstance(value, int | float):
        if attribute.required or attribute.uniqueness != "none":
            raise InvalidValue(f'"{label}" must be a string, not the number {value!r}.')
        value = str(value)  # e.g. employeeNumber sent as a JSON number
    if not isinstance(value, str):
        raise InvalidValue(f'"{label}" must be a {kind}.')
    if "\x00" in value:
        raise InvalidValue(f'"{label}" contains a NUL character.')
    if attribute.max_length is not None and len(value) > attribute.max_length:
        raise InvalidValue(f'"{label}" is {len(value)} characters long; the limit is {attribute.max_length}.')
    if kind == "dateTime":
        try:
            moment(value)
        except ValueError:
            raise InvalidValue(
                f'"{label}" must be an xsd:dateTime of the years 1 to 9999, e.g. 2024-01-31T12:00:00Z.'
            ) from None
    if kind == "binary":
        try:
            # Strictly for a tenant's attributes (what is stored must convert again); leniently for
            # x509Certificates.value as before.
            base64.b64decode(value, validate=attribute.declaration is not None)
        except (binascii.Error, ValueError):
            raise InvalidValue(f'"{label}" must be base64-encoded.') from None
    if value == "" and not attribute.required:
        return None
    return value
