"""Creating, changing and deleting directory users.

Services take model field values (the SCIM layer translates documents into them), write only
what changed, bump ``version`` once per effective write, keep the ``UserValue`` search rows in
step with the multi-valued fields, and record one AuditEvent, all in one transaction.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from directory.models import (
    MULTI_VALUED_FIELDS,
    Group,
    Membership,
    Tenant,
    User,
    UserState,
    UserValue,
    casefold_key,
)
from directory.prepared import PreparedQuery
from directory.selectors import SAMPLE_ID, SAMPLE_TENANT_ID, parse_id, users_visible, users_with_related
from directory.services.audit import Actor, audit_record
from directory.services.errors import AlreadyExists, DoesNotExist, InvalidReference, VersionMismatch

REDACTED = "[redacted]"
# Values that are references or binary, matched exactly (RFC 7643: caseExact true).
CASE_EXACT_VALUES = {"photos", "x509_certificates"}


def _state_fields(active: bool, now) -> dict[str, Any]:
    if active:
        return {"active": True, "state": UserState.ACTIVE, "state_changed_at": now, "suspended_at": None}
    return {"active": False, "state": UserState.SUSPENDED, "state_changed_at": now, "suspended_at": now}


def _check_manager(tenant: Tenant, manager_id, user_id=None) -> None:
    if manager_id is None:
        return
    pk = parse_id(manager_id)
    if pk is not None and pk == user_id:
        raise InvalidReference("A user cannot be their own manager.")
    exists = pk is not None and users_visible(tenant=tenant).filter(pk=pk).exists()
    if not exists:
        raise InvalidReference(f"manager {manager_id} is not a user of this directory.")


def _values_rows(user: User, field: str) -> list[UserValue]:
    rows = []
    for position, element in enumerate(getattr(user, field) or []):
        value = str(element.get("value", ""))
        rows.append(
            UserValue(
                tenant_id=user.tenant_id,
                user=user,
                attribute=field,
                position=position,
                value=value,
                value_key=None if field in CASE_EXACT_VALUES else casefold_key(value),
                type=casefold_key(element.get("type", "")) or "",
                primary=element.get("primary") is True,
                display=casefold_key(element.get("display", "")) or "",
                data=element,
            )
        )
    return rows


def _reindex(user: User, fields) -> None:
    fields = [f for f in fields if f in MULTI_VALUED_FIELDS]
    if not fields:
        return
    UserValue.objects.filter(user=user, attribute__in=fields).delete()
    UserValue.objects.bulk_create([row for f in fields for row in _values_rows(user, f)])


def _audit_value(field: str, value):
    if field == "password":
        return REDACTED if value else None
    if hasattr(value, "hex"):
        return str(value)
    return value


def _save(user: User, *, update_fields: list[str] | None = None) -> None:
    """Save; a taken userName is AlreadyExists. No savepoint of its own: callers run in a
    transaction that the error rolls back whole."""
    try:
        user.save(update_fields=update_fields)
    except IntegrityError as error:
        if "user_name" in str(error).lower():
            raise AlreadyExists(f"userName {user.user_name!r} is already taken in this directory.") from None
        raise


def _locked_user(tenant_id, pk, related: bool) -> QuerySet[User]:
    query = users_visible(tenant=tenant_id).select_for_update().filter(pk=pk)
    return users_with_related(query) if related else query


_LOCKED_USER = {
    related: PreparedQuery(
        lambda tenant_id, pk, related=related: _locked_user(tenant_id, pk, related),
        tenant_id=SAMPLE_TENANT_ID,
        pk=SAMPLE_ID,
    )
    for related in (True, False)
}


def _lock(tenant: Tenant, user_id, expected_version: int | None, related: bool = False) -> User:
    """The visible user, locked for this transaction (with ``users_with_related``'s attributes if
    ``related``); checks the client's If-Match version."""
    pk = parse_id(user_id)
    found = _LOCKED_USER[related].run(tenant_id=tenant.pk, pk=pk) if pk else []
    user = found[0] if found else None
    if user is None:
        raise DoesNotExist(f"User {user_id} not found.")
    if expected_version is not None and user.version != expected_version:
        raise VersionMismatch(f"User {user_id} is at version {user.version}, not {expected_version}.")
    return user


