"""Creating, changing and deleting directory users.

Services take model field values (the SCIM layer translates documents into them), write only
what changed, bump ``version`` once per effective write, keep the ``UserValue`` search rows in
step with the multi-valued fields, and record one AuditEvent, all or nothing. A change is written
over the version of the user it was worked out from (``audited_writes``).
"""

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import F
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
from directory.rows import Rows
from directory.selectors import RELATED_WITH_GROUPS, SAMPLE_ID, SAMPLE_TENANT_ID, parse_id, users_visible
from directory.services.audit import Actor, audit_event, audit_record
from directory.services.audited_writes import insert_unless_taken, update_if_unchanged
from directory.services.errors import AlreadyExists, DoesNotExist, InvalidReference, VersionMismatch

REDACTED = "[redacted]"
# Values that are references or binary, matched exactly (RFC 7643: caseExact true).
CASE_EXACT_VALUES = {"photos", "x509_certificates"}


def _state_fields(active: bool | None, now) -> dict[str, Any]:
    if active is True:
        return {"active": True, "state": UserState.ACTIVE, "state_changed_at": now, "suspended_at": None}
    # False, or None: unassigned (an IdP removed it), which lets no one in either.
    return {"active": active, "state": UserState.SUSPENDED, "state_changed_at": now, "suspended_at": now}


def _check_manager(tenant: Tenant, manager_id, user_id=None) -> str | None:
    """The displayName of the manager ``manager_id`` names, after checking it may be one."""
    if manager_id is None:
        return None
    pk = parse_id(manager_id)
    if pk is not None and pk == user_id:
        raise InvalidReference("A user cannot be their own manager.")
    found = users_visible(tenant=tenant).filter(pk=pk).values_list("display_name") if pk else []
    if not found:
        raise InvalidReference(f"manager {manager_id} is not a user of this directory.")
    return found[0][0]


