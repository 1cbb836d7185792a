"""The evidence pack's reads (issue 21): for a tenant and a period, every termination with the
times auditors ask for (SOC 2 CC6.2 and CC6.3, ISO 27001 A.5.18: access removed on termination,
in time, and its removal approved), who approved the deletion, the legal holds, and whether access
ended within the tenant's ``access_ended_sla``; and the median and 95th percentile of the times
from the deprovision to access ended and to deletion, which the dashboard shows too.

A termination is an offboarding case, counted in the period of its deprovision. Every case counts,
whatever opened it (its trigger is shown): an auditor is owed every leaver, and today the only
triggers are the identity provider's ``active: false`` and DELETE. Its times are the case's:
``deprovisioned_at``, when the IdP's request arrived (the deactivation's own audit event, for a case
a worker opened later: ``lifecycle.deactivations``), and ``access_ended_at``, when the user was
suspended or hidden, which Roster does in that very request; a deletion never comes first (a case
is deleted only from states whose user is suspended or hidden already: ``case_agrees``).

The pack does not take the record's word for it alone: a case still under way whose user the
directory shows *active* has not ended access, whatever the case says (only a fault, or a hand edit
of the database, leaves a user so), and once the SLA has passed that is an open breach. Both rules
are one SQL annotation (``_cases``), so that the rows, the summary's counts and the durations agree.

Who approved and the holds come from the audit trail (the ``offboarding.*`` events naming the case),
which keeps who acted and when through the purge, as the case keeps its ids; after the purge the
person is named only as the trail names them, ``[purged]``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from uuid import UUID

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from directory.models import AuditEvent, Tenant, UserState
from directory.services.audit import PURGED
from lifecycle.models import CaseState, OffboardingCase
from lifecycle.reviewers import reviewer_tenant_ids
from lifecycle.templatetags.hr import person_name

CHUNK = 500  # cases read at once, and whose decisions are read in one query
# A case no longer under way keeps the access its user had then: a cancelled one was given back
# (rehired, or reactivated by the IdP); a purged one has no user.
CLOSED = (CaseState.CANCELLED, CaseState.PURGED)
DECISIONS = (
    "offboarding.approval_recorded",
    "offboarding.approved",
    "offboarding.held",
    "offboarding.released",
)


class Breach:
    """The SLA's verdict on a termination (``breach``): none, late, or open."""

    NONE = ""
    LATE = "breach"  # access ended, later than the SLA allows
    OPEN = "open breach"  # access has not ended, and the SLA has passed


@dataclass(frozen=True)
class Approval:
    by: str  # the actor as the trail names them: "reviewer rita", "admin ann"
    at: datetime
    early: bool
    first: bool  # four eyes: the first of the two approvals a deletion needs


@dataclass(frozen=True)
class Hold:
    by: str
    at: datetime
    reason: str
    released_by: str = ""
    released_at: datetime | None = None


@dataclass(frozen=True)
class Termination:
    case_id: int
    user_id: UUID
    user_name: str  # "[purged]" after the purge
    name: str
    trigger: str  # the trigger's label
    opened_by: str
    state: str  # the case state's label
    deprovisioned_at: datetime
    access_ended_at: datetime | None  # None: access has not ended
    deleted_at: datetime | None
    purged_at: datetime | None
    cancelled_at: datetime | None
    approved_at: datetime | None  # when the approval that took effect was given
    approvals: tuple[Approval, ...]
    holds: tuple[Hold, ...]
    breach: str  # a Breach

    @property
    def time_to_access_ended(self) -> timedelta | None:
        return self.access_ended_at - self.deprovisioned_at if self.access_ended_at else None


@dataclass(frozen=True)
class Spread:
    """The median and 95th percentile of a duration over ``count`` terminations (None: none)."""

    median: timedelta | None
    p95: timedelta | None
    count: int


@dataclass(frozen=True)
class Durations:
    access_ended: Spread  # from the deprovision to access ended
    deleted: Spread  # from the deprovision to deletion


