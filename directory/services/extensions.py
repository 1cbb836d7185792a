"""Declaring a tenant's extension schemas, changing them, removing them, and purging the values of
what was removed (``directory/models/extensions.py``).

Every change runs under the tenant's schema lock held exclusively (``locks.schema_exclusive``):
the writes under way finish first, and those that come later wait, then find the tenant's
``extensions_stamp`` changed and are worked out anew against the new declarations. While it
holds the lock a change checks the values already stored against what it declares, and refuses,
with the number of resources whose values would not fit and an example, a change those values
would violate (a type, multiValued, a sub-attribute, uniqueness); otherwise it converts them
(``"12"`` to ``12`` when a string becomes an integer) and rewrites their typed rows. Removing an
attribute or a schema keeps its values until ``extension_values_purge``. Each change is one
audit event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from directory.extension_declarations import (
    MAX_SCHEMAS,
    RESOURCE_TYPES,
    DeclarationError,
    attribute_declaration,
    declaration_from_document,
)
from directory.extension_values import convert, top_level, value_rows
from directory.models import (
    ExtensionAttribute,
    ExtensionSchema,
    Group,
    GroupExtensionValue,
    Tenant,
    User,
    UserExtensionValue,
    UserState,
    casefold_key,
)
from directory.models.extensions import ExtensionValue
from directory.services.audit import Actor, audit_record
from directory.services.locks import schema_exclusive

# Per resource type: its model, the model of its extension rows, and how a resource is named.
OWNERS: dict[str, tuple[type, type[ExtensionValue], str]] = {
    "User": (User, UserExtensionValue, "user_name"),
    "Group": (Group, GroupExtensionValue, "display_name"),
}
EXAMPLES = 3  # offending resources named in a refusal, per attribute
BATCH = 500  # resources written per statement when values are converted or purged

# Characteristics whose change may make stored values invalid, or their rows wrong.
_CHECKED = ("type", "multiValued", "caseExact", "uniqueness", "subAttributes")


@dataclass
class DeclarationOutcome:
    """What a declaration did (or, ``dry_run``, would do)."""

    schema: ExtensionSchema
    created: bool = False
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    converted: int = 0
    settings: dict[str, dict] = field(default_factory=dict)  # name, description, required
    warnings: list[str] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.created or self.added or self.changed or self.removed or self.restored or self.settings
        )

    def summary(self) -> str:
        if not self.changes_anything:
            return f"{self.schema.urn}: unchanged."
        parts = [f"{self.schema.urn}: {'declared' if self.created else 'changed'}"]
        for label, names in (
            ("added", self.added),
            ("changed", self.changed),
            ("removed (values kept until purged)", self.removed),
            ("restored", self.restored),
        ):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        if self.settings:
            parts.append(f"settings changed: {', '.join(self.settings)}")
        if self.converted:
            parts.append(f"values converted on {self.converted} resource(s)")
        return "; ".join(parts) + "."


def extension_schema_declare(
    *,
    tenant: Tenant,
    actor: Actor,
    document: Any,
    resource_type: str,
    required: bool | None = None,
    dry_run: bool = False,
) -> DeclarationOutcome:
    """Declare the extension schema ``document`` (RFC 7643 section 7) for ``resource_type``, or
    change the tenant's schema of that URN to it: attributes it no longer lists are removed
    (their values kept), attributes of a removed one's name are restored. ``required``: whether
    every resource of the type must carry it (None: as it was; false for a new one). Raises
    ``DeclarationError`` naming every problem; ``dry_run`` checks and changes nothing."""
    if resource_type not in RESOURCE_TYPES:
        raise DeclarationError([f"An extension schema extends User or Group, not {resource_type!r}."])
    declaration = declaration_from_document(document)
    with transaction.atomic():
        schema_exclusive(tenant=tenant)
        outcome = _declare(tenant, actor, declaration, resource_type, required)
        if dry_run:
            transaction.set_rollback(True)
    if outcome.changes_anything and not dry_run:
        tenant.refresh_from_db(fields=["extensions_stamp"])
    return outcome


def _declare(
    tenant, actor, declaration: dict, resource_type: str, required: bool | None
) -> DeclarationOutcome:
    urn = declaration["id"]
    schemas = list(ExtensionSchema.objects.filter(tenant=tenant))
    schema = next((s for s in schemas if s.urn_key == casefold_key(urn)), None)
    problems = _urn_conflicts(urn, [s for s in schemas if s is not schema])
    if schema is not None and schema.resource_type != resource_type:
        problems.append(f"{schema.urn} extends {schema.resource_type}s; a schema extends one resource type.")
    if schema is None and len([s for s in schemas if s.removed_at is None]) >= MAX_SCHEMAS:
        problems.append(f"A tenant may declare at most {MAX_SCHEMAS} extension schemas.")
    if problems:
        raise DeclarationError(problems)
    now = timezone.now()
    created = schema is None
    if schema is None:
        schema = ExtensionSchema(
            tenant=tenant, resource_type=resource_type, urn=urn, urn_key=casefold_key(urn)
        )
    outcome = DeclarationOutcome(schema=schema, created=created)
    wanted = {
        "name": declaration["name"],
        "description": declaration["description"],
        "required": bool(required) if required is not None or created else schema.required,
    }
    for name, value in wanted.items():
        if not created and getattr(schema, name) != value:
            outcome.settings[name] = {"before": getattr(schema, name), "after": value}
        setattr(schema, name, value)
    if schema.removed_at is not None:
        outcome.settings["removed"] = {"before": True, "after": False}
        schema.removed_at = None
    current = (
        {a.name_key: a for a in ExtensionAttribute.objects.filter(schema=schema, parent=None)}
        if schema.pk
        else {}
    )
    plan = _plan(current, declaration["attributes"], outcome)
    checked = {name: d for name, (a, d, check) in plan.items() if check and a is not None}
    owners, model, label = OWNERS[resource_type]
    conversions = _check_values(tenant, schema, checked, current, owners, model, label) if checked else {}
    if outcome.changes_anything:
        changed = plan_changes(plan, outcome.changed)  # before _apply writes the new declarations
        schema.updated_at = now
        schema.save()
        rebuilt = _apply(schema, plan, current, now)
        outcome.converted = _convert(tenant, schema, conversions, owners, now)
        _rebuild_rows(tenant, schema, rebuilt, owners, model, resource_type)
        outcome.warnings = _warnings(tenant, schema, owners, resource_type, outcome)
        _changed(
            tenant,
            actor,
            action="extension_schema.declared" if created else "extension_schema.changed",
            target_type="extension_schema",
            target_id=schema.pk,
            target_label=schema.urn,
            changes={
                **outcome.settings,
                **({"resource_type": {"before": None, "after": resource_type}} if created else {}),
                **({"added": outcome.added} if outcome.added else {}),
                **({"changed": changed} if changed else {}),
                **({"removed": outcome.removed} if outcome.removed else {}),
                **({"restored": outcome.restored} if outcome.restored else {}),
                **({"converted": outcome.converted} if outcome.converted else {}),
            },
        )
    return outcome


def _changed(tenant: Tenant, actor: Actor, **event) -> None:
    """The tenant's declarations changed: a new stamp (every process then reads them anew, and
    writes worked out against the old ones are refused, ``locks.schema_share``), and the event."""
    Tenant.objects.filter(pk=tenant.pk).update(extensions_stamp=uuid.uuid4())
    audit_record(tenant=tenant, actor=actor, **event)


def _urn_conflicts(urn: str, others: list[ExtensionSchema]) -> list[str]:
    """A URN that another of the tenant's schemas' URNs starts (followed by ":") would make an
    attribute path such as ``<URN>:<attribute>`` ambiguous (RFC 7644 section 3.10)."""
    lowered = urn.lower()
    return [
        f"{urn} and the tenant's {other.urn} would make attribute paths ambiguous: "
        "one URN begins with the other."
        for other in others
        if lowered.startswith(other.urn_key + ":") or other.urn_key.startswith(lowered + ":")
    ]


def _plan(current: dict[str, ExtensionAttribute], declared: list[dict], outcome: DeclarationOutcome) -> dict:
    """``{name key: (stored attribute or None, declaration or None, check values?)}``: what each
    attribute becomes. Names compare ignoring case; a stored spelling is kept."""
    plan: dict[str, tuple[ExtensionAttribute | None, dict | None, bool]] = {}
    for position, wanted in enumerate(declared):
        key = wanted["name"].lower()
        stored = current.get(key)
        wanted = {**wanted, "position": position}
        if stored is None:
            outcome.added.append(wanted["name"])
            plan[key] = (None, wanted, False)
            continue
        wanted["name"] = stored.name
        before = {**attribute_declaration(stored), "position": stored.position}
        restored = stored.removed_at is not None
        if restored:
            outcome.restored.append(stored.name)
        elif _without_positions(before) != _without_positions(wanted):
            outcome.changed.append(stored.name)
        elif before["position"] == position:
            continue
        check = restored or any(before[c] != wanted[c] for c in _CHECKED) or _subs_changed(before, wanted)
        plan[key] = (stored, wanted, check)
    for key, stored in current.items():
        if (
            key not in plan
            and stored.removed_at is None
            and not any(w["name"].lower() == key for w in declared)
        ):
            outcome.removed.append(stored.name)
            plan[key] = (stored, None, False)
    return plan


def _without_positions(declaration: dict) -> dict:
    return {k: v for k, v in declaration.items() if k != "position"}


def _subs_changed(before: dict, wanted: dict) -> bool:
    def shape(d):
        return {
            s["name"].lower(): {c: s[c] for c in _CHECKED if c != "subAttributes"} for s in d["subAttributes"]
        }

    return shape(before) != shape(wanted)


def plan_changes(plan: dict, names: list[str]) -> dict[str, dict]:
    """The audit entry of each changed attribute: what it was declared as, and what it is now."""
    out = {}
    for stored, wanted, _ in plan.values():
        if stored is not None and wanted is not None and stored.name in names:
            before = attribute_declaration(stored)
            out[stored.name] = {
                "before": {k: v for k, v in before.items() if v != wanted.get(k)},
                "after": {k: v for k, v in _without_positions(wanted).items() if v != before.get(k)},
            }
    return out


def _check_values(tenant, schema, checked: dict, current, owners, model, label) -> dict:
    """The values stored under ``checked`` attributes, converted to their new declarations:
    ``{resource pk: new extensions}`` for those that change. The resources are locked (in id
    order) for the rest of the transaction. ``DeclarationError`` with, per attribute, how many
    resources hold a value that does not fit, and examples."""
    stored = (
        owners._default_manager.filter(tenant=tenant, extensions__has_key=schema.urn)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", label, "extensions", *(["state"] if owners is User else []))
    )
    offenders: dict[str, list[str]] = defaultdict(list)
    converted: dict = {}
    unique_keys: dict[str, dict] = defaultdict(dict)  # name -> {key: (pk, label) of its first holder}
    duplicates: dict[str, list[str]] = defaultdict(list)
    for pk, name, extensions, *state in stored:
        values = (extensions or {}).get(schema.urn)
        if not isinstance(values, dict):
            continue
        hidden = bool(state) and state[0] == UserState.DELETED
        new_values = dict(values)
        for key, wanted in checked.items():
            stored_name = current[key].name
            if values.get(stored_name) is None:
                continue
            try:
                new = convert(values[stored_name], wanted)
            except ValueError as error:
                offenders[stored_name].append(f"{name!r} {error}")
                continue
            new_values[stored_name] = new
            if not hidden:
                own: set = set()
                for unique in _unique_keys(wanted, new):
                    first_pk, first = unique_keys[stored_name].setdefault(unique, (pk, name))
                    if first_pk != pk or unique in own:
                        duplicates[stored_name].append(f"{first!r} and {name!r}")
                    own.add(unique)
        if new_values != values:
            converted[pk] = {**extensions, schema.urn: new_values}
    problems = []
    kind = "users" if owners is User else "groups"
    for name, found in offenders.items():
        wanted = checked[name.lower()]
        problems.append(
            f"{len(found)} {kind} hold values of {name} that the new declaration (type {wanted['type']}"
            f"{', multi-valued' if wanted['multiValued'] else ''}) does not allow, e.g. "
            + "; ".join(found[:EXAMPLES])
        )
    for name, found in duplicates.items():
        problems.append(
            f"{len(found)} pair(s) of {kind} share values of {name}, which uniqueness server forbids, e.g. "
            + "; ".join(found[:EXAMPLES])
        )
    if problems:
        raise DeclarationError(problems)
    return converted


def _unique_keys(declaration: dict, value) -> list:
    """The keys under which a value (converted) must be unique, when its declaration says so."""
    items = value if isinstance(value, list) else [value]
    keys = []
    if declaration["uniqueness"] == "server":
        keys += [_key(declaration, item) for item in items]
    for sub in declaration["subAttributes"]:
        if sub["uniqueness"] == "server":
            keys += [
                (sub["name"], _key(sub, item.get(sub["name"])))
                for item in items
                if isinstance(item, dict) and item.get(sub["name"]) is not None
            ]
    return keys


def _key(declaration: dict, value) -> Any:
    if declaration["type"] == "string" and not declaration["caseExact"]:
        return casefold_key(str(value))
    return value


def _apply(schema: ExtensionSchema, plan: dict, current: dict, now) -> list[int]:
    """Write the attributes as planned; the ids of those whose rows must be rebuilt."""
    rebuilt = []
    for stored, wanted, check in plan.values():
        if wanted is None:
            assert stored is not None
            stored.removed_at = now
            stored.save(update_fields=["removed_at"])
            continue
        attribute = stored or ExtensionAttribute(schema=schema)
        _set(attribute, wanted)
        attribute.removed_at = None
        attribute.save()
        subs = {s.name_key: s for s in attribute.sub_attributes.all()} if stored is not None else {}
        for position, sub_wanted in enumerate(wanted["subAttributes"]):
            sub = subs.pop(sub_wanted["name"].lower(), None) or ExtensionAttribute(
                schema=schema, parent=attribute
            )
            _set(sub, {**sub_wanted, "name": sub.name or sub_wanted["name"], "position": position})
            sub.save()
        for gone in subs.values():  # checked: no stored value uses it
            gone.delete()
        if check:
            rebuilt.append(attribute.pk)
    return rebuilt


def _set(attribute: ExtensionAttribute, declaration: dict) -> None:
    attribute.name = declaration["name"]
    attribute.name_key = declaration["name"].lower()
    attribute.type = declaration["type"]
    attribute.multi_valued = declaration["multiValued"]
    attribute.description = declaration["description"]
    attribute.required = declaration["required"]
    attribute.case_exact = declaration["caseExact"]
    attribute.mutability = declaration["mutability"]
    attribute.returned = declaration["returned"]
    attribute.uniqueness = declaration["uniqueness"]
    attribute.canonical_values = declaration["canonicalValues"]
    attribute.reference_types = declaration["referenceTypes"]
    attribute.position = declaration["position"]


def _convert(tenant, schema, converted: dict, owners, now) -> int:
    """Store the converted values (locked by ``_check_values``), each resource at a new version:
    what it shows has changed."""
    _write_extensions(owners, converted, now=now)
    return len(converted)


def _write_extensions(owners, extensions: dict, *, now=None) -> None:
    """Set the ``extensions`` of the resources ``{pk: extensions}`` (locked by the caller), with a
    new version and time when ``now`` is given. One statement sent per resource, all in a pipeline
    (psycopg's executemany): Django's bulk_update builds a CASE of every row, which took 10 s at
    20,000 users while the tenant's writes waited."""
    if not extensions:
        return
    table = connection.ops.quote_name(owners._meta.db_table)
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    stamp = ", version = version + 1, updated_at = %s" if now is not None else ""
    sql = f"UPDATE {table} SET extensions = %s{json_cast}{stamp} WHERE id = %s"  # noqa: S608 (names of ours)
    meta = owners._meta
    column, updated, key = meta.get_field("extensions"), meta.get_field("updated_at"), meta.pk
    stamped = [updated.get_db_prep_save(now, connection)] if now is not None else []
    params = [
        [column.get_db_prep_save(value, connection), *stamped, key.get_db_prep_save(pk, connection)]
        for pk, value in extensions.items()
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(sql, params[start : start + BATCH])


def _rebuild_rows(tenant, schema, rebuilt: list[int], owners, model, resource_type: str) -> None:
    """The typed rows of the attributes ``rebuilt``, anew from the stored values (of the
    resources SCIM sees: a deleted user has none)."""
    if not rebuilt:
        return
    attributes = list(ExtensionAttribute.objects.filter(pk__in=rebuilt).prefetch_related("sub_attributes"))
    sub_ids = ExtensionAttribute.objects.filter(parent_id__in=rebuilt).values_list("pk", flat=True)
    model._default_manager.filter(tenant=tenant, attribute_id__in=[*rebuilt, *sub_ids]).delete()
    declared = _Only(schema, attributes)
    resources = owners._default_manager.filter(tenant=tenant, extensions__has_key=schema.urn)
    if owners is User:
        resources = resources.exclude(state=UserState.DELETED)
    rows: list[ExtensionValue] = []
    for pk, extensions in resources.order_by("pk").values_list("pk", "extensions").iterator(chunk_size=2000):
        rows += value_rows(model, tenant_id=tenant.pk, owner_id=pk, extensions=extensions, schemas=[declared])
        if len(rows) >= 5000:
            model._default_manager.bulk_create(rows)
            rows = []
    model._default_manager.bulk_create(rows)


class _Only:
    """A schema seen through only some of its attributes (for ``value_rows``)."""

    def __init__(self, schema: ExtensionSchema, attributes: list[ExtensionAttribute]):
        self.urn = schema.urn
        self._attributes = attributes

    @property
    def attributes(self):
        return self

    def all(self):
        return self._attributes


def _warnings(tenant, schema, owners, resource_type, outcome) -> list[str]:
    """What the change does not refuse but a person should know: required attributes, and
    required extensions, that existing resources lack (their next full replace without them is
    refused with 400)."""
    required = [a.name for a in top_level(schema) if a.required and a.removed_at is None]
    if not required and not schema.required:
        return []
    resources = owners._default_manager.filter(tenant=tenant)
    if owners is User:
        resources = resources.exclude(state=UserState.DELETED)
    kind = "users" if owners is User else "groups"
    missing: dict[str | None, int] = defaultdict(int)
    for extensions in resources.values_list("extensions", flat=True).iterator(chunk_size=2000):
        values = (extensions or {}).get(schema.urn)
        if not values:
            missing[None] += 1
        for name in required:
            if not values or values.get(name) in (None, "", []):
                missing[name] += 1
    warnings = [
        f"{missing[name]} {kind} have no {name}, now required: their next PUT or PATCH without it is refused."
        for name in required
        if missing[name]
    ]
    if schema.required and not required and missing[None]:
        warnings.append(f"{missing[None]} {kind} carry no {schema.urn}, now required.")
    return warnings


def extension_schema_remove(*, tenant: Tenant, actor: Actor, urn: str) -> ExtensionSchema:
    """Remove the schema ``urn``: no longer served or accepted; its values are kept until
    ``extension_values_purge``. Declaring it again restores it."""
    with transaction.atomic():
        schema_exclusive(tenant=tenant)
        schema = (
            ExtensionSchema.objects.select_for_update()
            .filter(tenant=tenant, urn_key=casefold_key(urn))
            .first()
        )
        if schema is None:
            raise DeclarationError([f"The tenant has no extension schema {urn}."])
        if schema.removed_at is None:
            schema.removed_at = timezone.now()
            schema.save(update_fields=["removed_at"])
            _changed(
                tenant,
                actor,
                action="extension_schema.removed",
                target_type="extension_schema",
                target_id=schema.pk,
                target_label=schema.urn,
                changes={"removed": {"before": False, "after": True}},
            )
    tenant.refresh_from_db(fields=["extensions_stamp"])
    return schema


def extension_values_purge(*, tenant: Tenant, actor: Actor, urn: str | None = None) -> dict[str, int]:
    """Delete the values of the removed schemas and attributes (of ``urn`` only, if given) and
    their declarations: ``{"<URN>[:<attribute>]": resources that held values}``. Irreversible, and
    the only way values of something declared are lost."""
    purged: dict[str, int] = {}
    with transaction.atomic():
        schema_exclusive(tenant=tenant)
        schemas = ExtensionSchema.objects.filter(tenant=tenant)
        if urn is not None:
            schemas = schemas.filter(urn_key=casefold_key(urn))
        for schema in schemas:
            owners = OWNERS[schema.resource_type][0]
            if schema.removed_at is not None:
                names = None  # every attribute
            else:
                names = [
                    a.name
                    for a in ExtensionAttribute.objects.filter(
                        schema=schema, parent=None, removed_at__isnull=False
                    )
                ]
                if not names:
                    continue
            count = _strip(tenant, schema, names, owners)
            purged[schema.urn if names is None else f"{schema.urn}:{','.join(names)}"] = count
            if names is None:
                schema.delete()  # its attributes and their rows with it
            else:
                ExtensionAttribute.objects.filter(schema=schema, parent=None, name__in=names).delete()
        if purged:
            _changed(
                tenant,
                actor,
                action="extension_values.purged",
                target_type="tenant",
                target_id=tenant.pk,
                target_label=tenant.slug,
                changes={"purged": purged},
            )
    tenant.refresh_from_db(fields=["extensions_stamp"])
    return purged


def _strip(tenant, schema, names: list[str] | None, owners) -> int:
    """Remove the values of ``names`` (all, when None) of ``schema`` from every resource's
    ``extensions``, hidden users' included; the number of resources that held some."""
    stored = (
        owners._default_manager.filter(tenant=tenant, extensions__has_key=schema.urn)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", "extensions")
    )
    changed = {}
    for pk, held in stored.iterator(chunk_size=2000):
        values = dict(held.get(schema.urn) or {})
        kept = {} if names is None else {k: v for k, v in values.items() if k not in names}
        if kept == values:
            continue
        extensions = {k: v for k, v in held.items() if k != schema.urn}
        if kept:
            extensions[schema.urn] = kept
        changed[pk] = extensions
    _write_extensions(owners, changed)
    return len(changed)
