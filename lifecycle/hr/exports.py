"""The HR list as CSV: every case the reviewer's filters select (not just a page), streamed in
chunks, dates in the reviewer's time zone. Exporting leavers' personal data is recorded in the
audit trail of each tenant the export contains. Cells a spreadsheet would take for a formula
are quoted (``directory.csv_stream``)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from directory.csv_stream import csv_lines
from directory.models import Tenant
from directory.services.audit import Actor, audit_record
from lifecycle.models import OffboardingCase
from lifecycle.templatetags.hr import days_left, person_email, person_name

HEADER = [
    "case",
    "tenant",
    "name",
    "userName",
    "email",
    "employee number",
    "title",
    "department",
    "manager",
    "state",
    "started by",
    "deprovisioned at",
    "deletion due",
    "days left",
    "legal hold",
    "burst",
    "flaps",
]


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z") if value else ""


def _row(case: OffboardingCase) -> list:
    user, manager = case.user, case.user.manager if case.user else None
    return [
        case.pk,
        case.tenant.name,
        person_name(user),
        user.user_name if user else "",
        person_email(user),
        user.employee_number if user else "",
        user.title if user else "",
        user.department if user else "",
        person_name(manager) if manager else "",
        case.get_state_display(),
        f"{case.opened_by} ({case.get_trigger_display().lower()})",
        _when(case.deprovisioned_at),
        _when(case.deletion_due_at),
        days_left(case.deletion_due_at),
        case.hold_reason if case.state == "on_hold" else "",
        case.burst_id or "",
        case.flaps,
    ]


def cases_csv(cases: QuerySet[OffboardingCase], *, by, query: str) -> Iterator[str]:
    """Record the export, then yield the CSV's lines (the header first)."""
    actor = Actor.for_admin(by)
    for tenant in Tenant.objects.filter(pk__in=cases.order_by().values("tenant_id")):
        audit_record(
            tenant=tenant,
            actor=actor,
            action="hr.cases_exported",
            target_type="export",
            target_id=by.pk,
            target_label=by.get_username(),
            changes={"filters": query},
        )
    return _lines(cases, timezone.get_current_timezone())


def _lines(cases: QuerySet[OffboardingCase], zone) -> Iterator[str]:
    """The rows, in ``zone``: they are made as the response streams, after the request's own
    time zone (lifecycle.hr.access) has been given up."""
    with timezone.override(zone):
        yield from csv_lines(HEADER, (_row(case) for case in cases.iterator(chunk_size=500)))
