"""Directory users: the SCIM User (RFC 7643 section 4.1) with the enterprise extension (4.3).

Storage is chosen for the two ways SCIM uses a user:

- Reading one user renders it from its row alone. Singular attributes are columns; each
  multi-valued attribute (``emails``, ``phoneNumbers``, ...) is a JSON list on the row, in the
  order and form the client sent it.
- Filtering must be an indexed query. Singular attributes are filtered on their columns; the
  elements of the multi-valued attributes are copied into ``UserValue`` rows (one per element),
  which is what ``emails[type eq "work" and value co "@x.com"]`` is compiled against. The
  service that writes a user rewrites those rows in the same transaction.

Case-insensitive attributes that are looked up on every provisioning call (userName, displayName,
emails.value) also have a ``*_key`` column holding the casefolded value, indexed; userName's and
the emails' are their identifier keys (``directory.identifiers``: RFC 8265), so that names that
look alike are one key.
"""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from directory.identifiers import user_name_key
from directory.models.base import Versioned, casefold_key, new_id

SHORT = 256  # userName, names, titles: anything a person types
LONG = 2048  # URLs (profileUrl, photos)


class UserState(models.TextChoices):
    """Where a user is in its lifecycle; ``active`` is SCIM's ``active: true``."""

    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    PENDING_DELETION = "pending_deletion", "Pending deletion"
    DELETED = "deleted", "Deleted (hidden until purge)"


class User(Versioned):
    # Storage facts the services and the SCIM binding (scim_api/bindings.py) both read, declared
    # once: the casefolded key column of each case-insensitive lookup column; the JSON lists
    # whose elements are copied into UserValue rows; and those of them whose values are
    # references or binary, matched exactly (RFC 7643: caseExact true), so unkeyed.
    KEY_COLUMNS = {"user_name": "user_name_key", "display_name": "display_name_key"}
    MULTI_VALUED_FIELDS = (
        "emails",
        "phone_numbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509_certificates",
    )
    CASE_EXACT_VALUES = frozenset({"photos", "x509_certificates"})

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # Not indexed alone: user_tenant_id and the other (tenant, ...) indexes lead with it.
    tenant = models.ForeignKey(
        "directory.Tenant", on_delete=models.PROTECT, related_name="users", db_index=False
    )

    user_name = models.CharField(max_length=SHORT)
    user_name_key = models.CharField(max_length=SHORT * 3, editable=False)
    external_id = models.CharField(max_length=SHORT, null=True, blank=True)

    name_formatted = models.CharField(max_length=SHORT * 2, blank=True, default="")
    name_family_name = models.CharField(max_length=SHORT, blank=True, default="")
    name_given_name = models.CharField(max_length=SHORT, blank=True, default="")
    name_middle_name = models.CharField(max_length=SHORT, blank=True, default="")
    name_honorific_prefix = models.CharField(max_length=SHORT, blank=True, default="")
    name_honorific_suffix = models.CharField(max_length=SHORT, blank=True, default="")

    display_name = models.CharField(max_length=SHORT, blank=True, default="")
    display_name_key = models.CharField(max_length=SHORT * 3, blank=True, default="", editable=False)
    nick_name = models.CharField(max_length=SHORT, blank=True, default="")
    profile_url = models.CharField(max_length=LONG, blank=True, default="")
    title = models.CharField(max_length=SHORT, blank=True, default="")
    user_type = models.CharField(max_length=SHORT, blank=True, default="")
    preferred_language = models.CharField(max_length=64, blank=True, default="")
    locale = models.CharField(max_length=64, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    # SCIM's active; None when unassigned (an IdP removed it): not returned, and never let in.
    active = models.BooleanField(null=True, default=True)
    password = models.CharField(max_length=256, blank=True, default="", help_text="A Django password hash.")

    emails = models.JSONField(default=list, blank=True)
    phone_numbers = models.JSONField(default=list, blank=True)
    ims = models.JSONField(default=list, blank=True)
    photos = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True)
    entitlements = models.JSONField(default=list, blank=True)
    roles = models.JSONField(default=list, blank=True)
    x509_certificates = models.JSONField(default=list, blank=True)

    # urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
    employee_number = models.CharField(max_length=SHORT, blank=True, default="")
    cost_center = models.CharField(max_length=SHORT, blank=True, default="")
    organization = models.CharField(max_length=SHORT, blank=True, default="")
    division = models.CharField(max_length=SHORT, blank=True, default="")
    department = models.CharField(max_length=SHORT, blank=True, default="")
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    # Values of the tenant's own extension schemas (directory/models/extensions.py):
    # {"<schema urn>": {"<attribute>": value}}, spelled as declared.
    extensions = models.JSONField(default=dict, blank=True)

    # Lifecycle (driven by the lifecycle app). ``state == active`` exactly when ``active`` is True:
    # false or unassigned, the user is suspended (or further along).
    state = models.CharField(max_length=20, choices=UserState.choices, default=UserState.ACTIVE)
    state_changed_at = models.DateTimeField(default=now)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When a pending deletion takes effect, unless held or stopped."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False, help_text="Blocks deletion and purge while set.")

    class Meta:
        constraints = [
            # Unique among the users that exist; a deleted user's hidden row does not keep its
            # userName from a rehire.
            models.UniqueConstraint(
                "tenant",
                "user_name_key",
                condition=~Q(state=UserState.DELETED),
                name="user_name_unique_per_tenant",
            ),
            # active IS NOT NULL first: in SQL, NULL = true is NULL, and a CHECK that is NULL holds,
            # so without it an unassigned active would pass beside state = 'active'.
            models.CheckConstraint(
                condition=Q(active__isnull=False, active=True, state=UserState.ACTIVE)
                | (Q(active=False) | Q(active__isnull=True)) & ~Q(state=UserState.ACTIVE),
                name="user_active_matches_state",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "id"], name="user_tenant_id"),
            # Listing and counting visible users read this index alone (index-only scans); with
            # the family name in it, a surname search in id order ("familyName sw ...") tests each
            # user without reading its row.
            models.Index(
                fields=["tenant", "id"],
                include=["name_family_name"],
                condition=~Q(state=UserState.DELETED),
                name="user_visible_by_id",
            ),
            models.Index(fields=["tenant", "external_id"], name="user_tenant_external_id"),
            models.Index(fields=["tenant", "display_name_key"], name="user_tenant_display_name"),
            # A create looks for a deleted user of the same userName to restore (a rehire): the
            # unique index of userName holds only the users that are not deleted.
            models.Index(
                fields=["tenant", "user_name_key"],
                condition=Q(state=UserState.DELETED),
                name="user_deleted_by_name",
            ),
            models.Index(
                fields=["tenant", "deletion_due_at"],
                condition=Q(deletion_due_at__isnull=False),
                name="user_deletion_due",
            ),
        ]

    def __str__(self) -> str:
        return self.user_name

    def save(self, *args, **kwargs):
        self.sync_keys()
        super().save(*args, **kwargs)

    def sync_keys(self) -> None:
        """Derive the lookup columns; call before bulk_create, which skips save(). Raises
        ``InvalidIdentifier`` for a userName RFC 8265 refuses."""
        self.user_name_key = user_name_key(self.user_name)
        self.display_name_key = casefold_key(self.display_name)


