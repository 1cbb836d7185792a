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

from directory import signals
from directory.db.audited_writes import insert_unless_taken, update_if_unchanged
from directory.db.prepared import PreparedQuery
from directory.db.rows import Rows
from directory.errors import AlreadyExists, DoesNotExist, InvalidReference, VersionMismatch
from directory.identifiers import key_function, lookup_key, parse_id, user_name_key
from directory.models import (
    AuditEvent,
    Group,
    Membership,
    PendingDeactivation,
    Tenant,
    User,
    UserExtensionValue,
    UserState,
    UserValue,
    casefold_key,
)
from directory.selectors import RELATED_WITH_GROUPS, SAMPLE_ID, SAMPLE_TENANT_ID, users_visible
from directory.services.audit import Actor, audit_event, audit_record, input_ignored_record
from directory.services.extension_rows import (
    extension_changes,
    extension_repeats_refused,
    extension_rows,
    extension_rows_replace,
    extension_value_taken,
    unique_violation,
)
from directory.services.locks import groups_lock, key_share, schema_share

REDACTED = "[redacted]"


def _state_fields(active: bool | None, now) -> dict[str, Any]:
    if active is True:
        return {"active": True, "state": UserState.ACTIVE, "state_changed_at": now, "suspended_at": None}
    # False, or None: unassigned (an IdP removed it), which lets no one in either.
    return {"active": active, "state": UserState.SUSPENDED, "state_changed_at": now, "suspended_at": now}


def _check_manager(tenant: Tenant, manager_id, user_id=None) -> str | None:
    """The displayName of the manager ``manager_id`` names, after checking it may be one. The
    manager is locked ``FOR KEY SHARE`` (``directory.services.locks``) until the transaction ends:
    call it in the transaction that writes the reference, so that a concurrent delete of the
    manager either waits for the write (and then clears it) or is seen by it (and refused)."""
    if manager_id is None:
        return None
    pk = parse_id(manager_id)
    if pk is not None and pk == user_id:
        raise InvalidReference("A user cannot be their own manager.")
    found = []
    if pk is not None:
        names = users_visible(tenant=tenant).filter(pk=pk).values_list("display_name", flat=True)
        found = key_share(names)
    if not found:
        raise InvalidReference(f"manager {manager_id} is not a user of this directory.")
    return found[0]


def _sets_manager(user, fields: dict[str, Any]) -> bool:
    """Whether ``fields`` make someone the user's manager who is not already: then checking the
    manager and writing the user must be one transaction (``_check_manager``)."""
    pk = parse_id(fields["manager_id"]) if fields.get("manager_id") is not None else None
    return pk is not None and pk != getattr(user, "manager_id", None)


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
                value_key=None if field in User.CASE_EXACT_VALUES else key_function(field)(value),
                type=casefold_key(element.get("type", "")) or "",
                primary=element.get("primary") is True,
                display=casefold_key(element.get("display", "")) or "",
                data=element,
            )
        )
    return rows


def _reindex(tenant: Tenant, user_id, values: dict[str, Any], fields: list[str]) -> None:
    """Rewrite the ``UserValue`` rows of the multi-valued ``fields`` from their new ``values``, and
    the extension rows when ``values`` holds a new ``extensions``."""
    if fields:
        UserValue.objects.filter(user_id=user_id, attribute__in=fields).delete()
        rows = [row for f in fields for row in _values_rows(tenant.pk, user_id, f, values[f])]
        UserValue.objects.bulk_create(rows)
    if "extensions" in values:
        extension_rows_replace(
            UserExtensionValue,
            tenant=tenant,
            resource_type="User",
            owner_id=user_id,
            extensions=values["extensions"],
        )


def _audit_value(field: str, value):
    if field == "password":
        return REDACTED if value else None
    if hasattr(value, "hex"):
        return str(value)
    return value


def _name_taken(user_name: str) -> AlreadyExists:
    key = lookup_key(user_name)
    compared = f" (userNames are compared as {key!r}: RFC 8265)" if key != user_name else ""
    return AlreadyExists(f"userName {user_name!r} is already taken in this directory{compared}.")


def _taken(error: IntegrityError, user_name: str) -> None:
    """A write refused for a taken userName is AlreadyExists; any other refusal stays as it is."""
    if "user_name" in str(error).lower():
        raise _name_taken(user_name) from None