@transaction.atomic
def user_create(*, tenant: Tenant, actor: Actor, fields: dict[str, Any]) -> User:
    fields = dict(fields)
    now = timezone.now()
    _check_manager(tenant, fields.get("manager_id"))
    if fields.get("manager_id") is not None:
        fields["manager_id"] = parse_id(fields["manager_id"])
    if fields.get("password"):
        fields["password"] = make_password(fields["password"])
    fields |= _state_fields(fields.pop("active", True), now)
    user = User(tenant=tenant, created_at=now, updated_at=now, **fields)
    _save(user)
    UserValue.objects.bulk_create([row for f in MULTI_VALUED_FIELDS for row in _values_rows(user, f)])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=user.pk,
        target_label=user.user_name,
        changes={
            f: {"before": None, "after": _audit_value(f, v)}
            for f, v in fields.items()
            if v not in ("", None, [], {}) and f not in ("state_changed_at", "suspended_at")
        },
    )
    return user


@transaction.atomic
def user_update(
    *,
    tenant: Tenant,
    actor: Actor,
    user_id,
    fields: dict[str, Any] | Callable[[User], dict[str, Any]],
    expected_version: int | None = None,
    related: bool = False,
) -> User:
    """Set ``fields`` on the user; a write that changes nothing leaves version and audit alone.

    ``fields`` may be a function of the user as it is, called with the row locked (a PATCH): no
    other write can come between what it read and what is written. ``related``: read the user
    with ``selectors.users_with_related``, for a caller that renders it."""
    user = _lock(tenant, user_id, expected_version, related)
    if callable(fields):
        fields = fields(user)
    now = timezone.now()
    changes: dict[str, dict] = {}
    for field, value in fields.items():
        if field == "password":
            # Write-only: the client cannot read it back, but the hash tells whether it is the one
            # already set. IdPs re-send it with every profile push (Okta's PUT with password sync),
            # and sending the current password again is no change: no version bump, no audit event.
            if value and not (user.password and check_password(value, user.password)):
                changes["password"] = {"before": REDACTED, "after": REDACTED}
                user.password = make_password(value)
            continue
        if field == "manager_id":
            given, value = value, (parse_id(value) if value is not None else None)
            if value != user.manager_id or (given is not None and value is None):
                # An id that is not a UUID parses to None: refuse it rather than read it as "no
                # manager", which would silently clear the current one.
                _check_manager(tenant, given, user.pk)
        current = getattr(user, field)
        if current != value:
            changes[field] = {"before": _audit_value(field, current), "after": _audit_value(field, value)}
            setattr(user, field, value)
    if not changes:
        return user
    written = [*changes, "version", "updated_at"]
    if "active" in changes:
        for field, value in _state_fields(user.active, now).items():
            setattr(user, field, value)
        written += ["state", "state_changed_at", "suspended_at"]
    if "user_name" in changes or "display_name" in changes:
        written += ["user_name_key", "display_name_key"]
    user.version += 1
    user.updated_at = now
    _save(user, update_fields=written)
    _reindex(user, changes)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="user.updated",
        target_type="user",
        target_id=user.pk,
        target_label=user.user_name,
        changes=changes,
    )
    return user


@transaction.atomic
def user_delete(*, tenant: Tenant, actor: Actor, user_id, expected_version: int | None = None) -> None:
    """Delete as SCIM sees it: the user disappears from reads and groups; the row stays hidden
    (state ``deleted``) until the purge, so that the audit trail and a rehire can refer to it.

    Locks the user's groups before the user: a group write locks the group first and then the
    member rows it changes, so the reverse order here would deadlock with a concurrent PATCH of
    one of those groups naming this user (PostgreSQL aborts one of the two: a 500)."""
    pk = parse_id(user_id)
    if pk is not None:
        in_groups = Membership.objects.filter(tenant=tenant, member_user_id=pk).values("group_id")
        list(Group.objects.select_for_update().filter(pk__in=in_groups).order_by("pk").values_list("pk"))
    user = _lock(tenant, user_id, expected_version)
    now = timezone.now()
    groups = list(Membership.objects.filter(member_user=user).values_list("group_id", flat=True))
    Membership.objects.filter(member_user=user).delete()
    # The groups' member lists changed, so do their versions (ETags).
    Group.objects.filter(pk__in=groups).update(version=F("version") + 1, updated_at=now)
    reports = User.objects.filter(tenant=tenant, manager=user)
    reports.update(manager=None, version=F("version") + 1, updated_at=now)
    before = user.state
    user.state, user.active, user.deleted_at, user.state_changed_at = UserState.DELETED, False, now, now
    user.version += 1
    user.updated_at = now
    user.save(update_fields=["state", "active", "deleted_at", "state_changed_at", "version", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="user.deleted",
        target_type="user",
        target_id=user.pk,
        target_label=user.user_name,
        changes={
            "state": {"before": before, "after": UserState.DELETED},
            "groups": {"before": [str(g) for g in groups], "after": []},
        },
    )