def _values_rows(tenant_id: int, user_id, field: str, elements: list | None) -> list[UserValue]:
    rows = []
    for position, element in enumerate(elements or []):
        value = str(element.get("value", ""))
        rows.append(
            UserValue(
                tenant_id=tenant_id,
                user_id=user_id,
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


def _reindex(tenant: Tenant, user_id, values: dict[str, Any], fields: list[str]) -> None:
    """Rewrite the ``UserValue`` rows of the multi-valued ``fields`` from their new ``values``."""
    UserValue.objects.filter(user_id=user_id, attribute__in=fields).delete()
    rows = [row for f in fields for row in _values_rows(tenant.pk, user_id, f, values[f])]
    UserValue.objects.bulk_create(rows)


def _audit_value(field: str, value):
    if field == "password":
        return REDACTED if value else None
    if hasattr(value, "hex"):
        return str(value)
    return value


def _name_taken(user_name: str) -> AlreadyExists:
    return AlreadyExists(f"userName {user_name!r} is already taken in this directory.")


def _taken(error: IntegrityError, user_name: str) -> None:
    """A write refused for a taken userName is AlreadyExists; any other refusal stays as it is."""
    if "user_name" in str(error).lower():
        raise _name_taken(user_name) from None


# What a write reads of a user: every column as its Python value (the change is worked out against
# them), and what rendering the result needs (``RELATED_WITH_GROUPS``), as a row (directory.rows).
USER_ROWS = Rows(
    User,
    tuple(f.attname for f in User._meta.concrete_fields if not f.primary_key),
    RELATED_WITH_GROUPS,
    text=False,
)


def _visible(tenant_id, pk, locked: bool):
    users = users_visible(tenant=tenant_id)
    return USER_ROWS.select((users.select_for_update() if locked else users).filter(pk=pk))


_READ = {
    locked: PreparedQuery(
        lambda tenant_id, pk, locked=locked: _visible(tenant_id, pk, locked),
        tenant_id=SAMPLE_TENANT_ID,
        pk=SAMPLE_ID,
    )
    for locked in (False, True)
}


def _read(tenant: Tenant, user_id, expected_version: int | None, *, locked: bool):
    """The visible user as a row of ``USER_ROWS``, locked for this transaction if ``locked``;
    checks the client's If-Match version."""
    pk = parse_id(user_id)
    found = _READ[locked].run(tenant_id=tenant.pk, pk=pk) if pk else []
    if not found:
        raise DoesNotExist(f"User {user_id} not found.")
    user = found[0]
    if expected_version is not None and user.version != expected_version:
        raise VersionMismatch(f"User {user_id} is at version {user.version}, not {expected_version}.")
    return user


# The unique index of userName (the model's user_name_unique_per_tenant), as an ON CONFLICT target.
USER_NAME_TAKEN = "(tenant_id, user_name_key) WHERE NOT (state = 'deleted')"


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
    user.sync_keys()
    event = audit_event(
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
    values = [
        row for f in MULTI_VALUED_FIELDS for row in _values_rows(tenant.pk, user.pk, f, getattr(user, f))
    ]
    try:
        created = insert_unless_taken(user, conflict=USER_NAME_TAKEN, derived=values, event=event)
    except IntegrityError as error:
        _taken(error, user.user_name)
        raise
    if not created:
        raise _name_taken(user.user_name)
    return user


# A write that lost this many races to other writes of the same user takes the row lock instead,
# so that every write finishes however many clients write one user at once.
OPTIMISTIC_ATTEMPTS = 3


def user_update(
    *,
    tenant: Tenant,
    actor: Actor,
    user_id,
    fields: dict[str, Any] | Callable[[Any], dict[str, Any]],
    expected_version: int | None = None,
):
    """Set ``fields`` on the user and return it as it is then (a row of ``USER_ROWS``); a write
    that changes nothing leaves version and audit alone.

    ``fields`` may be a function of the user as it is (a PATCH applies its operations to it): it
    is called with the user as read, and what it changes is written only over that very version
    (``update_if_unchanged``). When another write landed in between, the user is read again and
    ``fields`` called anew; after ``OPTIMISTIC_ATTEMPTS`` of those, the row is read locked."""
    for attempt in range(OPTIMISTIC_ATTEMPTS + 1):
        locked = attempt == OPTIMISTIC_ATTEMPTS
        with transaction.atomic() if locked else nullcontext():
            user = _read(tenant, user_id, expected_version, locked=locked)
            change = _change(tenant, user, fields(user) if callable(fields) else fields)
            if not change.audited:
                return user
            reindexed = [f for f in change.audited if f in MULTI_VALUED_FIELDS]
            try:
                written = update_if_unchanged(
                    User,
                    pk=user.pk,
                    version=user.version,
                    values=change.values,
                    event=audit_event(
                        tenant=tenant,
                        actor=actor,
                        action="user.updated",
                        target_type="user",
                        target_id=user.pk,
                        target_label=change.values.get("user_name", user.user_name),
                        changes=change.audited,
                    ),
                    also=partial(_reindex, tenant, user.pk, change.values, reindexed) if reindexed else None,
                )
            except IntegrityError as error:
                _taken(error, change.values.get("user_name", user.user_name))
                raise
            if written:
                return user._replace(**change.values, **change.shown, version=user.version + 1)
    raise AssertionError("A user changed under its row lock.")


@dataclass
class _Change:
    values: dict[str, Any]  # the columns to write
    audited: dict[str, dict]  # {field: {"before": ..., "after": ...}} of what the client changed
    shown: dict[str, Any]  # what else the user as written shows: a new manager's displayName


def _change(tenant: Tenant, user, fields: dict[str, Any]) -> _Change:
    """What setting ``fields`` changes on ``user``: the columns to write and their audit."""
    values: dict[str, Any] = {}
    audited: dict[str, dict] = {}
    shown: dict[str, Any] = {}
    for field, value in fields.items():
        if field == "password":
            # Write-only: the client cannot read it back, but the hash tells whether it is the one
            # already set. IdPs re-send it with every profile push (Okta's PUT with password sync),
            # and sending the current password again is no change: no version bump, no audit event.
            if value and not (user.password and check_password(value, user.password)):
                audited["password"] = {"before": REDACTED, "after": REDACTED}
                values["password"] = make_password(value)
            continue
        if field == "manager_id":
            given, value = value, (parse_id(value) if value is not None else None)
            if value != user.manager_id or (given is not None and value is None):
                # An id that is not a UUID parses to None: refuse it rather than read it as "no
                # manager", which would silently clear the current one.
                shown["manager_display_name"] = _check_manager(tenant, given, user.pk)
        current = getattr(user, field)
        if current != value:
            audited[field] = {"before": _audit_value(field, current), "after": _audit_value(field, value)}
            values[field] = value
    if not audited:
        return _Change({}, audited, shown)
    now = timezone.now()
    if "active" in values and (values["active"] is True) != (user.active is True):
        values |= _state_fields(values["active"], now)  # not from false to unassigned: no change of state
    for name, key in (("user_name", "user_name_key"), ("display_name", "display_name_key")):
        if name in values:
            values[key] = casefold_key(values[name])
    values["updated_at"] = now
    return _Change(values, audited, shown)


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
    user = _read(tenant, user_id, expected_version, locked=True)
    now = timezone.now()
    groups = list(Membership.objects.filter(member_user_id=user.pk).values_list("group_id", flat=True))
    Membership.objects.filter(member_user_id=user.pk).delete()
    # The groups' member lists changed, so do their versions (ETags).
    Group.objects.filter(pk__in=groups).update(version=F("version") + 1, updated_at=now)
    reports = User.objects.filter(tenant=tenant, manager_id=user.pk)
    reports.update(manager=None, version=F("version") + 1, updated_at=now)
    User.objects.filter(pk=user.pk).update(
        state=UserState.DELETED,
        active=False,
        deleted_at=now,
        state_changed_at=now,
        version=F("version") + 1,
        updated_at=now,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="user.deleted",
        target_type="user",
        target_id=user.pk,
        target_label=user.user_name,
        changes={
            "state": {"before": user.state, "after": UserState.DELETED},
            "groups": {"before": [str(g) for g in groups], "after": []},
        },
    )
