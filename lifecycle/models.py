"""Offboarding cases: one per leaver, from the identity provider's deprovisioning to the purge.

```
suspended ─► pending_review ─► approved ─► deleted ─► purged
    │              │               │           │
    └──────────────┴───────────────┴───────────┴──► cancelled (rehire, before the purge)
  on_hold (legal hold) and quarantined (burst) from any of the first four, back where they were
```

A case is opened in the SCIM request that deprovisions the user (``lifecycle.receivers``): access
has ended by then (the user is suspended, or hidden by a DELETE). What follows is the policy the
tenant had at that moment (``action``, kept on the case): nothing more (``suspend``), deletion when
the grace period ends, deletion once HR approves (and the grace period has ended, unless an early
deletion is approved), or deletion at once. Deletion hides the user for good (a rehire can still
restore it until the purge); the purge, ``purge_after`` later, removes the person's data and leaves
the case as the tombstone.

Each transition is a method here (django-fsm-2) with its sources and guard; it sets its timestamp
and nothing else. ``lifecycle.services`` runs it: locks the case, applies its effect on the user
through the directory's services, records its audit event (naming the actor and the reason) and
saves, in one transaction. The user's ``state`` stays the one truth SCIM reads; ``case_agrees``
says what a case and its user must look like together.
"""

from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from directory.models import DeprovisionAction, UserState


class CaseState(models.TextChoices):
    SUSPENDED = "suspended", "Suspended"
    PENDING_REVIEW = "pending_review", "Pending HR review"
    APPROVED = "approved", "Deletion approved"
    DELETED = "deleted", "Deleted (kept until purged)"
    PURGED = "purged", "Purged"
    CANCELLED = "cancelled", "Cancelled (rehired)"
    ON_HOLD = "on_hold", "On legal hold"
    QUARANTINED = "quarantined", "Quarantined (burst)"


class Trigger(models.TextChoices):
    DEACTIVATE = "deactivate", "Deactivated by the identity provider"
    DELETE = "delete", "Deleted by the identity provider"


# Cases still under way: at most one per user. A purged or cancelled case is history.
OPEN_STATES = (
    CaseState.SUSPENDED,
    CaseState.PENDING_REVIEW,
    CaseState.APPROVED,
    CaseState.DELETED,
    CaseState.ON_HOLD,
    CaseState.QUARANTINED,
)
# Where a case may be held, or quarantined, from; it goes back there when released.
HOLDABLE = (CaseState.SUSPENDED, CaseState.PENDING_REVIEW, CaseState.APPROVED, CaseState.DELETED)
BEFORE_DELETION = (CaseState.SUSPENDED, CaseState.PENDING_REVIEW, CaseState.APPROVED)


