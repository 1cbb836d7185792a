"""The burst guard: a tenant whose identity provider deprovisions more of its users within a
window than the tenant's thresholds allow (``Tenant.burst_count``, ``burst_percent``,
``burst_window``) is quarantined until an administrator decides (``lifecycle.burst_decisions``).

Entra's provisioning service has an accidental-deletions threshold on the sending side; nothing
guards the receiving side, where a mis-scoped assignment or a wrong group rule arrives as hundreds
of ordinary deactivations. So each case opened (``lifecycle.services.case_open``) asks
``burst_guard``: with a burst open, the case is quarantined at once; without one, the cases opened
in the window are counted (one indexed count; the tenant's users are counted only for the share,
and cached), and crossing a threshold opens a ``Burst``, quarantines the window's cases and alerts
the administrators. The SCIM request is answered as usual and access has ended (the safe side):
only deletions and purges wait. The partial unique index of ``Burst`` lets parallel requests
crossing the threshold together open one burst.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from directory.models import Tenant, User, UserState
from directory.services.audit import Actor, audit_record
from lifecycle.models import HOLDABLE, Burst, BurstState, OffboardingCase
from lifecycle.records import case_record

logger = logging.getLogger(__name__)
GUARD = Actor.system("burst guard")
# The share of users counts only from this many deprovisions in the window: else the first leaver
# of a tenant of nine would be a burst (10 %), and every small customer's offboarding an alert.
SHARE_FLOOR = 5
USERS_CACHE_SECONDS = 300  # how long a tenant's count of users (for the share) is reused


def burst_guard(*, case: OffboardingCase, actor: Actor, at: datetime) -> Burst | None:
    """In the transaction that opened ``case``: the tenant's open burst (the case then quarantined
    in it), or None. One statement on the common path (``_guard_state``); may open the burst
    (``_burst_detect``) when a threshold may be crossed."""
    tenant = case.tenant
    if not tenant.burst_count and not tenant.burst_percent:
        open_id = (
            Burst.objects.filter(tenant=tenant, state=BurstState.OPEN).values_list("pk", flat=True).first()
        )
        n = 0
    else:
        open_id, n = _guard_state(tenant, at - tenant.burst_window)
    burst: Burst | None
    if open_id is not None:
        burst = Burst.objects.get(pk=open_id)
    else:
        may_cross = (tenant.burst_count and n > tenant.burst_count) or (
            tenant.burst_percent and n >= SHARE_FLOOR
        )
        burst = _burst_detect(tenant, at) if may_cross else None
        if burst is None:
            return None
        case.refresh_from_db(fields=["state", "resume_state", "burst"])  # marked with the window's
    if case.state in HOLDABLE:
        _quarantine(case, burst, actor)
    return burst


# What each deprovision asks (``_guard_state``): the tenant's open burst, and only when there is
# none its cases opened in the window, counted no further than the count threshold needs.
_GUARD_SQL = (
    "SELECT open_id, CASE WHEN open_id IS NULL THEN (SELECT COUNT(*) FROM (SELECT 1 FROM {cases}"
    " WHERE tenant_id = %s AND deprovisioned_at >= %s LIMIT %s) AS window_cases) END"
    " FROM (SELECT (SELECT id FROM {bursts} WHERE tenant_id = %s AND state = %s LIMIT 1) AS open_id)"
    " AS open_burst"
)
UNCAPPED = 2**31 - 1


def _guard_state(tenant: Tenant, start: datetime) -> tuple[int | None, int]:
    """The tenant's open burst (its id, or None) and, when there is none, its cases opened since
    ``start``, in one statement. The count stops past the count threshold (enough to know it is
    crossed), so a burst's thousands of deprovisions do not each count all the others."""
    sql = _GUARD_SQL.format(cases=OffboardingCase._meta.db_table, bursts=Burst._meta.db_table)
    cap = tenant.burst_count + 1 if tenant.burst_count else UNCAPPED
    start_value = connection.ops.adapt_datetimefield_value(start)
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.pk, start_value, cap, tenant.pk, BurstState.OPEN.value])
        open_id, n = cursor.fetchone()
    return open_id, n or 0


def _users(tenant: Tenant) -> int:
    """The tenant's users not deleted (cached: a deprovision must not count 100,000 rows)."""
    key = f"roster:lifecycle:users:{tenant.pk}"
    users = cache.get(key)
    if users is None:
        users = User.objects.filter(tenant=tenant).exclude(state=UserState.DELETED).count()
        cache.set(key, users, USERS_CACHE_SECONDS)
    return int(users)


def _crossed(tenant: Tenant, start: datetime) -> tuple[str, int, int | None] | None:
    """The rule the window's deprovisions break (its text, the count, the users counted), if any.
    The share's base is the tenant's users (cached) plus those its IdP deleted in the window,
    counted only when the cached users alone would be crossed."""
    n = OffboardingCase.objects.filter(tenant=tenant, deprovisioned_at__gte=start).count()
    window = _duration(tenant.burst_window)
    if tenant.burst_count and n > tenant.burst_count:
        return f"{n} deprovisions within {window} (more than {tenant.burst_count})", n, None
    if tenant.burst_percent and n >= SHARE_FLOOR and n * 100 > tenant.burst_percent * _users(tenant):
        deleted = OffboardingCase.objects.filter(
            tenant=tenant, deprovisioned_at__gte=start, idp_deleted_at__isnull=False
        ).count()
        users = _users(tenant) + deleted
        if n * 100 > tenant.burst_percent * users:
            return (
                f"{n} deprovisions of {users} users within {window} (more than {tenant.burst_percent} %)",
                n,
                users,
            )
    return None


