"""The userName keys of stored users, recomputed, and the names an administrator must look at.

Used by migration 0012 (when RFC 8265 came to apply, ``directory.identifiers``) and by
``manage.py user_name_conflicts``. Both take the model classes they work on, so that the migration
passes its historical models.

Names written before the rule can collide once normalised: ``alice@example.com`` and a fullwidth
``ALICE@example.com`` of the same tenant. Such users are not merged (each is its own account, with
its own groups and history) and no name is changed: one of them keeps the key, the others are
*hidden*: their key becomes ``<key>\\x1f<id>``, which no lookup computes (lookup keys hold no control
characters), so a lookup of the name finds the one that kept it, and the others only by their ids,
``sw`` and ``co`` filters and in the admin, until an administrator renames or deletes one of them. The key
goes to the one an identity provider can still send (a name the rule accepts, before one it
refuses), then to the oldest: the account that was there first, of which the others are the
look-alike copies that the old rule let in. Each user hidden gets an audit event
(``user.name_conflict``). Names the rule refuses are kept and keyed by ``lookup_key``; they are
listed, and a write that changes the name must give one the rule accepts.

The work is in batches of ids, in two steps that keep the unique index of keys valid throughout
(no user takes a key before the user holding it has let it go): every user whose key changes first
moves to its hidden key, then those that keep a key take it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connections

from directory.errors import InvalidIdentifier
from directory.identifiers import lookup_key, user_name_key

HIDDEN = "\x1f"  # between a hidden user's key and its id: never in a lookup key
BATCH = 2000
DELETED = "deleted"  # UserState.DELETED, spelt out for historical models


@dataclass(frozen=True)
class Finding:
    """A live user whose userName needs an administrator."""

    tenant: str  # slug
    user_id: object
    user_name: str
    problem: str  # a sentence
    kept_by: tuple[object, str] | None = None  # (id, userName) of the user that kept the key


def hidden_key(key: str, user_id, max_length: int) -> str:
    suffix = f"{HIDDEN}{user_id}"
    return key[: max_length - len(suffix)] + suffix


def is_hidden(key: str) -> bool:
    return HIDDEN in key


def _accepted(user_name: str) -> bool:
    try:
        user_name_key(user_name)
    except InvalidIdentifier:
        return False
    return True


def _batches(queryset, fields: tuple[str, ...]) -> Iterator[list[tuple]]:
    """``queryset``'s rows as tuples of ``fields`` (the id first), ``BATCH`` at a time by id."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list(*fields)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _update(model, field: str, values: dict) -> None:
    """Set ``field`` of each row whose id ``values`` maps to a value, in one UPDATE per batch of
    rows (Django's ``bulk_update`` builds a CASE of every row: a millisecond each in Python)."""
    if not values:
        return
    connection = connections[model.objects.db]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), model._meta.pk
    column = quote(model._meta.get_field(field).column)
    per_statement = min(BATCH, (connection.features.max_query_params or BATCH * 2) // 2)
    items = list(values.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), per_statement):
            chunk = items[start : start + per_statement]
            params = [p for key, value in chunk for p in (pk.get_db_prep_value(key, connection), value)]
            rows = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                # Names of our own tables and columns: no value goes into the text.
                f"WITH v (id, value) AS (VALUES {rows}) "  # noqa: S608
                f"UPDATE {table} SET {column} = v.value FROM v WHERE {table}.{quote(pk.column)} = v.id",
                params,
            )


class _User(NamedTuple):
    """A live user as rekeying weighs it: which may keep a key (``_keeps_first``)."""

    pk: object
    user_name: str


def _keeps_first(user: _User) -> tuple:
    """The order in which users that want one key may keep it: a name the rule accepts (one an
    identity provider can send again) before one it refuses, then the oldest (ids are UUIDv7, in
    the order users were created)."""
    return (not _accepted(user.user_name), str(user.pk))


