"""An administrator's decision on a burst of deprovisions (``lifecycle.bursts``): release it (its
cases go on where they were) or revert it (every user it deprovisioned is given back its access).

One decision, by someone holding ``lifecycle.decide_burst``, with a reason, recorded at once; a
task then carries it out case by case (``burst_finish``), each in a transaction of its own that
takes the user's lock before the case's (``directory.services.locks``), skipping cases another
worker holds. The sweep finishes what a lost message left (``bursts_sweep``), and quarantines
cases a request opened in the instant the burst was being opened; a revert also takes those,
found by their time in the window.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from directory.errors import AlreadyExists, DoesNotExist, NotAllowedNow, NotPermitted
from directory.models import Tenant, User, UserState
from directory.services.audit import Actor
from directory.services.locks import schema_share
from directory.services.users import user_undelete, user_update
from lifecycle.bursts import burst_alert, burst_record, burst_send, bursts_mark, cases_in_window
from lifecycle.models import HOLDABLE, Burst, BurstState, CaseState, OffboardingCase
from lifecycle.notifications import reviews_nudge
from lifecycle.records import case_record
from lifecycle.services import case_cancel, groups_restore

FINISH_BATCH = 100  # cases a decided burst's task carries out per round


def burst_release(*, burst_id: int, by, reason: str, now=None) -> Burst:
    """The deprovisions were meant: the burst's cases go on where they were."""
    return _decide(burst_id, by, reason, BurstState.RELEASED, now)


def burst_revert(*, burst_id: int, by, reason: str, now=None) -> Burst:
    """The deprovisions were a mistake: every user the burst deprovisioned is given back its access
    (reactivated, or restored if its IdP deleted it, its groups back) and its case cancelled."""
    return _decide(burst_id, by, reason, BurstState.REVERTED, now)


def _decide(burst_id: int, by, reason: str, outcome: str, now) -> Burst:
    verb = "release" if outcome == BurstState.RELEASED else "revert"
    if not by.has_perm("lifecycle.decide_burst"):
        raise NotPermitted(f"{by.get_username()} may not {verb} a burst (lifecycle.decide_burst).")
    if not reason or not reason.strip():
        raise NotAllowedNow(f"Say why you {verb} the burst: a reason is required.")
    with transaction.atomic():
        # FOR NO KEY UPDATE: requests quarantining cases in it (a foreign key to it: FOR KEY
        # SHARE) need not wait.
        burst = (
            Burst.objects.select_for_update(no_key=True).select_related("tenant").filter(pk=burst_id).first()
        )
        if burst is None:
            raise DoesNotExist(f"No burst {burst_id}.")
        if burst.state != BurstState.OPEN:
            raise NotAllowedNow(f"Burst {burst_id} is {burst.get_state_display().lower()}: decided already.")
        burst.state = outcome
        burst.decided_at = now or timezone.now()
        burst.decided_by = by
        burst.decision_reason = reason
        burst.save(update_fields=["state", "decided_at", "decided_by", "decision_reason"])
        burst_record(burst, Actor.for_admin(by), verb + "d", reason)
        burst_send("finish_burst", burst.pk)
    return burst


def _to_finish(burst: Burst):
    """A decided burst's cases still to carry out: those it quarantined; for a revert, also those
    opened in its window that it did not mark (in the instant it opened) and are still open."""
    cases = OffboardingCase.objects.filter(burst=burst, state=CaseState.QUARANTINED)
    if burst.state == BurstState.REVERTED:
        cases = cases | cases_in_window(burst).filter(state__in=HOLDABLE, burst__isnull=True)
    return cases