class OffboardingCase(ConcurrentTransitionMixin, models.Model):
    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="+")
    # The user, until the purge deletes its row; ``subject_id`` keeps its id for ever.
    user = models.ForeignKey(
        "directory.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="offboarding_cases"
    )
    subject_id = models.UUIDField(help_text="The user's id (kept after the purge).")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    action = models.CharField(
        max_length=24,
        choices=DeprovisionAction.choices,
        help_text="The tenant's policy when the case opened.",
    )
    state = FSMField(default=CaseState.SUSPENDED, choices=CaseState.choices, protected=True)
    resume_state = models.CharField(
        max_length=16, choices=CaseState.choices, blank=True, default="", help_text="Where a hold returns to."
    )
    opened_by = models.CharField(max_length=200, help_text="Who deprovisioned the user, as named then.")

    # The times auditors ask for (RFC 7644 says nothing of them; SOC 2 CC6.2/CC6.3 and ISO 27001
    # A.5.18 want them per leaver).
    deprovisioned_at = models.DateTimeField(default=timezone.now, help_text="When the IdP deprovisioned.")
    access_ended_at = models.DateTimeField(default=timezone.now, help_text="When access ended (the request).")
    idp_deleted_at = models.DateTimeField(null=True, blank=True, help_text="When the IdP deleted the user.")
    approved_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(
        null=True, blank=True, help_text="From when the sweep deletes (None: not by the clock)."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    purge_due_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hold_reason = models.TextField(blank=True, default="")
    # Flapping: deactivated and active again within a day, and how often.
    flaps = models.PositiveIntegerField(default=0)
    last_flap_at = models.DateTimeField(null=True, blank=True)
    # What a rehire restores: the groups the user was in when it was hidden (ids).
    restore = models.JSONField(default=dict, blank=True)
    # Who takes over the leaver's data (the manager, unless HR says otherwise).
    data_successor = models.ForeignKey(
        "directory.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The burst that quarantined the case, if one did (lifecycle.bursts).
    burst = models.ForeignKey(
        "lifecycle.Burst", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    # The offboarding steps (lifecycle/steps.py): when all were done, and whether one kept failing.
    steps_enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its steps were last sent (empty: still to send)."
    )
    steps_finished_at = models.DateTimeField(null=True, blank=True)
    steps_failed = models.BooleanField(default=False, help_text="A step failed after every retry.")
    # Four eyes (the tenant's ``four_eyes_deletion``): the first of the two approvals a deletion needs.
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    first_approval_early = models.BooleanField(default=False)
    # When the tenant's reviewers were told the case needs review (lifecycle.notifications).
    review_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "user", condition=Q(state__in=OPEN_STATES), name="offboarding_one_open_case_per_user"
            ),
        ]
        # What people may do to a case (lifecycle.services checks them): HR reviewers approve;
        # the rest are given to whom the organisation chooses (a group in the admin).
        permissions = [
            ("review_offboarding", "Can approve the deletion of a leaver"),
            ("approve_early_deletion", "Can approve a deletion before the grace period ends"),
            ("extend_grace_period", "Can extend a leaver's grace period"),
            ("cancel_offboarding", "Can cancel an offboarding"),
            ("place_legal_hold", "Can place a legal hold"),
            ("release_legal_hold", "Can release a legal hold placed by someone else"),
        ]
        indexes = [
            # The sweep's two questions: what is due for deletion, and for purge.
            models.Index(
                fields=["deletion_due_at"],
                condition=Q(state__in=(CaseState.SUSPENDED, CaseState.APPROVED)),
                name="offboarding_deletion_due",
            ),
            models.Index(
                fields=["purge_due_at"], condition=Q(state=CaseState.DELETED), name="offboarding_purge_due"
            ),
            models.Index(fields=["tenant", "state"], name="offboarding_tenant_state"),
            # The cases whose steps are still to send (lifecycle.step_runs.steps_dispatch).
            models.Index(
                fields=["id"],
                condition=Q(steps_enqueued_at__isnull=True, steps_finished_at__isnull=True),
                name="offboarding_steps_unsent",
            ),
            # The burst guard's count: the tenant's cases opened within its window.
            models.Index(fields=["tenant", "deprovisioned_at"], name="offboarding_tenant_window"),
            # The HR screen's list: open cases, due first (lifecycle.hr.selectors).
            models.Index(
                fields=["deletion_due_at", "id"],
                condition=Q(state__in=OPEN_STATES),
                name="offboarding_open_due",
            ),
            # The cases whose reviewers are still to be told (lifecycle.notifications).
            models.Index(
                fields=["id"],
                condition=Q(state=CaseState.PENDING_REVIEW, review_notified_at__isnull=True),
                name="offboarding_review_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} of {self.subject_id} ({self.state})"

    # --- transitions: each sets its timestamp; lifecycle.services applies the effects ----------

    @transition(field=state, source=CaseState.SUSPENDED, target=CaseState.PENDING_REVIEW)
    def request_review(self) -> None:
        """The policy wants HR's approval before deletion."""

    @transition(field=state, source=CaseState.PENDING_REVIEW, target=CaseState.APPROVED)
    def approve(self, *, now, early: bool = False) -> None:
        """HR approves the deletion: at the end of the grace period, or now (``early``)."""
        self.approved_at = now
        if early or self.deletion_due_at is None:
            self.deletion_due_at = now

    @transition(field=state, source=BEFORE_DELETION, target=CaseState.DELETED)
    def delete(self, *, now, purge_after) -> None:
        self.deleted_at = now
        self.purge_due_at = now + purge_after

    @transition(field=state, source=CaseState.DELETED, target=CaseState.PURGED)
    def purge(self, *, now) -> None:
        self.purged_at = now

    @transition(
        field=state, source=(*HOLDABLE, CaseState.ON_HOLD, CaseState.QUARANTINED), target=CaseState.CANCELLED
    )
    def cancel(self, *, now) -> None:
        """A rehire (or an administrator): the user is active again. A legal hold does not keep
        the identity provider from giving access back; its record stays in the trail."""
        self.cancelled_at = now

    @transition(field=state, source=HOLDABLE, target=CaseState.ON_HOLD)
    def hold(self, *, now, by, reason: str) -> None:
        """A legal hold: no deletion and no purge until it is released."""
        self.resume_state = self.state
        self.held_at, self.held_by, self.hold_reason = now, by, reason

    @transition(field=state, source=CaseState.ON_HOLD, target=RETURN_VALUE(*HOLDABLE))
    def release_hold(self, *, now) -> str:
        resumed, self.resume_state = self.resume_state, ""
        return resumed

    @transition(field=state, source=HOLDABLE, target=CaseState.QUARANTINED)
    def quarantine(self, *, burst) -> None:
        """Part of a burst of deprovisions: no deletion and no purge until it is decided."""
        self.resume_state, self.burst = self.state, burst

    @transition(field=state, source=CaseState.QUARANTINED, target=RETURN_VALUE(*HOLDABLE))
    def release_quarantine(self) -> str:
        resumed, self.resume_state = self.resume_state, ""
        return resumed

    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def case_agrees(case: OffboardingCase, user_state: str | None) -> bool:
    """Whether a case and its user's ``state`` (None: the user's row is gone) are consistent: an
    open case before deletion has its user suspended, or hidden once the IdP deleted it; a deleted
    case (or one held or quarantined there), a hidden user; a purged case, no user. A cancelled
    case is history: its user is whatever later writes made it."""
    if case.state == CaseState.CANCELLED:
        return True
    if case.state == CaseState.PURGED:
        return user_state is None
    effective = case.resume_state if case.state in (CaseState.ON_HOLD, CaseState.QUARANTINED) else case.state
    if effective == CaseState.DELETED or case.idp_deleted_at is not None:
        return user_state == UserState.DELETED
    return user_state == UserState.SUSPENDED


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (after every retry)"


class CaseStep(models.Model):
    """One offboarding step of a case (``lifecycle.steps``): run by a Celery task, retried with
    exponential backoff, its attempts and last error kept. ``claimed_at`` is when a worker took it
    (a step claimed long ago by a worker that died is taken again by the sweep)."""

    case = models.ForeignKey(OffboardingCase, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint("case", "name", name="case_step_once")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=(StepStatus.PENDING, StepStatus.RUNNING)),
                name="case_step_due",
            )
        ]
        ordering = ["case", "position"]

    def __str__(self) -> str:
        return f"{self.name} of case {self.case_id} ({self.status})"