@dataclass(frozen=True)
class Summary:
    terminations: int
    late: int
    open: int

    @property
    def breaches(self) -> int:
        return self.late + self.open


def evidence_tenants(user) -> QuerySet[Tenant]:
    """The tenants whose evidence ``user`` may take: those whose cases it sees
    (``reviewer_tenant_ids``: every tenant for an administrator, a staff reviewer's own)."""
    tenants = Tenant.objects.order_by("name")
    scope = reviewer_tenant_ids(user)
    return tenants if scope is None else tenants.filter(pk__in=scope)


def _cases(tenant: Tenant | None, since: datetime, until: datetime) -> QuerySet[OffboardingCase]:
    """The cases deprovisioned in [since, until), with ``access_ended``: the case's time, or None
    where the directory shows the user active while its case is under way (see the docstring)."""
    cases = OffboardingCase.objects.filter(deprovisioned_at__gte=since, deprovisioned_at__lt=until)
    if tenant is not None:
        cases = cases.filter(tenant=tenant)
    return cases.annotate(
        user_state=F("user__state"),  # a LEFT JOIN: a purged case has no user
        access_ended=Case(
            When(Q(user_state=UserState.ACTIVE) & ~Q(state__in=CLOSED), then=Value(None)),
            default=F("access_ended_at"),
            output_field=DateTimeField(),
        ),
    )


def _judged(tenant: Tenant, since: datetime, until: datetime, now: datetime) -> QuerySet[OffboardingCase]:
    """``_cases`` of the tenant, each with its ``breach`` (a Breach) under the tenant's SLA."""
    sla = tenant.access_ended_sla
    late = ExpressionWrapper(F("access_ended") - F("deprovisioned_at"), output_field=DurationField())
    return (
        _cases(tenant, since, until)
        .annotate(late_by=late)
        .annotate(
            breach=Case(
                When(access_ended__isnull=False, late_by__gt=Value(sla), then=Value(Breach.LATE)),
                When(access_ended__isnull=True, deprovisioned_at__lt=now - sla, then=Value(Breach.OPEN)),
                default=Value(Breach.NONE),
                output_field=CharField(),
            )
        )
    )


def terminations_summary(tenant: Tenant, since: datetime, until: datetime, *, now=None) -> Summary:
    """How many terminations the period has, and how many breached the SLA (late, open): one query."""
    counts = _judged(tenant, since, until, now or timezone.now()).aggregate(
        terminations=Count("pk"),
        late=Count("pk", filter=Q(breach=Breach.LATE)),
        open=Count("pk", filter=Q(breach=Breach.OPEN)),
    )
    return Summary(**counts)


def terminations_for(
    tenant: Tenant, since: datetime, until: datetime, *, now=None, limit: int | None = None
) -> Iterator[Termination]:
    """The tenant's terminations deprovisioned in [since, until), oldest first (the first ``limit``
    of them), streamed: two queries per ``CHUNK`` cases (the cases, then their decisions)."""
    cases = (
        _judged(tenant, since, until, now or timezone.now())
        .select_related("user")
        .only(
            "subject_id",
            "trigger",
            "opened_by",
            "state",
            "deprovisioned_at",
            "deleted_at",
            "purged_at",
            "cancelled_at",
            "approved_at",
            "user__user_name",
            "user__display_name",
            "user__name_formatted",
            "user__name_given_name",
            "user__name_family_name",
        )
        .order_by("deprovisioned_at", "pk")
    )
    if limit is not None:
        cases = cases[:limit]
    rows = cases.iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        decisions = _decisions(tenant, chunk)
        for case in chunk:
            yield _termination(case, decisions.get(case.pk, []))


def _decisions(tenant: Tenant, cases: list[OffboardingCase]) -> dict[int, list[tuple]]:
    """The approvals and holds of ``cases`` from the trail, oldest first, by case id."""
    events = (
        AuditEvent.objects.filter(
            tenant=tenant,
            target_type="user",
            target_id__in={str(case.subject_id) for case in cases},
            action__in=DECISIONS,
        )
        .order_by("occurred_at", "pk")
        .values_list("action", "actor_label", "occurred_at", "changes")
    )
    found: dict[int, list[tuple]] = defaultdict(list)
    for action, actor, at, changes in events:
        case_id = changes.get("case") if isinstance(changes, dict) else None
        if isinstance(case_id, int):
            found[case_id].append((action, actor, at, changes))
    return found


