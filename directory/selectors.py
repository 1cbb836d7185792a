"""Reads of directory data. Every selector takes the tenant: no query crosses tenants."""

import uuid
from collections import defaultdict

from django.db.models import Exists, OuterRef, QuerySet

from directory.models import Group, Membership, Tenant, User, UserState
from directory.services.errors import DoesNotExist


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def users_visible(*, tenant: Tenant) -> QuerySet[User]:
    """The tenant's users as SCIM sees them: deleted users are hidden rows until purge."""
    return User.objects.filter(tenant=tenant).exclude(state=UserState.DELETED)


def manager_names(*, tenant: Tenant, users) -> dict:
    """``{manager_id: displayName}`` for the managers of ``users``; no query when none has one.
    Read per page rather than joined into the listing, so that counting a listing joins nothing."""
    ids = {u.manager_id for u in users if u.manager_id}
    if not ids:
        return {}
    return dict(User.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "display_name"))


def user_get(*, tenant: Tenant, user_id: str) -> User:
    pk = parse_id(user_id)
    user = users_visible(tenant=tenant).filter(pk=pk).first() if pk else None
    if user is None:
        raise DoesNotExist(f"User {user_id} not found.")
    return user


def group_get(*, tenant: Tenant, group_id: str) -> Group:
    pk = parse_id(group_id)
    group = Group.objects.filter(tenant=tenant, pk=pk).first() if pk else None
    if group is None:
        raise DoesNotExist(f"Group {group_id} not found.")
    return group


def groups_of_users(*, tenant: Tenant, user_ids: list) -> dict:
    """Each user's groups: ``{user_id: [(group_id, display_name, "direct" | "indirect")]}``.

    Direct memberships in one query, each flagged with whether its group sits in another group;
    only then one query per level of nesting.
    """
    nested = Membership.objects.filter(member_group_id=OuterRef("group_id"))
    direct = (
        Membership.objects.filter(tenant=tenant, member_user_id__in=user_ids)
        .annotate(nested=Exists(nested))
        .values_list("member_user_id", "group_id", "group__display_name", "nested")
    )
    result: dict = defaultdict(list)
    names: dict = {}
    parents_of_user: dict = defaultdict(set)
    frontier = set()
    for user_id, group_id, name, has_parent in direct:
        result[user_id].append((group_id, name, "direct"))
        names[group_id] = name
        parents_of_user[user_id].add(group_id)
        if has_parent:
            frontier.add(group_id)
    # Walk up the nesting: ancestors[g] = every group that contains g, directly or not.
    ancestors: dict = defaultdict(set)
    edges: dict = defaultdict(set)  # child group -> parent groups
    seen = set(names)  # direct groups without a parent need no walk
    while frontier:
        rows = Membership.objects.filter(tenant=tenant, member_group_id__in=frontier).values_list(
            "member_group_id", "group_id", "group__display_name"
        )
        frontier = set()
        for child, parent, name in rows:
            edges[child].add(parent)
            names[parent] = name
            if parent not in seen:
                seen.add(parent)
                frontier.add(parent)
    if edges:
        for group_id in names:
            stack, found = list(edges.get(group_id, ())), set()
            while stack:
                parent = stack.pop()
                if parent not in found:
                    found.add(parent)
                    stack.extend(edges.get(parent, ()))
            ancestors[group_id] = found
        for user_id, direct_groups in parents_of_user.items():
            indirect = set().union(*(ancestors[g] for g in direct_groups)) - direct_groups
            result[user_id].extend((g, names[g], "indirect") for g in sorted(indirect))
    return result


def group_members(*, tenant: Tenant, group_id) -> list[tuple[str, uuid.UUID, str]]:
    """``[("User" | "Group", id, display)]`` of one group, users then groups, in insertion order."""
    users = (
        Membership.objects.filter(tenant=tenant, group_id=group_id, member_user__isnull=False)
        .order_by("id")
        .values_list("member_user_id", "member_user__display_name", "member_user__user_name")
    )
    groups = (
        Membership.objects.filter(tenant=tenant, group_id=group_id, member_group__isnull=False)
        .order_by("id")
        .values_list("member_group_id", "member_group__display_name")
    )
    return [("User", pk, display or user_name) for pk, display, user_name in users] + [
        ("Group", pk, display) for pk, display in groups
    ]


def _closure(step, start) -> set:
    """Everything reachable from ``start`` by repeating ``step`` (ids -> ids), start excluded
    unless reached again; one query per level of nesting, safe against cycles."""
    found, frontier = set(), set(start)
    while frontier:
        frontier = set(step(frontier)) - found
        found |= frontier
    return found


def group_ancestors(*, tenant: Tenant, group_ids) -> set:
    """Every group that contains one of ``group_ids``, directly or through nesting."""
    return _closure(
        lambda ids: Membership.objects.filter(tenant=tenant, member_group_id__in=ids).values_list(
            "group_id", flat=True
        ),
        group_ids,
    )


def group_descendants(*, group_id, tenant: Tenant | None = None) -> set:
    """The group and every group nested in it, at any depth. Group ids are unique across
    tenants, so the walk stays in the group's tenant; ``tenant`` only narrows the queries."""
    scope = Membership.objects.filter(tenant=tenant) if tenant is not None else Membership.objects.all()
    return {group_id} | _closure(
        lambda ids: scope.filter(group_id__in=ids, member_group__isnull=False).values_list(
            "member_group_id", flat=True
        ),
        {group_id},
    )
