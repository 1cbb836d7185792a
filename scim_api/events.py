"""The events drawn from published audit events, with the resource as SCIM renders it (issue 22;
the sequencer is ``directory.services.events``, which calls ``events_draw`` for each run).

The resource is rendered from the row its write left (the source's snapshot), so an event shows
the user or group as it was committed, not as it is when the event is read. What the row does
not hold is left out: a user's ``groups`` and a group's ``members`` (their changes are the
``group.user_added`` and ``group.user_removed`` events), and a manager's ``displayName`` is the
manager's name when the event is published.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.db.models import JSONField, Model

from directory.models import Group
from directory.services.events import (
    MEMBERS_ONE_BY_ONE,
    MEMBERS_PER_EVENT,
    OFFBOARDING,
    REDACTED_SOURCE,
    Drawn,
    Source,
    scim_base_url,
)
from scim_api.bindings import BINDINGS, Binding, MemberOf, Members
from scim_api.projection import Projection
from scim_api.resources import RESOURCES
from scim_api.tenant_types import resource_type_of

logger = logging.getLogger(__name__)

# The bound resource types by the audit trail's name for them (its model's: "user", "group").
BOUND: dict[str, Binding] = {str(b.model._meta.model_name): b for b in BINDINGS.values()}
MODELS: dict[str, type[Model]] = {kind: b.model for kind, b in BOUND.items()}


def _left_out(binding: Binding) -> str:
    """What a document drawn from the row leaves out: the memberships (module docstring)."""
    return ",".join(name for name, r in binding.derived.items() if isinstance(r, Members | MemberOf))


# What each published action becomes when it cannot be drawn in full (``events_draw``).
PLAIN = {
    "user.restored": "user.created",
    "offboarding.purged": "user.purged",
    "burst.detected": "burst.quarantined",
    **OFFBOARDING,
}


def events_draw(sources: list[Source]) -> None:
    """Fill each source's ``drawn`` with the events its audit event becomes. A source that cannot be
    drawn (a row the renderer chokes on) becomes its event without ``resource``, marked
    ``"incomplete": true``, and the error is logged: one bad row never stops the publication."""
    rendered = _render_all(sources)
    for source in sources:
        try:
            _draw(source, rendered.get(source.audit.pk))
        except Exception:
            logger.exception("event not drawn in full", extra={"audit_event": source.audit.pk})
            audit = source.audit
            kind = PLAIN.get(audit.action, audit.action)
            data = {"id": audit.target_id, "incomplete": True}
            source.drawn = [Drawn(kind, audit.target_type.title(), audit.target_id, data)]


def _draw(source: Source, document: dict | None) -> None:
    audit = source.audit
    action, target = audit.action, audit.target_id
    changes = audit.changes if isinstance(audit.changes, dict) else {}
    if source.snapshot == REDACTED_SOURCE:  # purged before it was published: ids and states only
        source.snapshot = None
        changes = {key: value for key, value in changes.items() if key in ("case", "state")}
    if action in ("user.created", "user.restored"):
        data = _resource_data("User", target, document, source.snapshot)
        source.drawn.append(_drawn("user.created", "User", target, data | _flag(action == "user.restored")))
    elif action == "user.updated":
        before = _previous(source, changes, document)
        data = _resource_data("User", target, document, source.snapshot) | {"previous_attributes": before}
        source.drawn.append(_drawn(_user_update_type(changes), "User", target, data))
    elif action == "user.deleted":
        data = _resource_data("User", target, None, None) | _version(source.snapshot)
        source.drawn.append(_drawn("user.deleted", "User", target, data))
    elif action == "group.created":
        data = _resource_data("Group", target, document, source.snapshot)
        source.drawn.append(_drawn("group.created", "Group", target, data))
        source.drawn += _member_events(source, _members(changes, "after"), "group.user_added")
    elif action == "group.updated":
        attributes = {k: v for k, v in changes.items() if k not in ("members", "ignored")}
        if attributes:
            before = _previous(source, attributes, document)
            data = _resource_data("Group", target, document, source.snapshot) | {
                "previous_attributes": before
            }
            source.drawn.append(_drawn("group.updated", "Group", target, data))
        source.drawn += _member_events(source, _members(changes, "added"), "group.user_added")
        source.drawn += _member_events(source, _members(changes, "removed"), "group.user_removed")
    elif action == "group.deleted":
        data = _resource_data("Group", target, None, None) | _version(source.snapshot)
        source.drawn.append(_drawn("group.deleted", "Group", target, data))
    elif action in OFFBOARDING or action == "offboarding.purged":
        state = _object(changes.get("state"))
        case = {
            "id": changes.get("case"),
            "state": state.get("after"),
            "previous_state": state.get("before"),
            **({"reason": changes["reason"]} if changes.get("reason") else {}),
        }
        if action == "offboarding.purged":
            data = {"resource_type": "User", "id": target, "case": case}
            source.drawn.append(_drawn("user.purged", "User", target, data))
        else:
            data = {"case": case, "user": {"id": target}}
            source.drawn.append(_drawn(OFFBOARDING[action], "OffboardingCase", target, data))
    elif action in ("burst.detected", "burst.released"):
        kind = "burst.quarantined" if action == "burst.detected" else "burst.released"
        burst = {"id": _int(target), **{k: v for k, v in changes.items() if k != "users"}}
        source.drawn.append(_drawn(kind, "Burst", target, {"burst": burst}))
    elif action in ("token.created", "token.revoked"):
        token = {"id": _int(target), "label": audit.target_label, **_afters(changes)}
        source.drawn.append(_drawn(action, "Token", target, {"token": token}))


def _drawn(kind: str, resource_type: str, resource_id: str, data: dict) -> Drawn:
    version = data.get("_version")
    data.pop("_version", None)
    return Drawn(kind, resource_type, resource_id, data, version)


def _flag(restored: bool) -> dict:
    return {"restored": True} if restored else {}


def _int(value: str) -> Any:
    return int(value) if value.isdigit() else value


def _afters(changes: dict) -> dict:
    return {k: v.get("after") for k, v in changes.items() if isinstance(v, dict)}


def _user_update_type(changes: dict) -> str:
    """A change of ``active`` is a suspension or a reactivation (with whatever else changed)."""
    active = changes.get("active")
    if isinstance(active, dict) and (active.get("before") is True) != (active.get("after") is True):
        return "user.reactivated" if active.get("after") is True else "user.suspended"
    return "user.updated"


def _version(snapshot: dict | None) -> dict:
    version = snapshot.get("version") if snapshot else None
    return {"version": f'W/"{version}"', "_version": version} if version is not None else {}


def _resource_data(
    resource_type: str, resource_id: str, document: dict | None, snapshot: dict | None
) -> dict:
    data: dict[str, Any] = {"resource_type": resource_type, "id": resource_id, **_version(snapshot)}
    if document is not None:
        data["resource"] = document
    elif snapshot:  # it should have been rendered (events_draw logged why not)
        data["incomplete"] = True
    return data


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _members(changes: dict, key: str) -> list[str]:
    members = changes.get("members")
    return list(members.get(key) or []) if isinstance(members, dict) else []


def _member_events(source: Source, member_ids: list[str], kind: str) -> list[Drawn]:
    """One event per member, or, for more than MEMBERS_ONE_BY_ONE, events listing up to
    MEMBERS_PER_EVENT each (the README states the rule)."""
    if not member_ids:
        return []
    snapshot = source.snapshot or {}
    group = {
        "id": source.audit.target_id,
        "displayName": snapshot.get("display_name", source.audit.target_label),
    }
    version = snapshot.get("version")
    if version is not None:
        group["version"] = f'W/"{version}"'
    kinds = _member_kinds(member_ids)
    members = [{"value": pk, "type": kinds.get(pk, "User")} for pk in member_ids]
    if len(members) <= MEMBERS_ONE_BY_ONE:
        datas: list[dict[str, Any]] = [{"group": group, "member": member} for member in members]
    else:
        step = MEMBERS_PER_EVENT
        datas = [{"group": group, "members": members[i : i + step]} for i in range(0, len(members), step)]
    return [Drawn(kind, "Group", source.audit.target_id, data, version) for data in datas]


def _member_kinds(member_ids: list[str]) -> dict[str, str]:
    """Which of the ids are groups (the rest are users): one query per run of one change."""
    groups = Group.objects.filter(pk__in=member_ids).values_list("pk", flat=True)
    return {str(pk): "Group" for pk in groups}


# Rendering -----------------------------------------------------------------------------------------


def _render_all(sources: list[Source]) -> dict[int, dict]:
    """The SCIM documents of the sources' resources as their writes left them, by audit event id:
    one rendering per tenant and type, so that a run of many renders in few queries."""
    wanted: dict[tuple[int, str], list[tuple[int, Any]]] = defaultdict(list)
    for source in sources:
        model = MODELS.get(source.audit.target_type)
        if model is None or not source.snapshot or source.tenant is None:
            continue
        if source.snapshot == REDACTED_SOURCE or source.audit.action in ("user.deleted", "group.deleted"):
            continue
        try:
            instance = instance_from_snapshot(model, source.snapshot)
        except Exception:
            logger.exception("event resource not read", extra={"audit_event": source.audit.pk})
            continue
        wanted[(source.tenant.pk, source.audit.target_type)].append((source.audit.pk, instance))
    tenants = {source.tenant.pk: source.tenant for source in sources if source.tenant is not None}
    rendered: dict[int, dict] = {}
    for (tenant_id, kind), pairs in wanted.items():
        documents: list[dict | None]
        try:
            documents = list(_render(tenants[tenant_id], kind, [i for _, i in pairs]))
        except Exception:  # one bad row: each alone, so that only it goes without its resource
            logger.exception("events rendered one by one", extra={"tenant": tenant_id})
            documents = [_render_alone(tenants[tenant_id], kind, instance) for _, instance in pairs]
        for (pk, _), document in zip(pairs, documents, strict=True):
            if document is not None:
                rendered[pk] = document
    return rendered


def _render_alone(tenant, kind: str, instance) -> dict | None:
    try:
        return _render(tenant, kind, [instance])[0]
    except Exception:
        logger.exception("event resource not rendered", extra={"resource": str(instance.pk)})
        return None


def _render(tenant, kind: str, instances: list) -> list[dict]:
    binding = BOUND[kind]
    projection = Projection.from_params(resource_type_of(tenant, binding.name), None, _left_out(binding))
    return RESOURCES[binding.endpoint].render_many(tenant, instances, projection, scim_base_url())


def _previous(source: Source, changes: dict, document: dict | None) -> dict[str, Any]:
    """``previous_attributes``: the SCIM attributes the change altered, as they were. The snapshot,
    with the audit event's ``before`` values put back, is rendered and compared with ``document``
    (the resource as written) attribute by attribute (an extension's attributes one by one)."""
    model = MODELS.get(source.audit.target_type)
    if model is None or not source.snapshot or source.tenant is None or document is None:
        return {}
    before = instance_from_snapshot(model, source.snapshot)
    fields = {f.name: f for f in model._meta.concrete_fields}
    for key, change in changes.items():
        if not isinstance(change, dict) or "before" not in change:
            continue
        if key in fields and key not in ("password", "id", "tenant"):
            setattr(before, fields[key].attname, change["before"])
        elif ":" in key and hasattr(before, "extensions"):
            urn, _, name = key.rpartition(":")
            values = dict(before.extensions or {})
            values[urn] = {**(values.get(urn) or {}), name: change["before"]}
            if change["before"] is None:
                values[urn].pop(name, None)
            before.extensions = values
    [old] = _render(source.tenant, source.audit.target_type, [before])
    new = document
    previous: dict[str, Any] = {}
    for key in sorted(set(old) | set(new)):
        if key in ("meta", "schemas", "id"):
            continue
        if (
            key.startswith("urn:")
            and isinstance(old.get(key), dict | None)
            and isinstance(new.get(key), dict | None)
        ):
            inner_old, inner_new = old.get(key) or {}, new.get(key) or {}
            changed = {
                n: inner_old.get(n)
                for n in set(inner_old) | set(inner_new)
                if inner_old.get(n) != inner_new.get(n)
            }
            if changed:
                previous[key] = changed
        elif old.get(key) != new.get(key):
            previous[key] = old.get(key)
    return previous


def instance_from_snapshot(model: type[Model], snapshot: dict[str, Any]) -> Any:
    """A model instance from a row's columns as JSON (PostgreSQL's ``to_jsonb``, SQLite's
    ``json_object``: migration 0028's trigger)."""
    values = {}
    for f in model._meta.concrete_fields:
        if f.column not in snapshot:
            continue
        raw = snapshot[f.column]
        value = raw if isinstance(f, JSONField) else f.to_python(raw)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        values[f.attname] = value
    instance = model(**values)
    instance._state.adding = False
    instance.direct_groups = None  # type: ignore[attr-defined]  # rendering reads no groups (_left_out)
    return instance