def _guarded(tenant: Tenant) -> bool:
    """Whether a write must run in a transaction holding the tenant's schema lock: in a tenant
    with extension declarations (``directory.services.locks.schema_share``)."""
    return tenant.extensions_stamp is not None


def _audited_changes(tenant: Tenant, fields: dict[str, Any], before: dict | None = None) -> dict[str, dict]:
    """``fields``' entries of an audit event, the ``extensions`` column one per attribute."""
    changes: dict[str, dict] = {}
    for field, value in fields.items():
        if field == "extensions":
            changes |= extension_changes(tenant=tenant, resource_type="User", before=before, after=value)
        else:
            changes[field] = value
    return changes


def _ignored(changes: dict, ignored) -> dict:
    """An audit event's changes, with the input it ignored (extensions the tenant has not declared,
    RFC 7644 section 3.3) named under ``ignored``."""
    if ignored:
        changes["ignored"] = sorted(set(ignored))
    return changes


# What a write reads of a user: every column as its Python value (the change is worked out against
# them), and what rendering the result needs (``RELATED_WITH_GROUPS``), as a row (directory.db.rows).
USER_ROWS = Rows(
    User,
    tuple(f.attname for f in User._meta.concrete_fields if not f.primary_key),
    RELATED_WITH_GROUPS,
    text=False,
)


# How a write reads the user (directory.services.locks): without a lock (it writes over the version
# read), FOR NO KEY UPDATE as an update itself locks (adding the user to a group, FOR KEY SHARE,
# need not wait for it), or FOR UPDATE to delete it (which waits for whatever refers to it).
UNLOCKED, UPDATING, DELETING = "unlocked", "updating", "deleting"


def _visible(tenant_id, pk, lock: str):
    users = users_visible(tenant=tenant_id)
    if lock != UNLOCKED:
        users = users.select_for_update(no_key=lock == UPDATING)
    return USER_ROWS.select(users.filter(pk=pk))


_READ = {
    lock: PreparedQuery(
        lambda tenant_id, pk, lock=lock: _visible(tenant_id, pk, lock),
        tenant_id=SAMPLE_TENANT_ID,
        pk=SAMPLE_ID,
    )
    for lock in (UNLOCKED, UPDATING, DELETING)
}


def _read(tenant: Tenant, user_id, expected_version: int | None, *, lock: str):
    """The visible user as a row of ``USER_ROWS``, locked for this transaction as ``lock`` says;
    checks the client's If-Match version."""
    pk = parse_id(user_id)
    found = _READ[lock].run(tenant_id=tenant.pk, pk=pk) if pk else []
    if not found:
        raise DoesNotExist(f"User {user_id} not found.")
    user = found[0]
    if expected_version is not None and user.version != expected_version:
        raise VersionMismatch(f"User {user_id} is at version {user.version}, not {expected_version}.")
    return user


# The unique index of userName (the model's user_name_unique_per_tenant), as an ON CONFLICT target.
USER_NAME_TAKEN = "(tenant_id, user_name_key) WHERE NOT (state = 'deleted')"


def user_create(*, tenant: Tenant, actor: Actor, fields: dict[str, Any], ignored=()) -> User:
    """A new user, or (a rehire) the deleted one of the same externalId (or, without one, the same
    userName) brought back: same id, the request's attributes (``_restore``). ``ignored``: what
    the request carried that was ignored, named in the audit event."""
    hidden = _hidden_match(tenant, fields)
    try:
        if hidden is not None:
            return _restore(tenant, actor, hidden, dict(fields), ignored)
        with transaction.atomic() if _sets_manager(None, fields) or _guarded(tenant) else nullcontext():
            schema_share(tenant=tenant)
            return _create(tenant, actor, dict(fields), ignored)
    except IntegrityError as error:
        if not unique_violation(error):
            raise
        # Out of the failed transaction now: which value is taken can be read.
        raise extension_value_taken(
            UserExtensionValue,
            tenant=tenant,
            resource_type="User",
            owner_id=None,
            extensions=fields.get("extensions"),
        ) from None


def _hidden_match(tenant: Tenant, fields: dict[str, Any]):
    """The id of the deleted (not yet purged) user a create names again, by externalId if it has
    one, else by userName (compared as lookups compare it, RFC 8265); the latest deleted."""
    external = fields.get("external_id")
    if not external and not fields.get("user_name"):
        return None
    hidden = User.objects.filter(tenant=tenant, state=UserState.DELETED)
    if external:
        hidden = hidden.filter(external_id=external)
    else:
        hidden = hidden.filter(user_name_key=lookup_key(fields["user_name"]))
    return hidden.order_by("-deleted_at", "-pk").values_list("pk", flat=True).first()


