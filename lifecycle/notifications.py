"""The HR reviewers' emails (through Django's email backend): a notice when cases of their tenants
need review (``reviews_notify``), and a daily digest of the deletions due within a week
(``reviews_digest``, beat's "hr-review-digest" at 07:00 UTC).

A reviewer is told if it can be reached: an active user of the group "HR reviewers" with a
``Reviewer`` row and an address. Each email is the reviewer's own, its dates in the reviewer's
time zone (``Reviewer.timezone``, else UTC), named. The database says what is still to tell
(``OffboardingCase.review_notified_at``, ``Reviewer.digest_sent_on``), and the rows are locked while
their email is sent (skipping those another worker holds), so several workers at once send each
email once; a worker that dies mid-send leaves them to send again (at least once, never lost).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from directory.models import Tenant
from lifecycle.models import HR_REVIEWERS, Burst, BurstState, CaseState, OffboardingCase, Reviewer
from lifecycle.nudges import Nudge

logger = logging.getLogger(__name__)

NOTIFY_BATCH = 500  # cases of a tenant locked, and told of, per email
# pg_advisory_xact_lock(key1, key2) keys: this namespace (after directory.services.locks'), then
# the tenant's id.
NOTIFY_LOCK_NAMESPACE = 0x5C1C
LISTED = 50  # cases an email lists; the rest are counted, with the link to the HR screen
DIGEST_HORIZON = dt.timedelta(days=7)
DIGEST_STATES = (CaseState.SUSPENDED, CaseState.PENDING_REVIEW, CaseState.APPROVED)
NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)  # sorts a case without a due date last

reviews_nudge = Nudge("lifecycle.tasks.notify_reviews")
"""After the transaction that put cases in review commits, wake a worker to tell their reviewers
(``reviews_notify``); a nudge lost loses nothing: the sweep tells them."""


def reviewers_reachable(*, tenant_id: int | None = None) -> QuerySet[Reviewer]:
    """The reviewers emails reach (of the tenant, if given): active members of "HR reviewers"
    with an address."""
    reviewers = Reviewer.objects.filter(user__is_active=True, user__groups__name=HR_REVIEWERS).exclude(
        user__email=""
    )
    if tenant_id is not None:
        reviewers = reviewers.filter(tenants=tenant_id)
    return reviewers.select_related("user").order_by("pk")


def cases_unnotified(*, tenant_id: int | None = None) -> QuerySet[OffboardingCase]:
    """The cases pending review whose reviewers have not been told, but for those of tenants in an
    open burst (told once it is released: a mistaken burst would otherwise mail HR its hundreds)."""
    quarantined = Burst.objects.filter(state=BurstState.OPEN).values("tenant_id")
    cases = OffboardingCase.objects.filter(
        state=CaseState.PENDING_REVIEW, review_notified_at__isnull=True
    ).exclude(tenant_id__in=quarantined)
    if tenant_id is not None:
        cases = cases.filter(tenant_id=tenant_id)
    return cases


def reviews_notify(*, tenant: Tenant | None = None, now: dt.datetime | None = None) -> int:
    """Tell each tenant's reviewers of its cases newly pending review (of ``tenant`` only, if
    given): per tenant (one worker at a time: another skips it, ``_tenant_claim``), its cases
    locked (skipping those another transaction holds) and one email to each reviewer listing
    them, then marked told (``review_notified_at``) in the same transaction.

    Each reviewer's email is sent on its own (``_send_each``): one refused is logged and the
    others count; if all are refused (the mail server is down), the tenant's cases stay unmarked,
    for the next run (the sweep's, within minutes), and the other tenants go on. A tenant without
    a reviewer to tell is logged (WARNING) and its cases are marked all the same: else every
    sweep would take them up again for ever. Nothing is lost: the HR screen lists them, and the
    daily digest names them once their deletion is due within a week. Returns how many cases were marked."""
    now = now or timezone.now()
    tenant_ids = (
        cases_unnotified(tenant_id=tenant.pk if tenant is not None else None)
        .order_by("tenant_id")
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    marked = 0
    for tenant_id in list(tenant_ids):
        try:
            # Until nothing is left: cases committed while this run sent (whose worker skipped
            # the tenant, this one holding it) are told now, not at the next sweep.
            while done := _tenant_notify(tenant_id, now):
                marked += done
        except Exception:  # the mail server's failure: this tenant's cases wait for the next run
            logger.exception("telling the HR reviewers of tenant %s failed; the next run retries", tenant_id)
    return marked


def _tenant_notify(tenant_id: int, now: dt.datetime) -> int:
    with transaction.atomic():
        if not _tenant_claim(tenant_id):
            return 0
        cases = list(
            cases_unnotified(tenant_id=tenant_id)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant", "user")
            .order_by("pk")[:NOTIFY_BATCH]
        )
        if not cases:
            return 0
        tenant = cases[0].tenant
        cases.sort(key=_due_first)
        reviewers = list(reviewers_reachable(tenant_id=tenant_id))
        if reviewers:
            context = {"tenant": tenant, "total": len(cases), "more": max(0, len(cases) - LISTED)}
            _send_each(
                [
                    _message(
                        "emails/hr_review_needed.txt",
                        reviewer,
                        {**context, "cases": [_row(case) for case in cases[:LISTED]]},
                    )
                    for reviewer in reviewers
                ]
            )
        else:
            logger.warning(
                "tenant %s has no HR reviewer with an address: %d case(s) pending review, nobody told",
                tenant.slug,
                len(cases),
            )
        OffboardingCase.objects.filter(pk__in=[case.pk for case in cases]).update(review_notified_at=now)
    return len(cases)


def _send_each(messages: list[tuple[str, str, str, list[str]]]) -> None:
    """Send each reviewer its notice on its own: one refused (a bad address) is logged and does
    not make the others be sent again; if every one fails (the mail server is down), raise, and
    the cases wait for the next run."""
    failures = 0
    for subject, body, sender, recipients in messages:
        try:
            send_mail(subject, body, sender, recipients)
        except Exception:  # that reviewer's address or the server: logged, the others go on
            failures += 1
            logger.exception("a review notice to %s failed", ", ".join(recipients))
    if failures == len(messages):
        raise RuntimeError(f"every review notice failed ({failures})")


def _tenant_claim(tenant_id: int) -> bool:
    """Whether this transaction may tell the tenant's reviewers: False while another worker does.
    Its row locks alone would let two workers split the cases between them (SKIP LOCKED with a
    LIMIT), each reviewer then getting two emails at once. A PostgreSQL advisory lock of the
    tenant, never waited for; SQLite runs one writer at a time."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [NOTIFY_LOCK_NAMESPACE, tenant_id])
        return bool(cursor.fetchone()[0])


def reviewers_digest_due(*, today: dt.date) -> QuerySet[Reviewer]:
    """The reachable reviewers whose digest of ``today`` (a UTC date) is still to send."""
    return reviewers_reachable().filter(Q(digest_sent_on__lt=today) | Q(digest_sent_on__isnull=True))


def reviews_digest(*, now: dt.datetime | None = None) -> int:
    """Send each reachable reviewer its daily digest: the cases of its tenants whose deletion is
    due within ``DIGEST_HORIZON`` or overdue (suspended, pending review or approved), soonest
    first. Each reviewer is claimed by locking its row (skipping one another worker holds) and
    recording the day (``digest_sent_on``, UTC) in the transaction that sends, so a second run the
    same day, or one at once, sends nothing more. A reviewer with nothing due is sent nothing (the
    day is recorded all the same); one whose send raises is logged and left for a later run.
    Returns how many emails were sent."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    sent = 0
    for reviewer_id in list(reviewers_digest_due(today=today).values_list("pk", flat=True)):
        try:
            sent += _reviewer_digest(reviewer_id, today, now)
        except Exception:  # the mail server's failure: this reviewer waits for the next run
            logger.exception("the HR digest of reviewer %s failed; the next run retries", reviewer_id)
    return sent


def _reviewer_digest(reviewer_id: int, today: dt.date, now: dt.datetime) -> int:
    with transaction.atomic():
        reviewer = (
            Reviewer.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(Q(digest_sent_on__lt=today) | Q(digest_sent_on__isnull=True), pk=reviewer_id)
            .first()
        )
        if reviewer is None:
            return 0  # another worker has it, or sent it since
        sections = _digest_sections(reviewer, now)
        if sections:
            total = sum(section["total"] for section in sections)
            context = {"sections": sections, "total": total, "days": DIGEST_HORIZON.days}
            send_mail(*_message("emails/hr_digest.txt", reviewer, context))
        reviewer.digest_sent_on = today
        reviewer.save(update_fields=["digest_sent_on"])
    return 1 if sections else 0


def _digest_sections(reviewer: Reviewer, now: dt.datetime) -> list[dict]:
    """Per tenant of the reviewer, its cases due within the horizon or overdue, soonest first
    (``LISTED`` of them, and how many in all)."""
    sections = []
    for tenant in reviewer.tenants.order_by("name", "pk"):
        due = (
            OffboardingCase.objects.filter(
                tenant=tenant, state__in=DIGEST_STATES, deletion_due_at__lte=now + DIGEST_HORIZON
            )
            .select_related("user")
            .order_by("deletion_due_at", "pk")
        )
        listed = list(due[:LISTED])
        if listed:
            total = len(listed) if len(listed) < LISTED else due.count()
            rows = [_row(case, now=now) for case in listed]
            sections.append({"tenant": tenant, "cases": rows, "total": total, "more": total - len(listed)})
    return sections


# --- rendering -----------------------------------------------------------------------------------


def _message(template: str, reviewer: Reviewer, context: dict) -> tuple[str, str, str, list[str]]:
    """A reviewer's email (subject, body, sender, recipients): the template's first paragraph is
    the subject; its dates in the reviewer's time zone."""
    zone_name = _zone_name(reviewer)
    text = render_to_string(
        template,
        {
            **context,
            "reviewer": reviewer,
            "zone": ZoneInfo(zone_name),
            "zone_name": zone_name,
            "hr_url": _url("/hr/"),
        },
    )
    subject, _, body = text.partition("\n\n")
    return subject.strip(), body.lstrip("\n"), settings.DEFAULT_FROM_EMAIL, [reviewer.user.email]


def _zone_name(reviewer: Reviewer) -> str:
    """The reviewer's IANA time zone, or UTC (none set, or one not known here)."""
    if reviewer.timezone:
        try:
            ZoneInfo(reviewer.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("reviewer %s: unknown time zone %r, dates in UTC", reviewer.pk, reviewer.timezone)
        else:
            return reviewer.timezone
    return "UTC"


def _row(case: OffboardingCase, *, now: dt.datetime | None = None) -> dict:
    user = case.user
    return {
        "name": (user.display_name or user.user_name) if user is not None else str(case.subject_id),
        "user_name": user.user_name if user is not None else "",
        "department": user.department if user is not None else "",
        "state_label": case.get_state_display(),
        "due": case.deletion_due_at,
        "overdue": now is not None and case.deletion_due_at is not None and case.deletion_due_at <= now,
        "url": _url(f"/hr/cases/{case.pk}/"),
    }


def _due_first(case: OffboardingCase) -> tuple:
    return (case.deletion_due_at or NEVER, case.pk)


def _url(path: str) -> str:
    return settings.ROSTER_BASE_URL.rstrip("/") + path
