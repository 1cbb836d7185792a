"""HR reviewers: Django users of the group "HR reviewers", each assigned to the tenants whose
offboarding cases they review on the HR screen (``lifecycle.hr``), and who reach nothing else.

The group carries what reviewers may do (``REVIEWER_PERMISSIONS``; administrators may change it in
the admin); a ``Reviewer`` row carries the tenants. Administrators (staff who may view cases) open
the screen too, and see every tenant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.validators import validate_email
from django.db import transaction

from directory.errors import DoesNotExist
from directory.models import Tenant
from directory.services.audit import Actor, audit_record
from lifecycle.models import HR_REVIEWERS, Reviewer

# What the group may do when Roster creates it: see cases, approve (at the end of the grace
# period or at once), extend, hold and release (four eyes), cancel, name the data successor.
REVIEWER_PERMISSIONS = (
    "view_offboardingcase",
    "review_offboarding",
    "approve_early_deletion",
    "extend_grace_period",
    "place_legal_hold",
    "release_legal_hold",
    "cancel_offboarding",
)


def reviewers_group() -> Group:
    """The group "HR reviewers", created with ``REVIEWER_PERMISSIONS`` if missing (an existing
    group keeps the permissions administrators gave it)."""
    group, created = Group.objects.get_or_create(name=HR_REVIEWERS)
    if created:
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="lifecycle", codename__in=REVIEWER_PERMISSIONS)
        )
    return group


def reviewers_group_ensure(sender, **kwargs) -> None:
    """``post_migrate``: the group exists on every database Roster migrates (and after a flush)."""
    if kwargs.get("using", "default") == "default":
        reviewers_group()


def reviewer_tenant_ids(user) -> list[int] | None:
    """The tenants whose cases ``user`` sees on the HR screen: None for every tenant (a superuser,
    or an administrator: staff who may view cases and is no reviewer), a reviewer's assigned
    tenants (a member of the group who may view cases, staff or not: its assignment, not its
    staff flag, says whose leavers it sees), none for anyone else. Kept on the user object for
    the request."""
    if hasattr(user, "_hr_tenant_ids"):
        return user._hr_tenant_ids
    may_view = user.is_active and user.is_authenticated and user.has_perm("lifecycle.view_offboardingcase")
    found: list[int] | None = []
    if not may_view:
        pass
    elif user.is_superuser:
        found = None
    elif user.groups.filter(name=HR_REVIEWERS).exists():
        found = list(
            Reviewer.tenants.through.objects.filter(reviewer__user=user).values_list("tenant_id", flat=True)
        )
    elif user.is_staff:
        found = None
    user._hr_tenant_ids = found
    return found


def is_reviewer(user) -> bool:
    """A member of "HR reviewers" who is not staff: the HR screen is all it may reach."""
    return user.is_authenticated and not user.is_staff and user.groups.filter(name=HR_REVIEWERS).exists()


def reviewer_add(
    *, username: str, tenant_slugs: Iterable[str], actor: Actor, password: str | None = None, email: str = ""
) -> tuple[Any, bool]:
    """Make ``username`` an HR reviewer of the tenants named (``manage.py add_hr_reviewer``):
    created if missing (``password`` required then, checked by the password validators), put in
    the group, and assigned; an assignment it has already is kept. Each new assignment is an
    audit event of its tenant. Returns the user and whether it was created."""
    slugs = list(dict.fromkeys(tenant_slugs))
    tenants = list(Tenant.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {t.slug for t in tenants})
    if missing:
        raise DoesNotExist(f"No tenant {', '.join(missing)}.")
    model = get_user_model()
    with transaction.atomic():
        user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
        created = user is None
        if user is None:
            if not password:
                raise DoesNotExist(f"No user {username!r} yet: give a password to create it.")
            user = model(**{model.USERNAME_FIELD: username}, email=email)
            validate_password(password, user)
            user.set_password(password)
            user.save()
        elif email and not user.email:
            user.email = email
            user.save(update_fields=["email"])
        if user.email:
            validate_email(user.email)  # a refused address would fail every notice sent to it
        user.groups.add(reviewers_group())
        reviewer, _ = Reviewer.objects.get_or_create(user=user)
        reviewer_assign(reviewer=reviewer, tenants=tenants, actor=actor)
    return user, created


def reviewer_assign(*, reviewer: Reviewer, tenants: Iterable[Tenant], actor: Actor) -> list[Tenant]:
    """Assign ``reviewer`` to ``tenants`` (those it has not yet); each is an audit event of its
    tenant (who may now see whose leavers). Returns the tenants newly assigned."""
    have = set(reviewer.tenants.values_list("pk", flat=True))
    added = [t for t in tenants if t.pk not in have]
    reviewer.tenants.add(*added)
    _record(reviewer, added, actor, "hr.reviewer_assigned")
    return added


def reviewer_unassign(*, reviewer: Reviewer, tenants: Iterable[Tenant], actor: Actor) -> None:
    """Take ``tenants`` from ``reviewer``; each is an audit event of its tenant."""
    tenants = list(tenants)
    reviewer.tenants.remove(*tenants)
    _record(reviewer, tenants, actor, "hr.reviewer_unassigned")


def _record(reviewer: Reviewer, tenants: Iterable[Tenant], actor: Actor, action: str) -> None:
    for tenant in tenants:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=action,
            target_type="reviewer",
            target_id=reviewer.user_id,
            target_label=reviewer.user.get_username(),
        )
