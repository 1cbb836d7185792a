"""The audit trail exported for auditors and SIEMs: CSV, JSON lines, and OCSF 1.3 (Account Change,
class 3001, for events about users; Group Management, 3006, for groups; the Base Event, 0, for the
rest), one event a line, streamed from the database in chunks so that a million events take the
memory of one chunk (``manage.py export_audit``; the admin's export offers the same)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from directory.csv_stream import csv_lines
from directory.models import AuditEvent

CHUNK = 2000
COLUMNS = (
    "id",
    "occurred_at",
    "tenant__slug",
    "actor_type",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "request_id",
)
CSV_HEADER = [c.replace("tenant__slug", "tenant") for c in COLUMNS]
OCSF_VERSION = "1.3.0"
ACCOUNT_CHANGE, GROUP_MANAGEMENT, BASE_EVENT = 3001, 3006, 0
OTHER = 99
# Activity ids of OCSF's Account Change and Group Management classes, by Roster's action.
ACCOUNT_ACTIVITIES = {"user.created": 1, "user.restored": 2, "user.deleted": 6, "offboarding.purged": 6}


def audit_events_selected(
    *,
    tenant_slug: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
) -> QuerySet[AuditEvent]:
    """The events to export, oldest first: of a tenant, within ``[since, until)``, whose action
    starts with ``action``, whose actor's label or target's id or label contains the text."""
    events = AuditEvent.objects.order_by("id")
    if tenant_slug:
        events = events.filter(tenant__slug=tenant_slug)
    if since:
        events = events.filter(occurred_at__gte=since)
    if until:
        events = events.filter(occurred_at__lt=until)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if target:
        events = events.filter(Q(target_id=target) | Q(target_label__icontains=target))
    return events


def audit_export(events: QuerySet[AuditEvent], fmt: str) -> Iterator[str]:
    """The lines of ``events`` in format ``fmt`` (csv, jsonl or ocsf), each ending in a newline."""
    rows = events.values(*COLUMNS).iterator(chunk_size=CHUNK)
    return FORMATS[fmt](rows)


def _csv(rows: Iterator[dict]) -> Iterator[str]:
    return csv_lines(CSV_HEADER, (_csv_values(row) for row in rows), lineterminator="\n")


def _csv_values(row: dict) -> list:
    values = [row[c] for c in COLUMNS]
    values[1] = row["occurred_at"].isoformat()
    values[9] = json.dumps(row["changes"], sort_keys=True)
    return values


def _record(row: dict) -> dict[str, Any]:
    record = {("tenant" if c == "tenant__slug" else c): row[c] for c in COLUMNS}
    record["occurred_at"] = row["occurred_at"].isoformat()
    return record


def _jsonl(rows: Iterator[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(_record(row), sort_keys=True) + "\n"


def ocsf_event(row: dict) -> dict[str, Any]:
    """One audit event as an OCSF event of its class (the required attributes, and what Roster
    knows beside them in ``unmapped``)."""
    action, target_type = row["action"], row["target_type"]
    if target_type == "user":
        class_uid = ACCOUNT_CHANGE
        activity = ACCOUNT_ACTIVITIES.get(action) or _enabled_or_disabled(row["changes"])
        subject: dict[str, Any] = {"user": {"uid": row["target_id"], "name": row["target_label"]}}
    elif target_type == "group":
        class_uid = GROUP_MANAGEMENT
        activity, member = _membership(action, row["changes"])
        subject = {"group": {"uid": row["target_id"], "name": row["target_label"]}}
        # The class asks for a user or privileges: the member added or removed, if one.
        if member:
            subject["user"] = {"uid": member}
        else:
            subject["privileges"] = []
    else:
        class_uid, activity, subject = BASE_EVENT, OTHER, {}
    event = {
        "class_uid": class_uid,
        "category_uid": class_uid // 1000,
        "activity_id": activity,
        "type_uid": class_uid * 100 + activity,
        "severity_id": 1,  # informational
        "status_id": 1,  # success: the trail records what happened
        "time": int(row["occurred_at"].timestamp() * 1000),
        "message": action,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": str(row["id"]),
            "product": {"name": "Roster", "vendor_name": "Roster"},
            "log_name": "audit",
            **({"tenant_uid": row["tenant__slug"]} if row["tenant__slug"] else {}),
            **({"correlation_uid": row["request_id"]} if row["request_id"] else {}),
        },
        "actor": {"user": {"name": row["actor_label"], "type": row["actor_type"]}},
        "unmapped": {"action": action, "target_type": target_type, "changes": row["changes"]},
        **subject,
    }
    return event


def _membership(action: str, changes: dict | None) -> tuple[int, str | None]:
    """A group's write that only added members (Add User, 3) or only removed some (Remove User,
    4), with the first member named; any other write is Other (99)."""
    changes = changes if isinstance(changes, dict) else {}
    members = changes.get("members")
    if action != "group.updated" or not isinstance(members, dict) or set(changes) - {"members", "ignored"}:
        return OTHER, None
    added, removed = members.get("added") or [], members.get("removed") or []
    if added and not removed:
        return 3, str(added[0])
    if removed and not added:
        return 4, str(removed[0])
    return OTHER, None


def _enabled_or_disabled(changes: dict | None) -> int:
    """A user's write that turned ``active`` on (Enable, 2) or off (Disable, 5); else Other."""
    after = ((changes or {}).get("active") or {}).get("after") if isinstance(changes, dict) else None
    return {True: 2, False: 5}.get(after, OTHER) if isinstance(after, bool) else OTHER


def _ocsf(rows: Iterator[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(ocsf_event(row), sort_keys=True) + "\n"


FORMATS: dict[str, Callable[[Iterator[dict]], Iterator[str]]] = {"csv": _csv, "jsonl": _jsonl, "ocsf": _ocsf}
