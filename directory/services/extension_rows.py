"""What a write of a resource does with its tenant-defined extension values: the audit entries of
what changed, the typed rows (``directory.extension_values``) it rewrites in its transaction, and
the refusal of a ``uniqueness: server`` value another resource holds, named.

The services of users and groups call these when the ``extensions`` column is among what they
write; a tenant that never declared an extension costs nothing here.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from directory.errors import AlreadyExists
from directory.extension_values import top_level, value_rows
from directory.models import ExtensionAttribute, Tenant
from directory.models.extensions import ExtensionValue
from directory.selectors import extension_declarations

REDACTED = "[redacted]"


def extension_rows(
    model: type[ExtensionValue], *, tenant: Tenant, resource_type: str, owner_id: Any, extensions: dict | None
) -> list[ExtensionValue]:
    """The rows of one resource's ``extensions``, under the tenant's declarations, in the order of
    their unique keys: two writes inserting the same values then wait for each other at the first,
    where in the values' order (``[x, y]`` and ``[y, x]``) each would wait for the other's."""
    schemas = extension_declarations(tenant=tenant).of_type(resource_type)
    rows = value_rows(model, tenant_id=tenant.pk, owner_id=owner_id, extensions=extensions, schemas=schemas)
    return sorted(rows, key=lambda row: (row.attribute_id, row.key or "", str(row.number), row.element))


def extension_rows_replace(
    model: type[ExtensionValue], *, tenant: Tenant, resource_type: str, owner_id: Any, extensions: dict | None
) -> None:
    """Rewrite one resource's rows from its new ``extensions`` (in the write's transaction). A
    value of a ``uniqueness: server`` attribute that another resource holds is refused by the
    rows' unique index (an IntegrityError: ``extension_value_taken`` then names it)."""
    rows = extension_rows(
        model, tenant=tenant, resource_type=resource_type, owner_id=owner_id, extensions=extensions
    )
    extension_repeats_refused(tenant, rows)
    model._default_manager.filter(owner_id=owner_id).delete()  # type: ignore[misc]  # concrete models have it
    model._default_manager.bulk_create(rows)


def extension_repeats_refused(tenant: Tenant, rows: list) -> None:
    """AlreadyExists when the resource itself gives a value of a ``uniqueness: server`` attribute
    twice (its own rows would collide in the unique index)."""
    seen: set[tuple] = set()
    for row in rows:
        if not row.unique:
            continue
        held = (row.attribute_id, row.key, row.number)
        if held in seen:
            raise AlreadyExists(
                f"{_label(tenant, row.attribute_id)} holds {_shown(row)} twice; its values must be unique."
            )
        seen.add(held)


def extension_value_taken(
    model: type[ExtensionValue], *, tenant: Tenant, resource_type: str, owner_id: Any, extensions: dict | None
) -> AlreadyExists:
    """After the unique index of the rows refused a write (outside its failed transaction, or
    after its savepoint rolled back): the refusal, naming the first value of a ``uniqueness:
    server`` attribute another resource of the tenant holds. Checked after the fact so that a
    write that takes nobody's value pays no query for it."""
    rows = extension_rows(
        model, tenant=tenant, resource_type=resource_type, owner_id=owner_id, extensions=extensions
    )
    taken = Q(pk__in=[])
    for row in rows:
        if row.unique:
            column = {"key": row.key} if row.key is not None else {"number": row.number}
            taken |= Q(attribute_id=row.attribute_id, **column)
    clash = (
        model._default_manager.filter(taken, tenant=tenant, unique=True)
        .exclude(owner_id=owner_id)  # type: ignore[misc]  # as above
        .values_list("attribute_id", "key", "number")
        .first()
    )
    if clash is None:  # the other write has gone meanwhile; the index refused all the same
        return AlreadyExists(
            "An extension attribute's value is already taken in this directory (its uniqueness is server)."
        )
    attribute_id, key, number = clash
    shown = repr(key) if key is not None else str(number and number.normalize())
    return AlreadyExists(
        f"{_label(tenant, attribute_id)} {shown} is already taken in this directory "
        "(its uniqueness is server)."
    )


def _shown(row) -> str:
    return repr(row.text) if row.text is not None else str(row.number.normalize())


def _label(tenant: Tenant, attribute_id: int) -> str:
    for schema in extension_declarations(tenant=tenant).schemas:
        for attribute in schema.attributes.all():
            if attribute.pk == attribute_id:
                return f"{schema.urn}:{_name(attribute)}"
    attribute = ExtensionAttribute.objects.select_related("schema", "parent").get(pk=attribute_id)
    return f"{attribute.schema.urn}:{_name(attribute)}"


def _name(attribute: ExtensionAttribute) -> str:
    return f"{attribute.parent.name}.{attribute.name}" if attribute.parent is not None else attribute.name


def unique_violation(error: Exception) -> bool:
    """Whether ``error`` (an IntegrityError) is a unique index of extension values refusing."""
    text = str(error).lower()
    return "_ext_unique_" in text or ("extensionvalue" in text and "unique" in text)


def extension_changes(
    *, tenant: Tenant, resource_type: str, before: dict | None, after: dict | None
) -> dict[str, dict]:
    """The audit entries of what changed between two ``extensions`` values: ``{"<URN>:<attribute>":
    {"before", "after"}}``, writeOnly attributes redacted."""
    before, after = before or {}, after or {}
    secret = {
        (schema.urn, attribute.name)
        for schema in extension_declarations(tenant=tenant).of_type(resource_type)
        for attribute in top_level(schema)
        if attribute.mutability == "writeOnly"
    }
    changes: dict[str, dict] = {}
    for urn in sorted(set(before) | set(after)):
        old, new = before.get(urn) or {}, after.get(urn) or {}
        for name in sorted(set(old) | set(new)):
            if old.get(name) == new.get(name):
                continue
            if (urn, name) in secret:
                entry = {
                    "before": REDACTED if old.get(name) is not None else None,
                    "after": REDACTED if new.get(name) is not None else None,
                }
            else:
                entry = {"before": old.get(name), "after": new.get(name)}
            changes[f"{urn}:{name}"] = entry
    return changes