# Derived columns and times a restore writes, which its event does not list (the event has its time).
_NOT_AUDITED = frozenset(
    {
        "extensions",
        "updated_at",
        "state_changed_at",
        "suspended_at",
        "deleted_at",
        "user_name_key",
        "display_name_key",
    }
)


def user_undelete(*, tenant: Tenant, actor: Actor, user_id) -> User:
    """The deleted (not yet purged) user made visible again as it was, active (a burst's revert,
    ``lifecycle.bursts``); its groups are the caller's to give back. AlreadyExists when another
    user has taken its userName meanwhile."""
    return _restore(tenant, actor, parse_id(user_id), None, (), announce=False)


def _restore(
    tenant: Tenant, actor: Actor, pk, fields: dict[str, Any] | None, ignored, *, announce: bool = True
) -> User:
    """A rehire: the deleted user ``pk`` made visible again with the create's attributes (a full
    replace; None: those it had), under its own id, with a new version and a ``user.restored``
    event; its audit trail and its offboarding case (cancelled by the lifecycle,
    ``directory.signals.user_restored``, when ``announce``) carry on. Should it no longer be
    deleted (restored meanwhile), the create is refused as a taken userName would be."""
    now = timezone.now()
    with transaction.atomic():
        schema_share(tenant=tenant)
        found = list(
            USER_ROWS.select(
                User.objects.filter(tenant=tenant, pk=pk, state=UserState.DELETED).select_for_update()
            )
        )
        if not found:
            raise _name_taken(fields.get("user_name", "") if fields else "")
        before = found[0]
        fields = dict(fields) if fields is not None else {"user_name": before.user_name}
        _check_manager(tenant, fields.get("manager_id"), pk)
        if fields.get("manager_id") is not None:
            fields["manager_id"] = parse_id(fields["manager_id"])
        if fields.get("password"):
            fields["password"] = make_password(fields["password"])
        values = {**fields, **_state_fields(fields.pop("active", True), now), "deleted_at": None}
        values |= {"user_name_key": user_name_key(values["user_name"]), "updated_at": now}
        values["display_name_key"] = casefold_key(values.get("display_name", before.display_name))
        changes = {
            field: {
                "before": _audit_value(field, getattr(before, field)),
                "after": _audit_value(field, value),
            }
            for field, value in values.items()
            if field not in _NOT_AUDITED and getattr(before, field, None) != value
        }
        changes |= extension_changes(
            tenant=tenant, resource_type="User", before=before.extensions, after=values.get("extensions")
        )
        try:
            with transaction.atomic():
                User.objects.filter(pk=pk).update(**values, version=F("version") + 1)
        except IntegrityError as error:
            _taken(error, values["user_name"])
            raise
        multi = {f: values.get(f, getattr(before, f)) for f in User.MULTI_VALUED_FIELDS}
        _reindex(
            tenant, pk, {**multi, "extensions": values.get("extensions", before.extensions)}, list(multi)
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="user.restored",
            target_type="user",
            target_id=pk,
            target_label=values["user_name"],
            changes=_ignored(changes, ignored),
        )
        if announce:
            signals.user_restored.send(
                sender=User, tenant=tenant, user_id=pk, user_name=values["user_name"], actor=actor, at=now
            )
    return User.objects.get(pk=pk)  # its groups read when rendered: the lifecycle gives them back


