"""The cases of deactivated users, opened from the directory's outbox (``PendingDeactivation``).

A deactivation (an IdP's ``active: false``, Okta's only way to deprovision) is the hot write of
offboarding: a burst of them arrives at full speed, and the request must cost what any PATCH
does. So its statement does three things at once, in the directory: the user suspended (access
ends there: GET shows ``active: false``), its audit event, and a ``PendingDeactivation`` naming the
event. The host application hears of it in the request (``lifecycle.signals.user_suspended``,
sent after the write). Everything else, opening the case under the tenant's policy, the burst
guard, is done here, by a worker woken after the commit (``deactivations_nudge``), from the row;
and by the sweep, should the message be lost. A policy's deletion at once follows as the sweep's
deletions do, once the case is open (a deletion locks the case, then the user's groups and row).

Order per user: whatever else the lifecycle does to a user first drains its pending deactivation
(``deactivation_drain``, in the request that reactivates, restores or deletes it): the case is
opened as of the deactivation, then the new write acts on it (a reactivation cancels it, as a
flap). Locks: the user's row, then its pending row (the order of the request, which holds the
user's row from its write), after the tenant's schema lock (step 0 of ``services/locks.py``).
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from directory.models import (
    ActorType,
    AuditEvent,
    DeprovisionAction,
    PendingDeactivation,
    Tenant,
    User,
    UserState,
)
from directory.services.audit import Actor
from directory.services.locks import schema_share
from lifecycle.models import OPEN_STATES, OffboardingCase, Trigger
from lifecycle.nudges import Nudge

logger = logging.getLogger(__name__)

deactivations_nudge = Nudge("lifecycle.tasks.consume_deactivations")
"""After a deactivation commits, wake a worker to open its case (``deactivations_consume``)."""


def deactivations_consume(*, tenant: Tenant | None = None, limit: int = 1000) -> int:
    """Open the cases of pending deactivations, oldest first, each in a transaction of its own.
    Several workers share them: a row whose user another holds (a worker, or a request that will
    drain it) is skipped, and a nudge sent for whatever was skipped. A row that fails is logged
    and left for the next sweep (not nudged: a failure that repeats must not spin); the others
    go on. The policy's deletion at once comes after, as
    the sweep deletes (the case locked before the user's groups and row: their order for a
    deletion). Returns how many were taken."""
    pending = PendingDeactivation.objects.order_by("pk")
    if tenant is not None:
        pending = pending.filter(tenant_id=tenant.pk)
    tenants: dict[int, Tenant] = {}
    taken = skipped = 0
    delete_now: list[int] = []
    for row_id, tenant_id, user_id in pending.values_list("pk", "tenant_id", "user_id")[:limit]:
        try:
            if tenant_id not in tenants:
                tenants[tenant_id] = Tenant.objects.get(pk=tenant_id)
            with transaction.atomic():
                outcome = _row_consume(row_id, tenants[tenant_id], user_id)
        except Exception:
            logger.exception("pending deactivation %s of user %s: left for the next sweep", row_id, user_id)
            continue
        if isinstance(outcome, str):
            skipped += 1
        elif outcome is not None:
            taken += 1
            if outcome.action == DeprovisionAction.DELETE_NOW:
                delete_now.append(outcome.pk)
    if delete_now:
        from lifecycle.services import cases_sweep  # services import this module

        cases_sweep(case_ids=delete_now)  # none in a burst: cases_due leaves them
    if skipped:
        deactivations_nudge()
    return taken


def _row_consume(row_id: int, tenant: Tenant, user_id) -> OffboardingCase | str | None:
    """In the caller's transaction: the case opened from the row (None if none was to open), or
    "skipped" when the user's row is held (its row stays)."""
    schema_share(tenant=tenant, check=False)
    users = User.objects.select_for_update(of=("self",), skip_locked=True).filter(pk=user_id)
    user = users.only("pk", "state", "user_name", "tenant_id").first()
    if user is None and User.objects.filter(pk=user_id).exists():
        return "skipped"  # held: by another worker, or a request that drains it
    event_id = _row_take(row_id)
    if event_id is None:
        return None  # another worker, or the user's next write, took it
    return _case_open_from(event_id, tenant, user, drained=False)


def _row_take(row_id: int) -> int | None:
    """Delete the pending row (locked until the transaction ends); its event's id, or None if
    the row was gone. On PostgreSQL one statement; SQLite (whose writers take turns) reads first."""
    table = PendingDeactivation._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {table} WHERE id = %s RETURNING event_id", [row_id])  # noqa: S608
            found = cursor.fetchone()
            return found[0] if found else None
        cursor.execute(f"SELECT event_id FROM {table} WHERE id = %s", [row_id])  # noqa: S608 (our table)
        found = cursor.fetchone()
        if found:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row_id])  # noqa: S608
        return found[0] if found else None


def deactivation_drain(*, tenant: Tenant, user_id) -> None:
    """Open the case of the user's pending deactivation now, if it has one: called by the
    request that acts on the user next (it holds the user's row), before it does."""
    rows = list(
        PendingDeactivation.objects.filter(user_id=user_id).order_by("pk").values_list("pk", flat=True)
    )
    if rows:
        user = User.objects.filter(pk=user_id).only("pk", "state", "user_name", "tenant_id").first()
        for row_id in rows:
            event_id = _row_take(row_id)
            if event_id is not None:
                _case_open_from(event_id, tenant, user, drained=True)


def _case_open_from(
    event_id: int, tenant: Tenant, user: User | None, *, drained: bool
) -> OffboardingCase | None:
    """The case a deactivation opens (``event_id``: its audit event; its pending row taken), as
    of the event (its time, its actor). By a worker, only for a user still suspended with no open
    case (else a later write has drawn it); drained by a later write, always, but without its
    effects on the user (a deletion at once is left to the sweep: the user may be active again,
    or being deleted by its IdP). Never deletes: the caller does (``deactivations_consume``)."""
    from lifecycle.services import case_open  # services import this module

    if user is None or (not drained and user.state != UserState.SUSPENDED):
        logger.info("deactivation event %s: nothing to open (the user is %s)", event_id, user and user.state)
        return None
    if OffboardingCase.objects.filter(user_id=user.pk, state__in=OPEN_STATES).exists():
        return None
    event = AuditEvent.objects.select_related("actor_token", "actor_admin").filter(pk=event_id).first()
    if event is None:
        logger.warning("deactivation of %s: its audit event %s is gone", user.pk, event_id)
        return None
    actor = Actor(
        type=ActorType(event.actor_type),
        label=event.actor_label,
        token=event.actor_token,
        admin=event.actor_admin,
        request_id=event.request_id,
    )
    return case_open(
        tenant=tenant,
        user=user,
        user_id=user.pk,
        user_name=user.user_name,
        trigger=Trigger.DEACTIVATE,
        actor=actor,
        at=event.occurred_at,
        announce=False,  # the request announced it (lifecycle.receivers)
        effects=False,
    )
