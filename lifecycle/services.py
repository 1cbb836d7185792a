"""Running offboarding cases: each transition of ``lifecycle.models.OffboardingCase`` with its
effect on the user (through the directory's services), its audit event and the host
application's signal (``lifecycle.signals``), in one transaction.

Cases are opened by the SCIM request that deprovisions a user (``lifecycle.receivers``), advanced
by the clock (``cases_sweep``: due deletions and purges) and by people (approval, holds; the HR
screen and the admin call these services). Every service takes the tenant and an ``Actor``.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from directory.db.audited_writes import insert_with_events
from directory.errors import DoesNotExist, InvalidReference, NotAllowedNow, NotPermitted
from directory.models import DeprovisionAction, Tenant, User, UserState
from directory.selectors import user_personal_values
from directory.services.audit import Actor, audit_redact, text_redact
from directory.services.events import events_redact
from directory.services.groups import MemberRef, group_update
from directory.services.requests import scim_requests_redact
from directory.services.users import user_delete
from lifecycle import signals
from lifecycle.bursts import burst_guard
from lifecycle.deactivations import deactivation_drain
from lifecycle.models import OPEN_STATES, Burst, BurstState, CaseState, CaseStep, OffboardingCase, Trigger
from lifecycle.notifications import reviews_nudge
from lifecycle.records import case_event, case_record
from lifecycle.step_runs import steps_nudge

FLAP_WINDOW = timedelta(days=1)  # off and on again within this is a flap, recorded on the case
MAX_EXTENSION = timedelta(days=10 * 365)  # beyond this a grace period is a legal hold in disguise
SWEEP_BATCH = 200  # cases a sweep takes at once (locked, skipping those others hold)


def _open_case(user_id) -> OffboardingCase | None:
    """The user's open case, locked, for a request that holds the user's row: NOWAIT, because a
    sweep or an approval deleting that user holds the case and waits for the user (locks: user
    before case for requests, case before user for deletions); the request yields at once
    (OperationalError: SCIM answers 503 with Retry-After) instead of deadlocking."""
    return (
        OffboardingCase.objects.select_for_update(of=("self",), nowait=True)
        .select_related("tenant", "user")
        .filter(user_id=user_id, state__in=OPEN_STATES)
        .first()
    )


def case_open(
    *,
    tenant: Tenant,
    user_id,
    trigger: str,
    actor: Actor,
    at,
    user_name: str = "",
    groups: list[str] | None = None,
    announce: bool = True,
    effects: bool = True,
    user: User | None = None,
) -> OffboardingCase:
    """The case of a user its identity provider deactivated (opened from its pending deactivation,
    ``lifecycle.deactivations``) or deleted (in that request's transaction): access has ended; the
    tenant's policy for the trigger decides what follows. A DELETE of a user whose case is already
    open (deactivated first, as Entra does) is recorded on that case, which goes on. A deactivated
    user was active, so had no open case (``case_agrees``; the unique index would refuse a second):
    its case is written in one statement with its events. ``announce``: send ``user_suspended``
    (a deactivation's request sent it); ``effects``: delete at once if the policy says so (a
    drained deactivation leaves that to the sweep)."""
    if trigger == Trigger.DELETE:
        deactivation_drain(tenant=tenant, user_id=user_id)
        existing = _open_case(user_id)
        if existing is not None:
            existing.idp_deleted_at = at
            existing.restore = {"groups": groups or []}
            existing.save(update_fields=["idp_deleted_at", "restore"])
            case_record(existing, actor, "idp_deleted", existing.state)
            return existing
    action = tenant.on_delete if trigger == Trigger.DELETE else tenant.on_deactivate
    case = OffboardingCase(
        tenant=tenant,
        user=user,
        user_id=user_id,
        subject_id=user_id,
        trigger=trigger,
        action=action,
        opened_by=actor.label[:200],
        deprovisioned_at=at,
        access_ended_at=at,
        idp_deleted_at=at if trigger == Trigger.DELETE else None,
        restore={"groups": groups or []},
    )
    if action in (DeprovisionAction.DELETE_AFTER_GRACE, DeprovisionAction.DELETE_AFTER_REVIEW):
        case.deletion_due_at = at + tenant.offboarding_grace_period
    elif action == DeprovisionAction.DELETE_NOW:
        case.deletion_due_at = at  # done below; or, should a burst hold it, by the sweep once released
    if action == DeprovisionAction.DELETE_AFTER_REVIEW:
        case.request_review()  # before the first save: one INSERT
    label = user_name or None
    opened = case_event(
        case, actor, "opened", "", label=label, after=CaseState.SUSPENDED, trigger=trigger, action=action
    )
    events = [opened]
    if case.state == CaseState.PENDING_REVIEW:
        events.append(case_event(case, actor, "review_requested", CaseState.SUSPENDED, label=label))
        reviews_nudge()
    insert_with_events(case, events, reference="case")
    case._update_initial_state()  # django-fsm's optimistic lock: the state as inserted
    steps_nudge()
    if announce:
        signals.user_suspended.send(sender=OffboardingCase, tenant=tenant, user_id=user_id, case=case)
    burst = burst_guard(case=case, actor=actor, at=at)
    if action == DeprovisionAction.DELETE_NOW and burst is None and effects:
        _delete(case, actor, at, reason="the tenant's policy deletes at once")
    return case


def case_cancel(*, tenant: Tenant, user_id, actor: Actor, at, reason: str) -> OffboardingCase | None:
    """The user is active again (a rehire, or the IdP undoing a deactivation): its open case, if
    any, is cancelled; off and on again within a day is recorded as a flap."""
    deactivation_drain(tenant=tenant, user_id=user_id)
    case = _open_case(user_id)
    if case is None:
        return None
    before = case.state
    if at - case.deprovisioned_at <= FLAP_WINDOW:
        case.flaps += 1
        case.last_flap_at = at
    case.cancel(now=at)
    case.save()
    case_record(case, actor, "cancelled", before, reason, flaps=case.flaps)
    signals.user_reactivated.send(sender=OffboardingCase, tenant=tenant, user_id=user_id, case=case)
    return case


def groups_restore(*, tenant: Tenant, user_id, group_ids: list[str], actor: Actor) -> list[str]:
    """Put a restored user back in the groups it was in (those that still exist): each add is a
    group write of its own, taking its locks in the global order. Returns the groups rejoined."""
    rejoined = []
    for group_id in group_ids:
        try:
            group_update(tenant=tenant, actor=actor, group_id=group_id, add=[MemberRef(str(user_id), "User")])
        except (DoesNotExist, InvalidReference):
            continue  # the group is gone, or the user again: nothing to give back
        rejoined.append(group_id)
    return rejoined


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
    case_record(case, actor, "deleted", before, reason)
    signals.user_deleted.send(sender=OffboardingCase, tenant=case.tenant, user_id=case.subject_id, case=case)


# Keys of a person's audit events whose values are no personal data (states, ids, decisions), kept
# by the purge's redaction; every other value there becomes "[purged]" (directory.services.audit).
AUDIT_KEEP = frozenset(
    {
        "state",
        "active",
        "case",
        "groups",
        "trigger",
        "action",
        "flaps",
        "early",
        "burst",
        "deletion_due_at",
        "data_successor",
        "held_by",
        "manager_id",
        "ignored",
        "reason",
        "members",
        "events",
    }
)


def _purge(case: OffboardingCase, actor: Actor, at) -> None:
    """The purge: the user's row (and with it its values, extension rows and credentials) is
    removed; the case stays, its tombstone, without personal data: what it kept to restore the
    user is dropped, and the person's names are redacted from its free text (a hold's reason, a
    step's last error). Unless the tenant keeps them (``purge_redacts_audit`` off), the person's
    values in the audit events about them are redacted too (``audit_redact``)."""
    before = case.state
    user = User.objects.filter(pk=case.subject_id, tenant=case.tenant, state=UserState.DELETED).first()
    personal = user_personal_values(user=user) if user is not None else []
    if user is not None:
        user.delete()
    case.user = None  # the row is gone: the case is the tombstone, its subject_id what remains
    case.purge(now=at)
    case.restore = {}
    case.hold_reason = text_redact(case.hold_reason, personal)
    case.save()
    for step in CaseStep.objects.filter(case=case).exclude(last_error=""):
        step.last_error = text_redact(step.last_error, personal)
        step.save(update_fields=["last_error"])
    if case.tenant.purge_redacts_audit:
        audit_redact(
            tenant=case.tenant,
            actor=actor,
            target_type="user",
            target_id=case.subject_id,
            personal=personal,
            keep=AUDIT_KEEP,
            note={"case": case.pk},
        )
    # The request log is no regulator's trail: its bodies naming the person go whatever the setting.
    scim_requests_redact(tenant=case.tenant, user_id=case.subject_id, personal=personal)
    # and so is the event feed
    events_redact(tenant=case.tenant, resource_id=str(case.subject_id), personal=personal)
    case_record(case, actor, "purged", before)
    signals.user_purged.send(sender=OffboardingCase, tenant=case.tenant, user_id=case.subject_id, case=case)


def cases_due(
    *, now=None, tenant: Tenant | None = None, case_ids: list[int] | None = None
) -> dict[str, QuerySet[OffboardingCase]]:
    """The cases the clock has made due, by what is due: ``deleted`` (a suspended case whose
    policy deletes when the grace period ends, or at once; or an approved one, HR's approval taking
    effect at the end of the grace period or at once), ``purged`` (deleted, purge delay over). A
    tenant in a burst has neither (``lifecycle.bursts``): its cases in the burst are quarantined,
    and this also holds those a request opened in the instant the burst was opened."""
    now = now or timezone.now()
    due_deletion = Q(deletion_due_at__lte=now) & (
        Q(
            state=CaseState.SUSPENDED,
            action__in=(DeprovisionAction.DELETE_AFTER_GRACE, DeprovisionAction.DELETE_NOW),
        )
        | Q(state=CaseState.APPROVED)
    )
    due_purge = Q(state=CaseState.DELETED, purge_due_at__lte=now)
    quarantined = Burst.objects.filter(state=BurstState.OPEN).values("tenant_id")
    cases = OffboardingCase.objects.exclude(tenant_id__in=quarantined)
    if tenant is not None:
        cases = cases.filter(tenant=tenant)
    if case_ids is not None:
        cases = cases.filter(pk__in=case_ids)
    return {"deleted": cases.filter(due_deletion), "purged": cases.filter(due_purge)}


def cases_sweep(
    *, now=None, tenant: Tenant | None = None, limit: int | None = None, case_ids: list[int] | None = None
) -> dict[str, int]:
    """Advance the cases the clock has made due (``cases_due``; of ``case_ids`` only, if given):
    deletions, then purges, a batch per transaction. Each case is locked and skipped if another
    sweep holds it, so sweeps run at once (several workers) share the work and do each case once.
    Returns how many of each."""
    now = now or timezone.now()
    actor = Actor.system("lifecycle sweep")
    done = {"deleted": 0, "purged": 0}
    for kind, cases in cases_due(now=now, tenant=tenant, case_ids=case_ids).items():
        while limit is None or done[kind] < limit:
            with transaction.atomic():
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


# --- what people do to a case: each needs a permission and a reason ------------------------------


@contextmanager
def _acting_on(case_id: int, by, permission: str, reason: str, what: str):
    """The case, locked for a person's decision: ``by`` (an administrator or HR reviewer) must
    hold ``lifecycle.<permission>`` and give a reason; a transition the case's state refuses is
    NotAllowedNow, naming the state."""
    if not by.has_perm(f"lifecycle.{permission}"):
        raise NotPermitted(f"{by.get_username()} may not {what} (lifecycle.{permission}).")
    if not reason or not reason.strip():
        raise NotAllowedNow(f"Say why you {what}: a reason is required.")
    with transaction.atomic():
        case = (
            OffboardingCase.objects.select_for_update(of=("self",))
            .select_related("tenant", "user")
            .filter(pk=case_id)
            .first()
        )
        if case is None:
            raise DoesNotExist(f"No offboarding case {case_id}.")
        try:
            yield case
        except TransitionNotAllowed:
            raise NotAllowedNow(
                f"Case {case_id} is {case.get_state_display().lower()}: it cannot {what} now."
            ) from None


def case_approve(*, case_id: int, by, reason: str, early: bool = False, now=None) -> OffboardingCase:
    """HR approves the deletion of a case pending review: at the end of the grace period, or at
    once with ``early`` (a permission of its own). Under four eyes (the tenant's
    ``four_eyes_deletion``) the first approval is recorded and the case waits for a second,
    different reviewer's; the deletion is early only if both approved it early."""
    now = now or timezone.now()
    permission = "approve_early_deletion" if early else "review_offboarding"
    with _acting_on(
        case_id, by, permission, reason, "approve the deletion" + (" early" if early else "")
    ) as case:
        actor = Actor.for_admin(by)
        before = case.state
        if case.tenant.four_eyes_deletion:
            if case.state != CaseState.PENDING_REVIEW:
                raise TransitionNotAllowed()
            if case.first_approved_by_id is None:
                case.first_approved_by, case.first_approved_at, case.first_approval_early = by, now, early
                case.save(update_fields=["first_approved_by", "first_approved_at", "first_approval_early"])
                case_record(case, actor, "approval_recorded", before, reason, early=early)
                return case
            if case.first_approved_by_id == by.pk:
                raise NotPermitted(
                    f"{by.get_username()} approved this deletion already: a second, different reviewer "
                    "must approve it too (four eyes)."
                )
            early = early and case.first_approval_early
        case.approve(now=now, early=early)
        case.save()
        case_record(case, actor, "approved", before, reason, early=early)
        due = case.deletion_due_at is not None and case.deletion_due_at <= now
        if due and not Burst.objects.filter(tenant=case.tenant, state=BurstState.OPEN).exists():
            _delete(case, actor, now, reason=reason)  # in a burst, the sweep does it once released
    return case


def case_extend(*, case_id: int, by, until, reason: str) -> OffboardingCase:
    """Move a case's deletion later (never earlier: that is an early approval)."""
    with _acting_on(case_id, by, "extend_grace_period", reason, "extend the grace period") as case:
        if case.state not in (CaseState.SUSPENDED, CaseState.PENDING_REVIEW, CaseState.APPROVED):
            raise TransitionNotAllowed()
        if until > timezone.now() + MAX_EXTENSION:
            raise NotAllowedNow(
                f"Extend by at most {MAX_EXTENSION.days // 365} years; for longer, place a legal hold."
            )
        if case.deletion_due_at is not None and until <= case.deletion_due_at:
            raise NotAllowedNow(
                f"Case {case_id} is due on {case.deletion_due_at:%Y-%m-%d %H:%M}: extend it past that."
            )
        before_due = case.deletion_due_at
        case.deletion_due_at = until
        _first_approval_withdrawn(case)  # it approved the deletion as due then
        case.save(update_fields=["deletion_due_at", "first_approved_by", "first_approved_at"])
        case_record(
            case,
            Actor.for_admin(by),
            "extended",
            case.state,
            reason,
            deletion_due_at={
                "before": before_due.isoformat() if before_due else None,
                "after": until.isoformat(),
            },
        )
    return case


def _first_approval_withdrawn(case: OffboardingCase) -> None:
    """Four eyes: a first approval holds for the case as it was approved; an extension or a hold
    changes that, and the deletion needs two approvals again."""
    case.first_approved_by, case.first_approved_at = None, None


def case_cancel_by(*, case_id: int, by, reason: str, now=None) -> OffboardingCase:
    """An administrator stops an offboarding: nothing more happens to the user, who stays as its
    identity provider left it (suspended, or hidden); only the IdP gives access back."""
    now = now or timezone.now()
    with _acting_on(case_id, by, "cancel_offboarding", reason, "cancel the offboarding") as case:
        before = case.state
        case.cancel(now=now)
        case.save()
        case_record(case, Actor.for_admin(by), "cancelled", before, reason)
    return case


def case_hold(*, case_id: int, by, reason: str, now=None) -> OffboardingCase:
    """A legal hold: no deletion and no purge until someone else releases it."""
    now = now or timezone.now()
    with _acting_on(case_id, by, "place_legal_hold", reason, "place a legal hold") as case:
        before = case.state
        case.hold(now=now, by=by, reason=reason)
        _first_approval_withdrawn(case)  # what a hold was placed for, HR weighs anew
        case.save()
        case_record(case, Actor.for_admin(by), "held", before, reason)
    return case


def case_release(*, case_id: int, by, reason: str, now=None) -> OffboardingCase:
    """Release a legal hold: four eyes, so not by the person who placed it. The case goes back to
    where it was, and what fell due meanwhile happens at the next sweep."""
    now = now or timezone.now()
    with _acting_on(case_id, by, "release_legal_hold", reason, "release the legal hold") as case:
        if case.held_by_id is not None and case.held_by_id == by.pk:
            raise NotPermitted(
                f"{by.get_username()} placed this hold: someone else must release it (four eyes)."
            )
        before = case.state
        case.release_hold(now=now)
        case.save()
        case_record(case, Actor.for_admin(by), "released", before, reason, held_by=case.held_by_id)
    return case


def case_note(*, case_id: int, by, reason: str) -> OffboardingCase:
    """A note on the case's history (``reason`` is its text): for whoever reviews it next, and the
    auditors. Changes nothing else."""
    with _acting_on(case_id, by, "review_offboarding", reason, "add a note") as case:
        case_record(case, Actor.for_admin(by), "noted", case.state, reason.strip())
    return case


def case_successor_set(*, case_id: int, by, successor_id, reason: str) -> OffboardingCase:
    """HR names who takes over the leaver's data (the ``record_data_successor`` step recorded the
    manager): a visible user of the same tenant, not the leaver."""
    with _acting_on(case_id, by, "review_offboarding", reason, "name the data successor") as case:
        successor = (
            User.objects.filter(tenant=case.tenant, pk=successor_id)
            .exclude(state=UserState.DELETED)
            .exclude(pk=case.subject_id)
            .first()
        )
        if successor is None:
            raise InvalidReference(f"No user {successor_id} of this tenant can take over the data.")
        before = case.data_successor_id
        case.data_successor = successor
        case.save(update_fields=["data_successor"])
        case_record(
            case,
            Actor.for_admin(by),
            "successor_named",
            case.state,
            reason,
            data_successor={"before": str(before) if before else None, "after": str(successor.pk)},
        )
    return case
