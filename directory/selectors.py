"""Reads of directory data. Every selector takes the tenant: no query crosses tenants."""

import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

import orjson
from django.db.models import CharField, Exists, F, Func, OuterRef, Prefetch, QuerySet, TextField

from directory.db.prepared import PreparedQuery
from directory.db.rows import Rows
from directory.errors import DoesNotExist
from directory.extension_values import number
from directory.identifiers import parse_id
from directory.models import (
    ExtensionAttribute,
    ExtensionSchema,
    Group,
    Membership,
    Tenant,
    User,
    UserState,
)


def users_visible(*, tenant: Tenant | int) -> QuerySet[User]:
    """The tenant's users as SCIM sees them: deleted users are hidden rows until purge. ``tenant``
    may be an id (prepared queries are built from sample ids)."""
    return User.objects.filter(tenant=tenant).exclude(state=UserState.DELETED)


# The columns that name or reach a person (what a purge must leave nowhere): the userName, names,
# identifiers and addresses, as opposed to attributes many people share (title, department).
PERSONAL_COLUMNS = (
    "user_name",
    "external_id",
    "name_formatted",
    "name_family_name",
    "name_given_name",
    "name_middle_name",
    "display_name",
    "nick_name",
    "profile_url",
    "employee_number",
)
PERSONAL_MULTI = ("emails", "phone_numbers", "ims", "photos", "addresses", "x509_certificates")


def user_personal_values(*, user: User) -> list[str]:
    """The strings that identify ``user``: its personal columns, the values of its emails, phone
    numbers, addresses and the like, and the strings of its extension values."""
    found = [getattr(user, column) or "" for column in PERSONAL_COLUMNS]
    for column in PERSONAL_MULTI:
        for element in getattr(user, column) or []:
            if isinstance(element, dict):
                found += [
                    v for k, v in element.items() if k not in ("type", "primary") and isinstance(v, str)
                ]
    found += _strings(user.extensions)
    return sorted({value.strip() for value in found if value and value.strip()})


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _groups_sql(aggregate: str, array: str, cast: str = "") -> str:
    # Table and function names of our own: no value goes into the text.
    membership, group = Membership._meta.db_table, Group._meta.db_table
    return (
        f"(SELECT {aggregate}({array}(m.group_id, g.display_name, "  # noqa: S608
        f"EXISTS(SELECT 1 FROM {membership} p WHERE p.member_group_id = m.group_id))){cast} "
        f"FROM {membership} m JOIN {group} g ON g.id = m.group_id "
        "WHERE m.member_user_id = %(expressions)s)"
    )


class DirectGroups(Func):
    """A user's direct groups as JSON, ``[[group_id, displayName, has_parent], ...]`` (NULL or
    ``[]`` for none), given the user's id column. Written as SQL: the same subquery built with the ORM took
    a millisecond per request to compile, more than PostgreSQL takes to run the whole page query."""

    # As text: psycopg would decode json with the standard library; orjson is faster.
    template = _groups_sql("JSON_AGG", "JSON_BUILD_ARRAY", cast="::TEXT")
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        template = _groups_sql("JSON_GROUP_ARRAY", "JSON_ARRAY")
        return self.as_sql(compiler, connection, template=template, **extra_context)


class DisplayNameOf(Func):
    """The displayName of the user whose id the expression gives (a manager's)."""

    template = f"(SELECT u.display_name FROM {User._meta.db_table} u WHERE u.id = %(expressions)s)"  # noqa: S608
    output_field = CharField()


# What rendering a user needs besides its row, read in the same statement: the manager's
# displayName and (RELATED_WITH_GROUPS) the direct groups, so that ``groups_of_users`` needs no
# query unless a group is nested.
RELATED = {"manager_display_name": DisplayNameOf(F("manager_id"))}
RELATED_WITH_GROUPS = {**RELATED, "direct_groups": DirectGroups(F("pk"))}


def user_rows(*, fields: tuple[str, ...], groups: bool, annotations: tuple[str, ...] = ()) -> Rows:
    """Rows of users: their times and version, ``fields``, ``RELATED`` (``RELATED_WITH_GROUPS``
    with ``groups``), and the querysets' own ``annotations``, named."""
    key = (fields, groups, annotations)
    if key not in _USER_ROWS:
        related = RELATED_WITH_GROUPS if groups else RELATED
        _USER_ROWS[key] = Rows(
            User,
            ("created_at", "updated_at", "version", *fields),
            {**related, **{name: F(name) for name in annotations}},
        )
    return _USER_ROWS[key]


_USER_ROWS: dict[tuple, Rows] = {}


