"""Tenants: one customer's directory, and the settings that govern it."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

RESERVED_SLUGS = {"v1", "v2", "v3", "scim"}


class OffboardingPolicy(models.TextChoices):
    """What happens when the identity provider deprovisions a user (used by ``lifecycle``)."""

    IMMEDIATE = "immediate", "Delete at once (the row is kept hidden until purge)"
    STAGED = "staged", "Suspend, then delete when the grace period ends"
    HR_REVIEW = "hr_review", "Suspend, then delete once HR approves"


class Tenant(models.Model):
    slug = models.SlugField(
        max_length=63, unique=True, help_text="Used in URLs: /scim/<slug>/v2/ and in commands."
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(
        default=True, help_text="An inactive tenant's tokens are refused; its data is kept."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    offboarding_policy = models.CharField(
        max_length=16, choices=OffboardingPolicy.choices, default=OffboardingPolicy.STAGED
    )
    offboarding_grace_period = models.DurationField(
        default=timedelta(days=30), help_text="How long a deprovisioned user stays suspended before deletion."
    )
    purge_after = models.DurationField(
        default=timedelta(days=90), help_text="How long a deleted user's hidden row is kept before purge."
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
        # /scim/<slug>/v2/ would be ambiguous with /scim/v2/ for these.
        if self.slug.lower() in RESERVED_SLUGS:
            raise ValidationError({"slug": f"{self.slug!r} is reserved; choose another slug."})
