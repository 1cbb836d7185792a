"""Running offboarding cases: each transition of ``lifecycle.models.OffboardingCase`` with its
effect on the user (through the directory's services), its audit event and the host
application's signal (``lifecycle.signals``), in one transaction.

Cases are opened by the SCIM request that deprovisions a user (``lifecycle.receivers``), advanced
by the clock (``cases_sweep``: due deletions and purges) and by people (approval, holds; the HR
screen and the admin call these services). Every service takes the tenant and an ``Actor``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from directory.models import DeprovisionAction, Tenant, User, UserState
from directory.services.audit import Actor, audit_record
from directory.services.users import user_delete
from lifecycle import signals
from lifecycle.models import OPEN_STATES, CaseState, OffboardingCase, Trigger
from lifecycle.step_runs import case_steps_send

FLAP_WINDOW = timedelta(days=1)  # off and on again within this is a flap, recorded on the case
SWEEP_BATCH = 200  # cases a sweep takes at once (locked, skipping those others hold)


def _record(
    case: OffboardingCase, actor: Actor, event: str, before: str, reason: str = "", **more: Any
) -> None:
    """The case's audit event: on the user's trail (``target`` the user), naming the case."""
    audit_record(
        tenant=case.tenant,
        actor=actor,
        action=f"offboarding.{event}",
        target_type="user",
        target_id=case.subject_id,
        target_label=_label(case),
        changes={
            "case": case.pk,
            "state": {"before": before or None, "after": case.state},
            **({"reason": reason} if reason else {}),
            **more,
        },
    )


def _label(case: OffboardingCase) -> str:
    user = case.user
    return user.user_name if user is not None else str(case.subject_id)


def _open_case(user_id) -> OffboardingCase | None:
    return (
        OffboardingCase.objects.select_for_update(of=("self",))
        .select_related("tenant", "user")
        .filter(user_id=user_id, state__in=OPEN_STATES)
        .first()
    )


def case_open(
    *, tenant: Tenant, user_id, trigger: str, actor: Actor, at, groups: list[str] | None = None
) -> OffboardingCase:
    """The case of a user its identity provider deactivated or deleted (in that request's
    transaction): access has ended; the tenant's policy for the trigger decides what follows. A
    DELETE of a user whose case is already open (deactivated first, as Entra does) is recorded on
    that case, which goes on."""
    existing = _open_case(user_id)
    if existing is not None:
        if trigger == Trigger.DELETE:
            existing.idp_deleted_at = at
            existing.restore = {"groups": groups or []}
            existing.save(update_fields=["idp_deleted_at", "restore"])
            _record(existing, actor, "idp_deleted", existing.state)
        return existing
    action = tenant.on_delete if trigger == Trigger.DELETE else tenant.on_deactivate
    case = OffboardingCase(
        tenant=tenant,
        user_id=user_id,
        subject_id=user_id,
        trigger=trigger,
        action=action,
        opened_by=actor.label[:200],
        deprovisioned_at=at,
        access_ended_at=at,
        idp_deleted_at=at if trigger == Trigger.DELETE else None,
        restore={"groups": groups or []},
        steps_enqueued_at=at,
    )
    if action in (DeprovisionAction.DELETE_AFTER_GRACE, DeprovisionAction.DELETE_AFTER_REVIEW):
        case.deletion_due_at = at + tenant.offboarding_grace_period
    case.save()
    case_steps_send(case.pk)
    _record(case, actor, "opened", "", trigger=trigger, action=action)
    signals.user_suspended.send(sender=OffboardingCase, tenant=tenant, user_id=user_id, case=case)
    if action == DeprovisionAction.DELETE_AFTER_REVIEW:
        before = case.state
        case.request_review()
        case.save()
        _record(case, actor, "review_requested", before)
    elif action == DeprovisionAction.DELETE_NOW:
        _delete(case, actor, at, reason="the tenant's policy deletes at once")
    return case


def case_cancel(*, tenant: Tenant, user_id, actor: Actor, at, reason: str) -> OffboardingCase | None:
    """The user is active again (a rehire, or the IdP undoing a deactivation): its open case, if
    any, is cancelled; off and on again within a day is recorded as a flap."""
    case = _open_case(user_id)
    if case is None:
        return None
    before = case.state
    if at - case.deprovisioned_at <= FLAP_WINDOW:
        case.flaps += 1
        case.last_flap_at = at
    case.cancel(now=at)
    case.save()
    _record(case, actor, "cancelled", before, reason, flaps=case.flaps)
    signals.user_reactivated.send(sender=OffboardingCase, tenant=tenant, user_id=user_id, case=case)
    return case


def _delete(case: OffboardingCase, actor: Actor, at, reason: str) -> None:
    """The deletion: the user hidden for good (unless the IdP's DELETE hid it already); a rehire
    can still restore it until the purge."""
    before = case.state
    user = case.user
    if user is not None and user.state != UserState.DELETED:
        groups = list(user.memberships.values_list("group_id", flat=True))
        user_delete(tenant=case.tenant, actor=actor, user_id=user.pk, announce=False)
        case.restore = {"groups": [str(g) for g in groups]}
    case.delete(now=at, purge_after=case.tenant.purge_after)
    case.save()
    _record(case, actor, "deleted", before, reason)
    signals.user_deleted.send(sender=OffboardingCase, tenant=case.tenant, user_id=case.subject_id, case=case)


def _purge(case: OffboardingCase, actor: Actor, at) -> None:
    """The purge: the user's row (and with it its memberships, values and extension rows) is
    removed; the case stays, its tombstone."""
    before = case.state
    User.objects.filter(pk=case.subject_id, tenant=case.tenant, state=UserState.DELETED).delete()
    case.user = None  # the row is gone: the case is the tombstone, its subject_id what remains
    case.purge(now=at)
    case.restore = {}
    case.save()
    _record(case, actor, "purged", before)
    signals.user_purged.send(sender=OffboardingCase, tenant=case.tenant, user_id=case.subject_id, case=case)


def cases_sweep(*, now=None, tenant: Tenant | None = None, limit: int | None = None) -> dict[str, int]:
    """Advance the cases the clock has made due: deletions (grace period over; or approved and
    due), then purges. Each case is locked and skipped if another sweep holds it, so sweeps run
    at once do each case once. Returns how many of each were done."""
    now = now or timezone.now()
    actor = Actor.system("lifecycle sweep")
    done = {"deleted": 0, "purged": 0}
    # Due for deletion: a suspended case whose policy deletes when the grace period ends, or an
    # approved one (HR's approval took effect at the end of the grace period, or at once).
    due_deletion = Q(deletion_due_at__lte=now) & (
        Q(state=CaseState.SUSPENDED, action=DeprovisionAction.DELETE_AFTER_GRACE)
        | Q(state=CaseState.APPROVED)
    )
    due_purge = Q(state=CaseState.DELETED, purge_due_at__lte=now)
    for kind, due in (("deleted", due_deletion), ("purged", due_purge)):
        while limit is None or done[kind] < limit:
            with transaction.atomic():
                cases = OffboardingCase.objects.filter(due)
                if tenant is not None:
                    cases = cases.filter(tenant=tenant)
                batch = list(
                    cases.select_for_update(skip_locked=True, of=("self",))
                    .select_related("tenant", "user")
                    .order_by("pk")[:SWEEP_BATCH]
                )
                for case in batch:
                    if kind == "deleted":
                        _delete(case, actor, now, reason="due")
                    else:
                        _purge(case, actor, now)
                done[kind] += len(batch)
            if len(batch) < SWEEP_BATCH:
                break
    return done


def case_approve(
    *, case_id: int, actor: Actor, reason: str, early: bool = False, now=None
) -> OffboardingCase:
    """HR approves the deletion of a case pending review: at the end of the grace period, or at
    once with ``early`` (which the reason must explain)."""
    now = now or timezone.now()
    with transaction.atomic():
        case = (
            OffboardingCase.objects.select_for_update(of=("self",))
            .select_related("tenant", "user")
            .get(pk=case_id)
        )
        before = case.state
        case.approve(now=now, early=early)
        case.save()
        _record(case, actor, "approved", before, reason, early=early)
        if case.deletion_due_at is not None and case.deletion_due_at <= now:
            _delete(case, actor, now, reason=reason)
    return case