def manager_names(*, tenant: Tenant, users) -> dict:
    """``{manager_id: displayName}`` for the managers of ``users`` (instances or rows); no query
    when none has one or the users were read with their related values."""
    names = {u.manager_id: u.manager_display_name for u in users if hasattr(u, "manager_display_name")}
    ids = {u.manager_id for u in users if u.manager_id and u.manager_id not in names}
    if ids:
        names |= dict(User.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "display_name"))
    return names


# Placeholders for compiling prepared queries: values no caller sends.
SAMPLE_TENANT_ID = -730_517_293
SAMPLE_ID = uuid.UUID("0badc0de-5eed-4a11-8bad-f00d0badc0de")
SAMPLE_VALUE = "roster-prepared-sample-value"

# Prepared reads of users as rows, per (rows, column, count): few in practice (identity providers
# look up by userName or externalId, with a count of their own); bounded all the same.
_PREPARED: dict[tuple, PreparedQuery] = {}
PREPARED_VARIANTS = 64


def _prepared(key: tuple, build, **samples) -> PreparedQuery | None:
    prepared = _PREPARED.get(key)
    if prepared is None:
        if len(_PREPARED) >= PREPARED_VARIANTS:
            return None
        prepared = _PREPARED[key] = PreparedQuery(build, **samples)
    return prepared


def users_where(*, tenant: Tenant, column: str, value: str, count: int, rows: Rows) -> list | None:
    """The first ``count`` visible users (by id) whose ``column`` equals ``value``, as ``rows``;
    None when there are already too many variants prepared."""
    prepared = _prepared(
        (rows, column, count),
        lambda tenant_id, value: rows.select(
            users_visible(tenant=tenant_id).filter(**{column: value}).order_by("pk")[:count]
        ),
        tenant_id=SAMPLE_TENANT_ID,
        value=SAMPLE_VALUE,
    )
    return None if prepared is None else prepared.run(tenant_id=tenant.pk, value=value)


def user_get(*, tenant: Tenant, user_id: str, rows: Rows):
    """The visible user, as a row of ``rows``."""
    pk = parse_id(user_id)

    def build(tenant_id, pk):
        return rows.select(users_visible(tenant=tenant_id).filter(pk=pk))

    prepared = _prepared((rows, "pk"), build, tenant_id=SAMPLE_TENANT_ID, pk=SAMPLE_ID)
    if pk is None:
        found = []
    elif prepared is None:  # no room for another prepared query: build this one
        found = list(build(tenant.pk, pk))
    else:
        found = prepared.run(tenant_id=tenant.pk, pk=pk)
    if not found:
        raise DoesNotExist(f"User {user_id} not found.")
    return found[0]


def group_get(*, tenant: Tenant, group_id: str) -> Group:
    pk = parse_id(group_id)
    group = Group.objects.filter(tenant=tenant, pk=pk).first() if pk else None
    if group is None:
        raise DoesNotExist(f"Group {group_id} not found.")
    return group


def _direct_groups(tenant: Tenant, users) -> list[tuple]:
    """``(user_id, group_id, name, has_parent)`` of each direct membership of ``users``: from the
    ``direct_groups`` they were read with (``RELATED_WITH_GROUPS``) where they have it, else in one
    query. Group ids as text."""
    rows, unread = [], []
    for user in users:
        if hasattr(user, "direct_groups"):
            direct = user.direct_groups  # JSON text
            if direct:
                rows += [
                    (user.pk, _uuid_text(g), name, bool(nested)) for g, name, nested in orjson.loads(direct)
                ]
        else:
            unread.append(user.pk)
    if unread:
        has_parent = Membership.objects.filter(member_group_id=OuterRef("group_id"))
        rows += (
            (user_id, str(group_id), name, nested)
            for user_id, group_id, name, nested in Membership.objects.filter(
                tenant=tenant, member_user_id__in=unread
            )
            .annotate(nested=Exists(has_parent))
            .values_list("member_user_id", "group_id", "group__display_name", "nested")
        )
    return rows


def _uuid_text(value: str) -> str:
    """A UUID in canonical text: PostgreSQL's JSON has it so, SQLite's has its 32 hex digits."""
    return value if len(value) == 36 else str(uuid.UUID(value))


def groups_of_users(*, tenant: Tenant, users) -> dict:
    """Each user's groups: ``{user_id: [(group_id, display_name, "direct" | "indirect")]}``, each
    kind by name, group ids as text. Direct memberships as ``_direct_groups`` reads them, each
    flagged with whether its group sits in another group; only then one query per level of
    nesting."""
    result: dict = defaultdict(list)
    names: dict = {}
    parents_of_user: dict = defaultdict(set)
    frontier = set()
    for user_id, group_id, name, has_parent in sorted(_direct_groups(tenant, users), key=_by_name):
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
        for child_id, parent_id, name in rows:
            child, parent = str(child_id), str(parent_id)
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
            indirect_groups = sorted(((g, names[g]) for g in indirect), key=lambda row: (row[1], row[0]))
            result[user_id].extend((g, name, "indirect") for g, name in indirect_groups)
    return result