class BurstState(models.TextChoices):
    OPEN = "open", "Quarantined: awaiting an administrator"
    RELEASED = "released", "Released: the cases go on"
    REVERTED = "reverted", "Reverted: its users reactivated"


class Burst(models.Model):
    """A burst of deprovisions in one tenant (more than its thresholds within its window): the
    tenant is quarantined while it is open. Suspensions still take effect (access ends: the safe
    side); no deletion or purge of the tenant proceeds until an administrator releases the burst
    (its cases go on) or reverts it (every user it deprovisioned is given back its access)."""

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="bursts")
    state = models.CharField(max_length=16, choices=BurstState.choices, default=BurstState.OPEN)
    window_start = models.DateTimeField(help_text="The window in which the deprovisions were counted began.")
    detected_at = models.DateTimeField(default=timezone.now)
    deprovisions = models.PositiveIntegerField(help_text="Deprovisions in the window when it was detected.")
    users = models.PositiveIntegerField(
        null=True, blank=True, help_text="The tenant's users then, if counted."
    )
    rule = models.CharField(max_length=200, help_text="The threshold it crossed.")
    alerted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When the decision had been carried out for every case."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint("tenant", condition=Q(state="open"), name="burst_one_open_per_tenant"),
        ]
        permissions = [("decide_burst", "Can release or revert a burst of deprovisions")]

    def __str__(self) -> str:
        return f"burst {self.pk} of {self.tenant} ({self.state})"


HR_REVIEWERS = "HR reviewers"  # the group; lifecycle.reviewers creates it with its permissions


class Reviewer(models.Model):
    """An HR reviewer's assignment: a Django user of the group "HR reviewers" and the tenants whose
    offboarding cases it sees on the HR screen (``/hr/``), and nothing else of Roster."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hr_reviewer"
    )
    tenants = models.ManyToManyField("directory.Tenant", related_name="reviewers", blank=True)
    timezone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="An IANA time zone (Europe/Berlin) for the dates on the HR screen and in its emails; "
        "empty: the browser's.",
    )
    # The daily digest's claim: the day (UTC) it was last sent (lifecycle.notifications).
    digest_sent_on = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "HR reviewer"

    def __str__(self) -> str:
        return self.user.get_username()

    def clean(self) -> None:
        if self.timezone and self.timezone not in available_timezones():
            raise ValidationError(
                {"timezone": f"{self.timezone!r} is no IANA time zone (say Europe/Berlin)."}
            )