def _burst_detect(tenant: Tenant, at: datetime) -> Burst | None:
    """A new burst if the window's deprovisions cross a threshold. The window starts no earlier
    than the last decision, so a released burst's deprovisions are not counted again."""
    if not tenant.burst_count and not tenant.burst_percent:
        return None
    start = at - tenant.burst_window
    crossed = _crossed(tenant, start)
    if crossed is None:
        return None
    decided = Burst.objects.filter(tenant=tenant, decided_at__gt=start).aggregate(last=Max("decided_at"))
    if decided["last"] is not None:
        start = decided["last"]
        crossed = _crossed(tenant, start)
        if crossed is None:
            return None
    rule, n, users = crossed
    try:
        with transaction.atomic():
            burst = Burst.objects.create(
                tenant=tenant, window_start=start, detected_at=at, deprovisions=n, users=users, rule=rule
            )
    except IntegrityError:
        # Another request crossed the threshold at the same moment and opened it (committed by
        # now: the unique index made this insert wait for it).
        return Burst.objects.filter(tenant=tenant, state=BurstState.OPEN).first()
    burst_record(burst, GUARD, "detected", rule, deprovisions=n, users=users)
    logger.warning("burst of deprovisions in tenant %s: %s", tenant.slug, rule)
    bursts_mark(burst, skip_locked=True)
    burst_send("alert_burst", burst.pk)
    return burst


def burst_record(burst: Burst, actor: Actor, event: str, reason: str = "", **more) -> None:
    audit_record(
        tenant=burst.tenant,
        actor=actor,
        action=f"burst.{event}",
        target_type="burst",
        target_id=burst.pk,
        target_label=f"burst {burst.pk}",
        changes={"state": burst.state, **({"reason": reason} if reason else {}), **more},
    )


def _quarantine(case: OffboardingCase, burst: Burst, actor: Actor) -> None:
    before = case.state
    case.quarantine(burst=burst)
    case.save()
    case_record(case, actor, "quarantined", before, burst.rule, burst=burst.pk)


def cases_in_window(burst: Burst):
    """The cases a burst takes: the tenant's, opened since its window began (until its decision)."""
    cases = OffboardingCase.objects.filter(
        tenant_id=burst.tenant_id, deprovisioned_at__gte=burst.window_start
    )
    if burst.decided_at is not None:
        cases = cases.filter(deprovisioned_at__lte=burst.decided_at)
    return cases


def bursts_mark(burst: Burst, *, skip_locked: bool) -> int:
    """Quarantine the open burst's cases not yet marked (those before the deletion, or deleted and
    awaiting the purge; a case on legal hold stays held). ``skip_locked`` in a SCIM request, which
    must not wait for cases others hold; the sweep takes those later. Returns how many."""
    with transaction.atomic():
        cases = list(
            cases_in_window(burst)
            .filter(state__in=HOLDABLE, burst__isnull=True)
            .select_for_update(skip_locked=skip_locked, of=("self",))
            .select_related("tenant", "user")
            .order_by("pk")
        )
        for case in cases:
            _quarantine(case, burst, GUARD)
    return len(cases)


def burst_send(task: str, burst_id: int) -> None:
    """A burst's task, sent once the transaction commits (an unreachable broker is logged; the
    sweep sends it again: the burst says what is still to do)."""
    from lifecycle import tasks

    transaction.on_commit(lambda: getattr(tasks, task).delay(burst_id), robust=True)


# --- alerts --------------------------------------------------------------------------------------


def burst_recipients() -> list[str]:
    """Who is alerted: the active staff who may decide a burst and have an address."""
    staff = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    return sorted({u.email for u in staff if u.has_perm("lifecycle.decide_burst")})


def burst_alert(*, burst_id: int) -> bool:
    """Email the administrators about an open burst, once (the burst row locked while sending, so
    two workers do not both send; sent again only if the worker died before recording it)."""
    with transaction.atomic():
        burst = (
            Burst.objects.select_for_update(no_key=True, skip_locked=True)
            .select_related("tenant")
            .filter(pk=burst_id, alerted_at__isnull=True)
            .first()
        )
        if burst is None:
            return False
        recipients = burst_recipients()
        if recipients:
            context = {"burst": burst, "tenant": burst.tenant, "admin_url": _admin_url(burst)}
            subject, _, body = render_to_string("emails/burst_alert.txt", context).partition("\n\n")
            send_mail(subject.strip(), body, settings.DEFAULT_FROM_EMAIL, recipients)
        else:
            logger.error("burst %s: no administrator with an address may decide it", burst.pk)
        burst.alerted_at = timezone.now()
        burst.save(update_fields=["alerted_at"])
    return True


def _admin_url(burst: Burst) -> str:
    base = settings.ROSTER_BASE_URL.rstrip("/")
    return f"{base}/admin/lifecycle/burst/{burst.pk}/change/"


def _duration(window) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0 and minutes:
        return f"{minutes // 60} h"
    return f"{minutes} min" if minutes else f"{int(window.total_seconds())} s"