def _termination(case, decisions: Iterable[tuple]) -> Termination:
    approvals: list[Approval] = []
    holds: list[Hold] = []
    for action, actor, at, changes in decisions:
        if action == "offboarding.held":
            holds.append(Hold(by=actor, at=at, reason=str(changes.get("reason", ""))))
        elif action == "offboarding.released" and holds and holds[-1].released_at is None:
            held = holds[-1]
            holds[-1] = Hold(held.by, held.at, held.reason, released_by=actor, released_at=at)
        elif action in ("offboarding.approval_recorded", "offboarding.approved"):
            first = action == "offboarding.approval_recorded"
            approvals.append(Approval(by=actor, at=at, early=changes.get("early") is True, first=first))
    user = case.user
    return Termination(
        case_id=case.pk,
        user_id=case.subject_id,
        user_name=user.user_name if user is not None else PURGED,
        name=person_name(user) if user is not None else PURGED,
        trigger=case.get_trigger_display(),
        opened_by=case.opened_by,
        state=case.get_state_display(),
        deprovisioned_at=case.deprovisioned_at,
        access_ended_at=case.access_ended,
        deleted_at=case.deleted_at,
        purged_at=case.purged_at,
        cancelled_at=case.cancelled_at,
        approved_at=case.approved_at,
        approvals=tuple(approvals),
        holds=tuple(holds),
        breach=case.breach,
    )


# --- the durations: median and 95th percentile ------------------------------------------------------


class _Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont``: the value at ``fraction`` of the ordered non-null values,
    interpolated between the two nearest (as ``_percentile`` does on SQLite, which has none)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float):
        super().__init__(expression, fraction=float(fraction))


def _seconds(expression) -> Func:
    return Func(expression, template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField())


def _since_deprovision(field: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(field) - F("deprovisioned_at"), output_field=DurationField())


MEASURES = {"access_ended": "access_ended", "deleted": "deleted_at"}


def termination_durations(tenant: Tenant | None, since: datetime, until: datetime) -> Durations:
    """Median and 95th percentile of the deprovision to access ended and to deletion, over the
    terminations deprovisioned in [since, until) of ``tenant`` (None: of every tenant); those
    without the second time are left out. PostgreSQL computes them (one query); SQLite, which has
    no percentile, reads each measure's durations ordered (one query each) and interpolates."""
    cases = _cases(tenant, since, until)
    if connection.vendor == "postgresql":
        figures = cases.aggregate(
            **{
                f"{name}_{what}": aggregate
                for name, field in MEASURES.items()
                for what, aggregate in (
                    ("median", _Percentile(_seconds(_since_deprovision(field)), 0.5)),
                    ("p95", _Percentile(_seconds(_since_deprovision(field)), 0.95)),
                    ("count", Count(field)),
                )
            }
        )
        spreads = {
            name: Spread(
                median=_delta(figures[f"{name}_median"]),
                p95=_delta(figures[f"{name}_p95"]),
                count=figures[f"{name}_count"],
            )
            for name in MEASURES
        }
    else:
        spreads = {}
        for name, field in MEASURES.items():
            ordered = list(
                cases.filter(**{f"{field}__isnull": False})
                .annotate(took=_since_deprovision(field))
                .order_by("took")
                .values_list("took", flat=True)
            )
            seconds = [took.total_seconds() for took in ordered]
            spreads[name] = Spread(
                median=_delta(_percentile(seconds, 0.5)),
                p95=_delta(_percentile(seconds, 0.95)),
                count=len(seconds),
            )
    return Durations(**spreads)


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """``percentile_cont``'s value: at position fraction * (n - 1), between its two neighbours."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=round(seconds))