def _by_name(row: tuple) -> tuple:
    return (row[2], row[1])


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
    found: set = set()
    frontier = set(start)
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


@dataclass(frozen=True)
class Declarations:
    """A tenant's extension schemas (``directory/models/extensions.py``), as of ``stamp``: every
    schema, removed ones included, each with its attributes (removed ones included) and their
    sub-attributes prefetched, in declared order. Shared by the requests of a process: read only."""

    stamp: uuid.UUID | None
    schemas: tuple[ExtensionSchema, ...] = ()

    def of_type(self, resource_type: str) -> tuple[ExtensionSchema, ...]:
        return tuple(s for s in self.schemas if s.resource_type == resource_type)


NO_DECLARATIONS = Declarations(None)
# Per (tenant, stamp): a change of declarations gives the tenant a new stamp, which every process
# sees with the tenant (read fresh with its token after any change of the tenant row).
_DECLARATIONS: OrderedDict[tuple, Declarations] = OrderedDict()
DECLARATIONS_KEPT = 256


def extension_declarations(*, tenant: Tenant) -> Declarations:
    """The tenant's extension declarations as of ``tenant.extensions_stamp``; two queries the first
    time a process meets that stamp, none after."""
    stamp = tenant.extensions_stamp
    if stamp is None:
        return NO_DECLARATIONS
    key = (tenant.pk, stamp)
    found = _DECLARATIONS.get(key)
    if found is not None:
        return found
    ordered = ExtensionAttribute.objects.order_by("position", "id")
    schemas = tuple(
        ExtensionSchema.objects.filter(tenant=tenant)
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch(
                "attributes", queryset=ordered.prefetch_related(Prefetch("sub_attributes", queryset=ordered))
            )
        )
    )
    found = Declarations(stamp, schemas)
    # Kept only if no change committed since the schemas were read: the stamp, read after them,
    # is still the one asked for (stamps are never reused).
    if Tenant.objects.filter(pk=tenant.pk).values_list("extensions_stamp", flat=True).first() == stamp:
        _DECLARATIONS[key] = found
        if len(_DECLARATIONS) > DECLARATIONS_KEPT:
            _DECLARATIONS.popitem(last=False)
    return found


def extension_values(*, tenant: Tenant, resource: User | Group) -> dict[str, dict]:
    """The values of the tenant's extension attributes on ``resource`` (a user or group of the
    tenant): ``{"<URN>": {"<attribute>": value}}``, spelled as declared, for the schemas and
    attributes declared now (not those removed and awaiting a purge). writeOnly values are
    included: SCIM never returns them, but they are the host application's to read."""
    kind = "User" if isinstance(resource, User) else "Group"
    stored = resource.extensions or {}
    out: dict[str, dict] = {}
    for schema in extension_declarations(tenant=tenant).of_type(kind):
        held = stored.get(schema.urn)
        if schema.removed_at is not None or not isinstance(held, dict):
            continue
        names = {a.name for a in schema.attributes.all() if a.parent_id is None and a.removed_at is None}
        values = {name: value for name, value in held.items() if name in names}
        if values:
            out[schema.urn] = values
    return out


def users_with_extension_value(*, tenant: Tenant, urn: str, attribute: str, value) -> QuerySet[User]:
    """The tenant's visible users with ``value`` among their values of the extension attribute
    ``<urn>:<attribute>`` (a string compared as SCIM's eq compares it: casefolded unless
    caseExact), by the indexed extension rows."""
    declared = next(
        (
            a
            for s in extension_declarations(tenant=tenant).of_type("User")
            if s.urn.lower() == urn.lower() and s.removed_at is None
            for a in s.attributes.all()
            if a.parent_id is None and a.removed_at is None and a.name.lower() == attribute.lower()
        ),
        None,
    )
    if declared is None:
        raise DoesNotExist(f"The tenant declares no extension attribute {urn}:{attribute}.")
    match: dict = {"extension_values__attribute_id": declared.pk}
    if declared.type == "string":
        match["extension_values__key"] = value if declared.case_exact else str(value).casefold()
    elif declared.type in ("integer", "decimal"):
        match["extension_values__number"] = number(value)
    elif declared.type == "boolean":
        match["extension_values__flag"] = bool(value)
    else:
        match["extension_values__text"] = str(value)
    return users_visible(tenant=tenant).filter(**match).distinct()
