"""The evidence pack as CSV, and the record of every export of it.

The CSV has one line per termination (``lifecycle.evidence``), streamed; times in UTC, the time to
access ended also in seconds, so that a spreadsheet computes with them; cells that would start a
formula are quoted (``directory.csv_stream``). Each export (CSV or the printable page) is an
``evidence.exported`` event of the tenant, with its period and format: an auditor's copy of
leavers' personal data leaves a trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from directory.csv_stream import csv_lines
from directory.models import Tenant
from directory.services.audit import Actor, audit_record
from lifecycle.evidence import Termination, terminations_for

HEADER = [
    "case",
    "tenant",
    "user id",
    "userName",
    "name",
    "trigger",
    "started by",
    "state",
    "deprovisioned (UTC)",
    "access ended (UTC)",
    "seconds to access ended",
    "deleted (UTC)",
    "purged (UTC)",
    "cancelled (UTC)",
    "approved by",
    "approved (UTC)",
    "legal holds",
    "breach",
]


def utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def approvals_text(row: Termination) -> str:
    """ "reviewer rita (first, early); reviewer sam": every approval, in order."""
    parts = []
    for approval in row.approvals:
        notes = [n for n, on in (("first of two", approval.first), ("early", approval.early)) if on]
        parts.append(approval.by + (f" ({', '.join(notes)})" if notes else ""))
    return "; ".join(parts)


def holds_text(row: Termination) -> str:
    """Each hold: placed when and by whom, why, and its release."""
    parts = []
    for hold in row.holds:
        text = f"{utc(hold.at)} by {hold.by}: {hold.reason}"
        if hold.released_at is not None:
            text += f"; released {utc(hold.released_at)} by {hold.released_by}"
        parts.append(text)
    return " | ".join(parts)


def _seconds(value: timedelta | None) -> str:
    return "" if value is None else str(round(value.total_seconds()))


def _row(tenant: Tenant, row: Termination) -> list:
    return [
        row.case_id,
        tenant.slug,
        row.user_id,
        row.user_name,
        row.name,
        row.trigger,
        row.opened_by,
        row.state,
        utc(row.deprovisioned_at),
        utc(row.access_ended_at),
        _seconds(row.time_to_access_ended),
        utc(row.deleted_at),
        utc(row.purged_at),
        utc(row.cancelled_at),
        approvals_text(row),
        utc(row.approved_at),
        holds_text(row),
        row.breach,
    ]


def evidence_exported_record(*, tenant: Tenant, by, since: date, until: date, fmt: str) -> None:
    """The ``evidence.exported`` event of ``tenant``: who took the pack, of which period, how."""
    audit_record(
        tenant=tenant,
        actor=Actor.for_admin(by),
        action="evidence.exported",
        target_type="tenant",
        target_id=tenant.pk,
        target_label=tenant.slug,
        changes={"since": since.isoformat(), "until": until.isoformat(), "format": fmt},
    )


def evidence_csv(*, tenant: Tenant, since: datetime, until: datetime) -> Iterator[str]:
    """The CSV's lines, the header first, as the response streams them."""
    return csv_lines(HEADER, (_row(tenant, row) for row in terminations_for(tenant, since, until)))
