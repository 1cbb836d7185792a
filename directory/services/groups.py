"""Creating, changing and deleting groups, and changing their members.

Member changes are set operations in SQL that cost O(changed members): an add is an INSERT that
skips existing rows, a remove is a DELETE of the named rows, and neither reads the member list.
The group's version is bumped with ``version = version + 1`` in SQL, so concurrent member
changes to one group never lose each other.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from directory.errors import AlreadyExists, DoesNotExist, InvalidReference, VersionMismatch
from directory.identifiers import parse_id
from directory.models import Group, GroupExtensionValue, Membership, Tenant, User, UserState
from directory.selectors import group_ancestors
from directory.services.audit import Actor, audit_record, input_ignored_record
from directory.services.extension_rows import (
    extension_changes,
    extension_rows_replace,
    extension_value_taken,
    unique_violation,
)
from directory.services.locks import groups_lock, key_share, schema_share, tenant_nesting_lock, users_touch


@dataclass(frozen=True)
class MemberRef:
    """A member as the client names it: an id, and "User" or "Group" when the client says."""

    id: str
    type: str | None = None


@dataclass(frozen=True)
class ResolvedMembers:
    users: frozenset
    groups: frozenset

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)

    def as_audit(self) -> list[str]:
        return sorted(str(pk) for pk in self.users | self.groups)


def _resolve_members(tenant: Tenant, refs: list[MemberRef]) -> ResolvedMembers:
    """Which of the referenced ids are users and which are groups; a reference to nothing in this
    tenant is an error naming it (no dangling members). The members found are locked ``FOR KEY
    SHARE`` (``directory.services.locks``): a delete of one of them waits for this write, or this
    write finds it gone."""
    ids = _member_ids(refs)
    users = set(
        key_share(
            User.objects.filter(tenant=tenant, pk__in=ids)
            .exclude(state=UserState.DELETED)
            .values_list("pk", flat=True)
        )
    )
    groups = set(
        key_share(Group.objects.filter(tenant=tenant, pk__in=set(ids) - users).values_list("pk", flat=True))
    )
    for pk, ref in ids.items():
        kind = "User" if pk in users else "Group" if pk in groups else None
        if kind is None:
            raise InvalidReference(f"member {ref.id} is not a user or group of this directory.")
        if ref.type and ref.type.lower() != kind.lower():
            raise InvalidReference(f"member {ref.id} is a {kind}, not a {ref.type}.")
    return ResolvedMembers(frozenset(users), frozenset(groups))


def _member_ids(refs: list[MemberRef]) -> dict:
    ids = {}
    for ref in refs:
        pk = parse_id(ref.id)
        if pk is None:
            raise InvalidReference(f"member {ref.id!r} is not a valid id.")
        ids[pk] = ref
    return ids


def _lock_nesting_if_needed(tenant: Tenant, *ref_lists: list[MemberRef] | None) -> None:
    """Take the tenant's nesting lock (step 1 of ``directory.services.locks``) when the members a
    write adds include a group. Which ids are groups is read before any lock, as it must be to keep
    the order; a group created after this read is not one the request could have meant."""
    refs = [ref for refs in ref_lists if refs for ref in refs if (ref.type or "group").lower() == "group"]
    ids = {pk for pk in (parse_id(ref.id) for ref in refs) if pk is not None}
    if ids and Group.objects.filter(tenant=tenant, pk__in=ids).exists():
        tenant_nesting_lock(tenant=tenant)


def _check_no_cycle(tenant: Tenant, group: Group, child_groups) -> None:
    """A group may not contain itself, directly or through nested groups."""
    if not child_groups:
        return
    if group.pk in child_groups:
        raise InvalidReference("A group cannot be a member of itself.")
    ancestors = group_ancestors(tenant=tenant, group_ids={group.pk})
    looped = ancestors & set(child_groups)
    if looped:
        raise InvalidReference(f"Adding group {next(iter(looped))} would make the groups contain each other.")


def _lock(tenant: Tenant, group_id, expected_version: int | None, *, delete: bool = False) -> Group:
    """The group, locked (``FOR UPDATE`` to delete it, else ``FOR NO KEY UPDATE``: adding it to
    another group, which locks it ``FOR KEY SHARE``, need not wait for a change of its members)."""
    pk = parse_id(group_id)
    group = (
        Group.objects.select_for_update(no_key=not delete).filter(tenant=tenant, pk=pk).first()
        if pk
        else None
    )
    if group is None:
        raise DoesNotExist(f"Group {group_id} not found.")
    if expected_version is not None and group.version != expected_version:
        raise VersionMismatch(f"Group {group_id} is at version {group.version}, not {expected_version}.")
    return group


def _save(group: Group, tenant: Tenant, *, extensions: bool = False, **kwargs) -> None:
    """Save the group; ``extensions``: its ``extensions`` changed, so its extension rows are
    rewritten too."""
    group.sync_keys(unique_names=tenant.unique_group_names)
    try:
        with transaction.atomic():
            group.save(**kwargs)
            if extensions:
                extension_rows_replace(
                    GroupExtensionValue,
                    tenant=tenant,
                    resource_type="Group",
                    owner_id=group.pk,
                    extensions=group.extensions,
                )
    except IntegrityError as error:
        if "unique_name" in str(error).lower():
            raise AlreadyExists(
                f"A group named {group.display_name!r} already exists in this directory."
            ) from None
        if unique_violation(error):  # the savepoint is rolled back: the clash can be read
            raise extension_value_taken(
                GroupExtensionValue,
                tenant=tenant,
                resource_type="Group",
                owner_id=group.pk,
                extensions=group.extensions,
            ) from None
        raise


def _changes(tenant: Tenant, fields: dict[str, Any], before: Group | None, ignored) -> dict[str, dict]:
    """An audit event's entries for ``fields`` changing from ``before`` (None: a new group), the
    ``extensions`` one per attribute, and the input that was ignored."""
    changes: dict[str, Any] = {}
    for field, value in fields.items():
        old = getattr(before, field) if before is not None else None
        if field == "extensions":
            changes |= extension_changes(tenant=tenant, resource_type="Group", before=old, after=value)
        elif value not in ("", None) or before is not None:
            changes[field] = {"before": old, "after": value}
    if ignored:
        changes["ignored"] = sorted(set(ignored))
    return changes


def _insert_members(tenant: Tenant, group: Group, members: ResolvedMembers) -> None:
    Membership.objects.bulk_create(
        [Membership(tenant=tenant, group=group, member_user_id=pk) for pk in members.users]
        + [Membership(tenant=tenant, group=group, member_group_id=pk) for pk in members.groups],
        ignore_conflicts=True,
    )


def _add_members(tenant: Tenant, group: Group, wanted: ResolvedMembers) -> set:
    """Insert the members not already in; return their ids. Reads only the named rows."""
    present = Membership.objects.filter(group=group)
    new = ResolvedMembers(
        wanted.users
        - set(present.filter(member_user_id__in=wanted.users).values_list("member_user_id", flat=True)),
        wanted.groups
        - set(present.filter(member_group_id__in=wanted.groups).values_list("member_group_id", flat=True)),
    )
    _insert_members(tenant, group, new)  # ON CONFLICT DO NOTHING covers a concurrent add of the same member
    return set(new.users | new.groups)


def _bump(group: Group) -> None:
    """A new version for a group whose members changed. The row is locked (``_lock``), so the
    version read with it is the current one: no need to read it back."""
    group.version += 1
    group.updated_at = timezone.now()
    Group.objects.filter(pk=group.pk).update(version=group.version, updated_at=group.updated_at)


@transaction.atomic
def group_create(
    *,
    tenant: Tenant,
    actor: Actor,
    fields: dict[str, Any],
    members: list[MemberRef] | None = None,
    ignored=(),
) -> Group:
    """``ignored``: what the request carried that was ignored, named in the audit event."""
    now = timezone.now()
    group = Group(tenant=tenant, created_at=now, updated_at=now, **fields)
    schema_share(tenant=tenant)
    _lock_nesting_if_needed(tenant, members)
    resolved = _resolve_members(tenant, members or [])
    _save(group, tenant, extensions=bool(group.extensions))
    _insert_members(tenant, group, resolved)
    users_touch(ids=resolved.users)
    changes = _changes(tenant, fields, None, ignored)
    if resolved:
        changes["members"] = {"before": [], "after": resolved.as_audit()}
    audit_record(
        tenant=tenant,
        actor=actor,
        action="group.created",
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes=changes,
    )
    return group


@transaction.atomic
def group_update(
    *,
    tenant: Tenant,
    actor: Actor,
    group_id,
    fields: dict[str, Any] | Callable[[Group], dict[str, Any]] | None = None,
    add: list[MemberRef] | None = None,
    remove: list[MemberRef] | None = None,
    replace_members: list[MemberRef] | None = None,
    expected_version: int | None = None,
    ignored=(),
) -> Group:
    """Change a group's attributes and members in one step: one version bump, one audit event.

    ``fields`` may be a function of the group as locked (a PATCH applies its operations to it, so
    that two concurrent PATCHes of its attributes never write back what the other changed).
    Member changes: ``replace_members`` sets the list (``[]`` empties it); ``add`` and ``remove``
    change only the members they name (removing a non-member changes nothing). ``ignored``: what
    the request carried that was ignored, named in the audit event.
    """
    schema_share(tenant=tenant)
    _lock_nesting_if_needed(tenant, add, replace_members)
    group = _lock(tenant, group_id, expected_version)
    given = (fields(group) if callable(fields) else fields) or {}
    changed = {field: value for field, value in given.items() if getattr(group, field) != value}
    changes: dict[str, Any] = {
        key: entry for key, entry in _changes(tenant, changed, group, ()).items() if key != "ignored"
    }
    for field, value in changed.items():
        setattr(group, field, value)

    added, removed = set(), set()
    if replace_members is not None:
        wanted = _resolve_members(tenant, replace_members)
        _check_no_cycle(tenant, group, wanted.groups)
        dropped = (
            Membership.objects.filter(group=group)
            .exclude(member_user_id__in=wanted.users)
            .exclude(member_group_id__in=wanted.groups)
        )
        # django-stubs types values_list() of a nullable foreign key as never None (so u as always
        # true): one of the two is None.
        pairs = dropped.values_list("member_user_id", "member_group_id")
        removed |= {u or g for u, g in pairs}  # type: ignore[truthy-bool]
        dropped.delete()
        added |= _add_members(tenant, group, wanted)
    if remove:
        ids = {pk for pk in (parse_id(ref.id) for ref in remove) if pk is not None}
        gone = Membership.objects.filter(group=group, member_user_id__in=ids) | Membership.objects.filter(
            group=group, member_group_id__in=ids
        )
        pairs = gone.values_list("member_user_id", "member_group_id")
        removed |= {u or g for u, g in pairs}  # type: ignore[truthy-bool]  # as above
        gone.delete()
    if add:
        wanted = _resolve_members(tenant, add)
        _check_no_cycle(tenant, group, wanted.groups)
        added |= _add_members(tenant, group, wanted)
    if added or removed:
        changes["members"] = {"added": sorted(map(str, added)), "removed": sorted(map(str, removed))}
        users_touch(ids=added | removed)

    if not changes:
        if ignored:
            input_ignored_record(
                tenant=tenant,
                actor=actor,
                target_type="group",
                target_id=group.pk,
                target_label=group.display_name,
                ignored=ignored,
            )
        return group
    if ignored:
        changes["ignored"] = sorted(set(ignored))
    if set(changes) - {"members", "ignored"}:
        group.version += 1
        group.updated_at = timezone.now()
        _save(group, tenant, extensions="extensions" in changed)
    else:
        _bump(group)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="group.updated",
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes=changes,
    )
    return group


@transaction.atomic
def group_delete(*, tenant: Tenant, actor: Actor, group_id, expected_version: int | None = None) -> None:
    """Delete the group and its memberships, both ways. Its parents lose a member and its direct
    user members a group, so their versions change too: the nesting lock comes first (no new
    parent meanwhile), then the group and its parents are locked in id order."""
    pk = parse_id(group_id)
    schema_share(tenant=tenant, check=False)  # step 0: a change of declarations locks groups too
    tenant_nesting_lock(tenant=tenant)
    parents = Membership.objects.filter(tenant=tenant, member_group_id=pk).values_list("group_id", flat=True)
    groups_lock(tenant=tenant, ids={pk, *parents} if pk else (), delete=True)
    group = _lock(tenant, group_id, expected_version, delete=True)
    member_count = Membership.objects.filter(group=group).count()
    Group.objects.filter(pk__in=parents).update(version=F("version") + 1, updated_at=timezone.now())
    users_touch(
        ids=Membership.objects.filter(group=group, member_user__isnull=False).values("member_user_id")
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="group.deleted",
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes={
            "displayName": {"before": group.display_name, "after": None},
            "members": {"before": member_count, "after": 0},
        },
    )
    if tenant.extensions_stamp is not None:  # none in a tenant that never declared an extension
        GroupExtensionValue.objects.filter(owner_id=group.pk).delete()
    group.delete()
