"""Tenants: one customer's directory, and the settings that govern it."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

RESERVED_SLUGS = {"v1", "v2", "v3", "scim"}


class DeprovisionAction(models.TextChoices):
    """What an identity provider's deprovisioning of a user starts (``lifecycle`` carries it out).
    Whatever it is, access ends at once, in the request; the record is kept (hidden once deleted)
    until it is purged, so that a rehire before then restores the same account."""

    SUSPEND = "suspend", "Suspend only (an administrator decides what follows)"
    DELETE_AFTER_GRACE = "delete_after_grace", "Suspend, then delete when the grace period ends"
    DELETE_AFTER_REVIEW = "delete_after_review", "Suspend, then delete once HR approves"
    DELETE_NOW = "delete_now", "Delete at once (the record is kept hidden until purged)"


class Tenant(models.Model):
    slug = models.SlugField(
        max_length=63, unique=True, help_text="Used in URLs: /scim/<slug>/v2/ and in commands."
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(
        default=True, help_text="An inactive tenant's tokens are refused; its data is kept."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The offboarding policy (lifecycle/): what a deactivation (active: false) and what a DELETE
    # start. Okta never sends DELETE (it deactivates), so a deactivation must be able to lead to
    # deletion too. Each case keeps the policy it started with.
    on_deactivate = models.CharField(
        max_length=24,
        choices=DeprovisionAction.choices,
        default=DeprovisionAction.DELETE_AFTER_REVIEW,
        help_text="What an identity provider's active: false starts.",
    )
    on_delete = models.CharField(
        max_length=24,
        choices=DeprovisionAction.choices,
        default=DeprovisionAction.DELETE_AFTER_REVIEW,
        help_text="What an identity provider's DELETE starts (the user is hidden at once, whatever it is).",
    )
    offboarding_grace_period = models.DurationField(
        default=timedelta(days=30),
        help_text="How long a deprovisioned user's record is kept before it may be deleted, so that a "
        "rehire restores the same account.",
    )
    purge_after = models.DurationField(
        default=timedelta(days=90), help_text="How long a deleted user's hidden record is kept before purge."
    )
    # Four eyes (SOC 2 CC6.2, ISO 27001 A.5.3's segregation of duties): a deletion HR approves
    # takes effect only once a second, different reviewer approved it too (lifecycle.services).
    four_eyes_deletion = models.BooleanField(
        default=False,
        help_text="A deletion needs the approval of two different HR reviewers.",
    )
    # The burst guard: this many deprovisions, or this share of the tenant's users, within the
    # window, and the tenant is quarantined (no deletion proceeds until an administrator decides).
    burst_count = models.PositiveIntegerField(
        default=50, help_text="Deprovisions within the window that quarantine the tenant (0: never by count)."
    )
    burst_percent = models.PositiveSmallIntegerField(
        default=10,
        help_text="Share of the tenant's users (percent) deprovisioned within the window that quarantines it "
        "(0: never by share).",
    )
    burst_window = models.DurationField(default=timedelta(minutes=15), help_text="The burst guard's window.")
    # The console's evidence pack and dashboard (issue 21): how soon access must end after the
    # identity provider deprovisions someone (SOC 2 CC6.2, ISO 27001 A.5.18), and how long an
    # active user may go untouched by the IdP before it is listed as a possible orphan.
    access_ended_sla = models.DurationField(
        default=timedelta(hours=24),
        help_text="How soon after the identity provider deprovisions someone their access must end; "
        "the evidence pack lists each termination that took longer as a breach.",
    )
    orphan_after = models.DurationField(
        default=timedelta(days=90),
        help_text="An active user the identity provider has not provisioned or updated for this long "
        "is listed on the dashboard as an orphan candidate.",
    )
    # The trail is append-only; the purge alone may redact a person's values in it (audit_redact).
    purge_redacts_audit = models.BooleanField(
        default=True,
        help_text="When a purge removes a person's record, redact their values (names, addresses, "
        "userName) in the audit events about them, keeping who did what and when. Off: the trail "
        "keeps them until its own retention ends (a regulator's full trail).",
    )
    # On by default: Entra matches groups by displayName (or externalId) before it creates one, and
    # Okta's Group Push cannot push a name the app already has; two groups of one name leave both
    # unable to tell which is meant (README, "Group names"). Tenants made before keep their setting.
    unique_group_names = models.BooleanField(
        default=True, help_text="Refuse a group whose displayName another group has (case-insensitive)."
    )
    # Off: a body may carry extension schemas this tenant has not declared; their values are
    # ignored, and the write's audit event names them (RFC 7644 section 3.3 lets a server ignore
    # what it does not support). On: such a request is refused with 400 invalidValue.
    strict_extensions = models.BooleanField(
        default=False,
        help_text="Refuse requests that carry extension schemas this tenant has not declared, "
        "instead of ignoring their values.",
    )
    # A new value on every change of the tenant's extension declarations (None: never declared any),
    # so that each process knows when the declarations it keeps are stale: the token that selects
    # the tenant is read fresh after any change of the tenant row (directory/db/token_cache.py).
    extensions_stamp = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        problems: dict[str, str] = {}
        # /scim/<slug>/v2/ would be ambiguous with /scim/v2/ for these.
        if self.slug.lower() in RESERVED_SLUGS:
            problems["slug"] = f"{self.slug!r} is reserved; choose another slug."
        # A field a form could not read is None here: its own error says so already.
        zero = timedelta(0)
        if (self.offboarding_grace_period or zero) < zero:
            problems["offboarding_grace_period"] = "The grace period cannot be negative."
        if (self.purge_after or zero) < zero:
            problems["purge_after"] = "The purge delay cannot be negative."
        for field, what in (
            ("access_ended_sla", "The time allowed to end access"),
            ("orphan_after", "The time before a user counts as an orphan"),
        ):
            value = getattr(self, field)  # None where the form could not read it
            if value is not None and value <= zero:
                problems[field] = f"{what} must be more than zero."
        if (self.burst_percent or 0) > 100:
            problems["burst_percent"] = "A share of the tenant's users is at most 100 percent."
        if (self.burst_window or zero) <= zero:
            problems["burst_window"] = "The burst guard's window must be longer than nothing."
        if problems:
            raise ValidationError(problems)