def user_names_rekey(User, AuditEvent, *, actor_label: str, key: Callable[[str], str] = lookup_key) -> int:
    """Give every user the key ``key`` computes for its userName, hiding all but one of the live
    users of a tenant that would share one (see the module's docstring); returns how many users
    were hidden now. ``key`` is ``str.casefold`` to go back to the keys before RFC 8265."""
    max_length = User._meta.get_field("user_name_key").max_length
    wanting = defaultdict(list)  # (tenant_id, key) -> the live users whose key changes to it
    before = {}  # their keys now
    deleted = {}
    fields = ("pk", "tenant_id", "user_name", "user_name_key", "state")
    for rows in _batches(User.objects.all(), fields):
        for pk, tenant_id, user_name, current, state in rows:
            wanted = key(user_name)
            if current == wanted:
                continue
            if state == DELETED:
                deleted[pk] = wanted
            else:
                wanting[tenant_id, wanted].append(_User(pk, user_name))
                before[pk] = current
    _update(User, "user_name_key", deleted)
    # First step: every live user that changes lets its key go (its hidden key is unique by id).
    hidden = {u.pk: hidden_key(k, u.pk, max_length) for (_, k), users in wanting.items() for u in users}
    _update(User, "user_name_key", {pk: h for pk, h in hidden.items() if before[pk] != h})
    # Which user keeps each key: among those that want it and the user holding it now.
    holders = _holders(User, list(wanting))
    kept, newly_hidden = {}, []  # newly_hidden: (tenant_id, user, key before, keeper)
    for (tenant_id, wanted), users in wanting.items():
        holder = holders.get((tenant_id, wanted))
        keeper = min([*users, holder] if holder else users, key=_keeps_first)
        if keeper is not holder:
            kept[keeper.pk] = wanted
            if holder:
                newly_hidden.append((tenant_id, holder, wanted, keeper))
        newly_hidden += [
            (tenant_id, u, before[u.pk], keeper)
            for u in users
            if u is not keeper and not is_hidden(before[u.pk])
        ]
    # Second step: holders that lose their key let it go, then the keepers take theirs.
    _update(
        User,
        "user_name_key",
        {u.pk: hidden_key(k, u.pk, max_length) for _, u, k, _ in newly_hidden if u.pk not in before},
    )
    _update(User, "user_name_key", kept)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                tenant_id=tenant_id,
                actor_type="system",
                actor_label=actor_label[:200],
                action="user.name_conflict",
                target_type="user",
                target_id=str(user.pk),
                target_label=user.user_name[:300],
                changes={
                    "user_name_key": {
                        "before": was,
                        "after": hidden_key(key(user.user_name), user.pk, max_length),
                    },
                    "same_name_as": {"before": None, "after": str(keeper.pk)},
                },
            )
            for tenant_id, user, was, keeper in newly_hidden
        ],
        batch_size=BATCH,
    )
    return len(newly_hidden)


def _holders(User, groups: list[tuple[int, str]]) -> dict:
    """``{(tenant_id, key): _User}`` of the live users holding those keys (by the unique index of
    keys: a query per tenant and batch of keys)."""
    by_tenant = defaultdict(list)
    for tenant_id, key in groups:
        by_tenant[tenant_id].append(key)
    found = {}
    for tenant_id, keys in by_tenant.items():
        for start in range(0, len(keys), 500):
            users = User.objects.filter(tenant_id=tenant_id, user_name_key__in=keys[start : start + 500])
            for pk, key, user_name in users.exclude(state=DELETED).values_list(
                "pk", "user_name_key", "user_name"
            ):
                found[tenant_id, key] = _User(pk, user_name)
    return found


def user_values_rekey(UserValue, *, key: Callable[[str], str] = lookup_key) -> int:
    """Give every email's ``value_key`` the key ``key`` computes (no uniqueness: no conflict);
    returns how many changed."""
    changed = 0
    emails = UserValue.objects.filter(attribute="emails")
    for rows in _batches(emails, ("pk", "value", "value_key")):
        keys = {pk: (key(value), current) for pk, value, current in rows}
        rekeyed = {pk: wanted for pk, (wanted, current) in keys.items() if wanted != current}
        _update(UserValue, "value_key", rekeyed)
        changed += len(rekeyed)
    return changed


def user_name_findings(User, *, tenant: str | None = None) -> list[Finding]:
    """The live users hidden behind another with the same name, and those whose userName the rule
    refuses, by tenant and id."""
    users = User.objects.exclude(state=DELETED)
    if tenant is not None:
        users = users.filter(tenant__slug=tenant)
    findings = []
    hidden = []
    for rows in _batches(users, ("pk", "tenant_id", "tenant__slug", "user_name", "user_name_key")):
        for pk, tenant_id, slug, user_name, key in rows:
            if is_hidden(key):
                hidden.append((pk, tenant_id, slug, user_name))
                continue
            try:
                user_name_key(user_name)
            except InvalidIdentifier as error:
                findings.append(Finding(slug, pk, user_name, f"{error.message} It is kept until renamed."))
    keepers = _holders(User, [(tenant_id, lookup_key(name)) for _, tenant_id, _, name in hidden])
    for pk, tenant_id, slug, user_name in hidden:
        keeper = keepers.get((tenant_id, lookup_key(user_name)))
        findings.append(
            Finding(
                slug,
                pk,
                user_name,
                "Its userName is the same as another user's once normalised (RFC 8265), and that user "
                "keeps it: a lookup of the name finds the other user. Rename or delete one of them, then "
                "run `manage.py user_name_conflicts --rekey`.",
                kept_by=(keeper.pk, keeper.user_name) if keeper else None,
            )
        )
    return sorted(findings, key=lambda f: (f.tenant, str(f.user_id)))


def describe(findings: list[Finding]) -> list[str]:
    """The findings for a person, one line each."""
    lines = []
    for f in findings:
        kept = f" (kept by {_shown(f.kept_by[1])}, {f.kept_by[0]})" if f.kept_by else ""
        lines.append(f"{f.tenant}: user {f.user_id} {_shown(f.user_name)}{kept}: {f.problem}")
    return lines


def _shown(user_name: str) -> str:
    """The name as it looks, and where that hides what it is (look-alikes look alike), its code
    points: ``'josé' = 'jose\\u0301'``."""
    exact = ascii(user_name)
    return repr(user_name) if exact == repr(user_name) else f"{user_name!r} = {exact}"