class UserValue(models.Model):
    """One element of a user's multi-valued attribute, copied from the user row for filtering.

    Derived data: ``directory.services.users`` rewrites a user's rows for an attribute whenever
    it writes that attribute, in the same transaction. Case-insensitive sub-attributes are
    stored casefolded; sub-attributes without a column are filtered through ``data``.
    """

    # Not indexed alone: user_value_key leads with it.
    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    # Indexed below, with what a filter tests of an element (user_value_by_user).
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="values", db_index=False)
    attribute = models.CharField(max_length=32, help_text="The User model field, e.g. 'emails'.")
    position = models.PositiveSmallIntegerField()
    value = models.TextField(blank=True, default="")
    value_key = models.CharField(
        max_length=SHORT * 3,
        null=True,
        blank=True,
        help_text="Casefolded value; null for binary and reference values, which are case-exact.",
    )
    type = models.CharField(max_length=SHORT * 3, blank=True, default="")
    primary = models.BooleanField(default=False)
    display = models.CharField(max_length=SHORT * 3, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("user", "attribute", "position", name="user_value_position"),
        ]
        indexes = [
            models.Index(fields=["tenant", "attribute", "value_key"], name="user_value_key"),
            # A filter on a user's elements (emails[type eq "work" and value co "x"]) probes this
            # index per user and tests the element in it, without reading the row.
            models.Index(
                fields=["user", "attribute"],
                include=["tenant", "type", "value_key"],
                name="user_value_by_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}[{self.position}]={self.value}"


class PendingDeactivation(models.Model):
    """A deactivation whose consequences are still to be drawn (an outbox): written in the very
    statement that deactivates the user and records its audit event (``event``: who, when, the
    request), so that the deactivating request costs what any other PATCH does. The lifecycle
    takes each row, opens the leaver's offboarding case from it and deletes it
    (``lifecycle.deactivations``). No foreign keys: their checks would cost the hot write."""

    tenant_id = models.IntegerField()
    user_id = models.UUIDField(db_index=True)
    event_id = models.BigIntegerField(help_text="The deactivation's audit event.")

    def __str__(self) -> str:
        return f"deactivation of {self.user_id} (event {self.event_id})"