def _create(tenant: Tenant, actor: Actor, fields: dict[str, Any], ignored) -> User:
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
        changes=_ignored(
            _audited_changes(
                tenant,
                {
                    f: {"before": None, "after": _audit_value(f, v)} if f != "extensions" else v
                    for f, v in fields.items()
                    if v not in ("", None, [], {}) and f not in ("state_changed_at", "suspended_at")
                },
            ),
            ignored,
        ),
    )
    values = [
        row for f in User.MULTI_VALUED_FIELDS for row in _values_rows(tenant.pk, user.pk, f, getattr(user, f))
    ]
    extension_values = extension_rows(
        UserExtensionValue, tenant=tenant, resource_type="User", owner_id=user.pk, extensions=user.extensions
    )
    extension_repeats_refused(tenant, extension_values)
    try:
        created = insert_unless_taken(
            user, conflict=USER_NAME_TAKEN, derived=[values, extension_values], event=event
        )
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
    ignored: list[str] | tuple = (),
):
    """Set ``fields`` on the user and return it as it is then (a row of ``USER_ROWS``); a write
    that changes nothing leaves version and audit alone, unless the request carried input that was
    ignored (``ignored``, as ``fields`` leaves it), which a ``user.input_ignored`` event records.

    ``fields`` may be a function of the user as it is (a PATCH applies its operations to it): it
    is called with the user as read, and what it changes is written only over that very version
    (``update_if_unchanged``). When another write landed in between, the user is read again and
    ``fields`` called anew; after ``OPTIMISTIC_ATTEMPTS`` of those, the row is read locked."""
    for attempt in range(OPTIMISTIC_ATTEMPTS + 1):
        locked = attempt == OPTIMISTIC_ATTEMPTS
        with transaction.atomic() if locked else nullcontext():
            if locked:
                schema_share(tenant=tenant)  # step 0 comes before the user's row lock
            user = _read(tenant, user_id, expected_version, lock=UPDATING if locked else UNLOCKED)
            wanted = fields(user) if callable(fields) else fields
            written = _write_change(tenant, actor, user, wanted, ignored, shared=locked)
            if written is not None:
                return written
    raise AssertionError("A user changed under its row lock.")


def _write_change(tenant: Tenant, actor: Actor, user, wanted: dict[str, Any], ignored, *, shared: bool):
    """Write what ``wanted`` changes on ``user`` over its version: the user as written, ``user``
    itself when nothing changes, None when another write landed first. ``shared``: the caller's
    transaction holds the schema lock already. A change of access (active to inactive or back) is
    announced in the write's transaction (``directory.signals``)."""
    guarded = _guarded(tenant) and not shared
    access = _access_change(user, wanted)
    # A deactivation needs no transaction of its own: its consequences are drawn from the
    # PendingDeactivation its statement writes. A reactivation's are drawn in its transaction.
    deactivating = access is signals.user_deactivated
    in_transaction = _sets_manager(user, wanted) or guarded or (access is not None and not deactivating)
    with transaction.atomic() if in_transaction else nullcontext():
        if guarded:
            schema_share(tenant=tenant)
        change = _change(tenant, user, wanted)
        if not change.audited:
            if ignored:
                input_ignored_record(
                    tenant=tenant,
                    actor=actor,
                    target_type="user",
                    target_id=user.pk,
                    target_label=user.user_name,
                    ignored=ignored,
                )
            return user
        reindexed = [f for f in change.audited if f in User.MULTI_VALUED_FIELDS]
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
                    changes=_ignored(dict(change.audited), ignored),
                    at=change.values["updated_at"],  # the deactivation's case is opened as of it
                ),
                also=partial(_reindex, tenant, user.pk, change.values, reindexed)
                if reindexed or "extensions" in change.values
                else None,
                may_conflict="user_name_key" in change.values,  # userName is the user row's one unique index
                outbox=PendingDeactivation if deactivating else None,
            )
        except IntegrityError as error:
            _taken(error, change.values.get("user_name", user.user_name))
            if unique_violation(error):  # the write's savepoint is rolled back: the clash can be read
                raise extension_value_taken(
                    UserExtensionValue,
                    tenant=tenant,
                    resource_type="User",
                    owner_id=user.pk,
                    extensions=change.values["extensions"],
                ) from None
            raise
        if not written:
            return None
        if access is not None:
            access.send(
                sender=User,
                tenant=tenant,
                user_id=user.pk,
                user_name=change.values.get("user_name", user.user_name),
                actor=actor,
                at=change.values["updated_at"],
            )
        return user._replace(**change.values, **change.shown, version=user.version + 1)


