"""Groups (RFC 7643 section 4.2) and their members.

A member is a user or another group (nested groups). Each membership is its own row, so adding
or removing a member is an INSERT or DELETE of that row alone: a group of 100,000 members is
never loaded or rewritten to change one of them.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from directory.models.base import Versioned, casefold_key, new_id
from directory.models.users import SHORT


class Group(Versioned):
    KEY_COLUMNS = {"display_name": "display_name_key"}  # as User.KEY_COLUMNS

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="groups")
    display_name = models.CharField(max_length=SHORT)
    display_name_key = models.CharField(max_length=SHORT * 3, editable=False)
    # Set to display_name_key only in tenants that require unique group names, so that one
    # constraint enforces the setting without racing (NULLs never collide).
    unique_name_key = models.CharField(max_length=SHORT * 3, null=True, blank=True, editable=False)
    external_id = models.CharField(max_length=SHORT, null=True, blank=True)
    # Values of the tenant's Group extension schemas, as User.extensions.
    extensions = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("tenant", "unique_name_key", name="group_name_unique_when_required"),
        ]
        indexes = [
            models.Index(fields=["tenant", "id"], name="group_tenant_id"),
            models.Index(fields=["tenant", "display_name_key"], name="group_tenant_display_name"),
            models.Index(fields=["tenant", "external_id"], name="group_tenant_external_id"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        self.sync_keys()
        super().save(*args, **kwargs)

    def sync_keys(self, *, unique_names: bool | None = None) -> None:
        """Derive the casefolded lookup columns; ``unique_names`` is the tenant's setting."""
        self.display_name_key = casefold_key(self.display_name)
        if unique_names is None:
            unique_names = self.tenant.unique_group_names
        self.unique_name_key = self.display_name_key if unique_names else None


class Membership(models.Model):
    # The member types a membership can name, each by its own foreign key: resource type name ->
    # column (a new member type is a column, its constraints, and an entry here).
    MEMBER_COLUMNS = {"User": "member_user", "Group": "member_group"}

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    # Indexed by membership_by_user / membership_by_group below, not twice by the foreign keys.
    member_user = models.ForeignKey(
        "directory.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    member_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="parent_memberships",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(member_user__isnull=False, member_group__isnull=True)
                | Q(member_user__isnull=True, member_group__isnull=False),
                name="membership_exactly_one_member",
            ),
            models.CheckConstraint(condition=~Q(member_group=F("group")), name="membership_not_self"),
            models.UniqueConstraint(
                "group", "member_user", condition=Q(member_user__isnull=False), name="membership_unique_user"
            ),
            models.UniqueConstraint(
                "group",
                "member_group",
                condition=Q(member_group__isnull=False),
                name="membership_unique_group",
            ),
        ]
        indexes = [
            models.Index(fields=["member_user"], name="membership_by_user"),
            models.Index(fields=["member_group"], name="membership_by_group"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} ∋ {self.member_user_id or self.member_group_id}"