def burst_finish(*, burst_id: int) -> int:
    """Carry out a decided burst, case by case (each in a transaction of its own, so a crash
    loses nothing and a second worker skips what the first holds). Returns how many were done."""
    burst = Burst.objects.select_related("tenant", "decided_by").filter(pk=burst_id).first()
    if burst is None or burst.state == BurstState.OPEN:
        return 0
    actor = Actor.for_admin(burst.decided_by) if burst.decided_by else Actor.system("burst decision")
    done = 0
    while True:
        ids = list(_to_finish(burst).order_by("pk").values_list("pk", "user_id")[:FINISH_BATCH])
        progressed = 0
        for case_id, user_id in ids:
            if burst.state == BurstState.RELEASED:
                progressed += _release_one(burst, case_id, actor)
            else:
                progressed += _revert_one(burst, case_id, user_id, actor)
        done += progressed
        if not ids:
            Burst.objects.filter(pk=burst.pk, finished_at__isnull=True).update(finished_at=timezone.now())
            reviews_nudge()  # once all are back, not per case: one email for the released cases in review
            return done
        if not progressed:
            return done  # another worker holds them: it, or the next sweep, finishes


def _locked_case(burst: Burst, case_id: int) -> OffboardingCase | None:
    """The case, locked (skipped if another worker has it), if it is still the burst's to do."""
    return (
        _to_finish(burst)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("tenant", "user")
        .filter(pk=case_id)
        .first()
    )


def _release_one(burst: Burst, case_id: int, actor: Actor) -> int:
    with transaction.atomic():
        case = _locked_case(burst, case_id)
        if case is None:
            return 0
        if case.state == CaseState.QUARANTINED:
            before = case.state
            case.release_quarantine()
            case.save()
            case_record(case, actor, "released", before, burst.decision_reason, burst=burst.pk)
    return 1


def _revert_one(burst: Burst, case_id: int, user_id, actor: Actor) -> int:
    """Give the case's user its access back: the user's row is locked before the case
    (``directory.services.locks``), the case cancelled, then the user reactivated (or restored,
    its groups given back once committed). A userName taken by another user meanwhile leaves the
    user hidden: its case goes on, with the reason recorded."""
    tenant = burst.tenant
    with transaction.atomic():
        schema_share(tenant=tenant, check=False)
        if user_id is not None:
            list(User.objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))
        case = _locked_case(burst, case_id)
        if case is None:
            return 0
        user = case.user
        if user is None:
            return 0
        if user.state == UserState.DELETED:
            try:
                with transaction.atomic():
                    user_undelete(tenant=tenant, actor=actor, user_id=user.pk)
            except AlreadyExists as error:
                before = case.state
                if case.state == CaseState.QUARANTINED:
                    case.release_quarantine()
                case.burst = burst  # done with, as far as this burst goes
                case.save()
                case_record(case, actor, "revert_failed", before, str(error), burst=burst.pk)
                return 1
            groups = list((case.restore or {}).get("groups", []))
            transaction.on_commit(
                lambda: groups_restore(tenant=tenant, user_id=user.pk, group_ids=groups, actor=actor)
            )
        case_cancel(
            tenant=tenant,
            user_id=user.pk,
            actor=actor,
            at=timezone.now(),
            reason=f"burst {burst.pk} reverted: {burst.decision_reason}",
        )
        if user.state != UserState.DELETED:
            # Reactivating announces it (directory.signals.user_activated): the case is already
            # cancelled, so the lifecycle has nothing more to do.
            user_update(tenant=tenant, actor=actor, user_id=user.pk, fields={"active": True})
    return 1


def bursts_sweep(*, tenant: Tenant | None = None) -> dict[str, int]:
    """What a lost message or a request's skipped lock left: open bursts' unmarked cases, alerts
    not sent, decided bursts not carried out."""
    done = {"quarantined": 0, "alerts": 0, "burst_cases": 0}
    bursts = Burst.objects.filter(tenant=tenant) if tenant is not None else Burst.objects.all()
    for burst in bursts.filter(state=BurstState.OPEN).select_related("tenant"):
        done["quarantined"] += bursts_mark(burst, skip_locked=True)
        done["alerts"] += burst_alert(burst_id=burst.pk)
    decided = bursts.exclude(state=BurstState.OPEN).filter(finished_at__isnull=True)
    for burst_id in decided.values_list("pk", flat=True):
        done["burst_cases"] += burst_finish(burst_id=burst_id)
    return done