def _access_change(user, wanted: dict[str, Any]):
    """The signal a write of ``wanted`` sends (``user_deactivated``, ``user_activated``), or None
    when it leaves the user's access as it is."""
    if "active" not in wanted or (wanted["active"] is True) == (user.active is True):
        return None
    return signals.user_activated if wanted["active"] is True else signals.user_deactivated


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
        if field == "extensions":
            if (current or {}) != (value or {}):
                audited |= _audited_changes(tenant, {field: value}, current)
                values[field] = value
            continue
        if current != value:
            audited[field] = {"before": _audit_value(field, current), "after": _audit_value(field, value)}
            values[field] = value
    if not audited:
        return _Change({}, audited, shown)
    now = timezone.now()
    if "active" in values and (values["active"] is True) != (user.active is True):
        values |= _state_fields(values["active"], now)  # not from false to unassigned: no change of state
    # A userName is checked only when it changes: one stored before RFC 8265 applied stays writable.
    for name, key, derive in (
        ("user_name", "user_name_key", user_name_key),
        ("display_name", "display_name_key", casefold_key),
    ):
        if name in values:
            values[key] = derive(values[name])
    values["updated_at"] = now
    return _Change(values, audited, shown)


class _GroupsChanged(Exception):
    """The user joined a group, locked by another write, between reading its groups and locking it."""


def user_delete(
    *, tenant: Tenant, actor: Actor, user_id, expected_version: int | None = None, announce: bool = True
) -> None:
    """Delete as SCIM sees it: the user disappears from reads and groups; the row stays hidden
    (state ``deleted``) until the purge, so that the audit trail and a rehire can refer to it.
    Its reports lose their manager, each with an audit event of its own. ``announce``: send
    ``directory.signals.user_deleted`` (an identity provider's DELETE; not the lifecycle's own).

    Locks in the order of ``directory.services.locks``: the user's groups (their versions change),
    then the user. Its groups are read before either lock; should it have joined another group by
    the time the user is locked (a group write holds that group and waits for the user, so
    waiting for the group here would deadlock), that group is taken only if free (NOWAIT), or
    else the delete starts over once the other write is through."""
    for attempt in range(DELETE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _delete(
                    tenant,
                    actor,
                    user_id,
                    expected_version,
                    last=attempt == DELETE_ATTEMPTS - 1,
                    announce=announce,
                )
        except _GroupsChanged:
            continue


DELETE_ATTEMPTS = 3


def _delete(
    tenant: Tenant, actor: Actor, user_id, expected_version: int | None, *, last: bool, announce: bool
) -> None:
    schema_share(tenant=tenant, check=False)  # step 0 first: a change of declarations locks users too
    pk = parse_id(user_id)
    memberships = Membership.objects.filter(tenant=tenant, member_user_id=pk)
    locked = (
        set(groups_lock(tenant=tenant, ids=memberships.values_list("group_id", flat=True))) if pk else set()
    )
    user = _read(tenant, user_id, expected_version, lock=DELETING)
    in_groups = list(memberships.values_list("group_id", flat=True))
    joined = set(in_groups) - locked
    if joined and groups_lock(tenant=tenant, ids=joined, nowait=not last) is None:
        raise _GroupsChanged
    now = timezone.now()
    memberships.delete()
    if tenant.extensions_stamp is not None:
        # Its extension values no longer hold anything another user may want (uniqueness), nor does
        # a hidden user match filters; its ``extensions`` column is kept with the row.
        UserExtensionValue.objects.filter(owner_id=user.pk).delete()
    # The groups' member lists changed, so do their versions (ETags).
    Group.objects.filter(pk__in=in_groups).update(version=F("version") + 1, updated_at=now)
    _clear_manager(tenant, actor, user, now)
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
            "groups": {"before": [str(g) for g in in_groups], "after": []},
        },
    )
    if announce:
        signals.user_deleted.send(
            sender=User,
            tenant=tenant,
            user_id=user.pk,
            user_name=user.user_name,
            actor=actor,
            at=now,
            groups=[str(g) for g in in_groups],
        )


def _clear_manager(tenant: Tenant, actor: Actor, manager, now) -> None:
    """The deleted ``manager``'s reports lose their manager: a new version and a ``user.updated``
    event each, as if the identity provider had cleared it. None can be added meanwhile: naming a
    manager locks it FOR KEY SHARE, which the delete's lock on the manager excludes."""
    reports = list(
        User.objects.filter(tenant=tenant, manager_id=manager.pk)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", "user_name")
    )
    if not reports:
        return
    User.objects.filter(pk__in=[pk for pk, _ in reports]).update(
        manager=None, version=F("version") + 1, updated_at=now
    )
    AuditEvent.objects.bulk_create(
        audit_event(
            tenant=tenant,
            actor=actor,
            action="user.updated",
            target_type="user",
            target_id=pk,
            target_label=user_name,
            changes={"manager_id": {"before": str(manager.pk), "after": None}},
        )
        for pk, user_name in reports
    )
