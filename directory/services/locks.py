"""Row locks, and the one order in which every write takes them (PostgreSQL).

Two writes that lock the same rows in different orders can each hold what the other waits for;
PostgreSQL then aborts one of them (a deadlock, a 500 to an identity provider). So every service
takes its locks in this order, each step only when it needs it:

1. **The tenant's nesting lock** (``tenant_nesting_lock``): a write that makes a group a member of
   another group, and a group delete. Nesting changes of one tenant thus run one at a time, so
   the cycle check of one sees what the other committed (two groups added to each other at once
   would otherwise both pass it), and a group being deleted gains no new parent meanwhile.
2. **Groups**, several at once in id order (``groups_lock``): ``FOR NO KEY UPDATE`` to change a
   group, ``FOR UPDATE`` to delete one.
3. **Users**: the ones a write refers to (members being added, a new manager) ``FOR KEY SHARE``
   (``key_share``); the ones it changes, several at once in id order (``users_touch``); a user
   being deleted ``FOR UPDATE``.

Before all of these comes **the tenant's schema lock** (``schema_share``, ``schema_exclusive``,
step 0): a write of a resource in a tenant that has declared extension schemas holds it shared, and
checks that the declarations it worked its change out against are still the tenant's; a change of
the declarations holds it exclusively while it checks and converts the values stored under them
(``directory.services.extensions``), then locks the resources it converts in id order. So no
value written under an old declaration lands after a change has checked every stored value.

The modes are chosen so that writes which cannot harm each other do not wait for each other:
``KEY SHARE`` conflicts only with ``FOR UPDATE``, so adding a user to two groups at once, or a
PATCH of a user while it joins a group, never wait; a delete waits for the writes that are about
to refer to its row, and those that come later find the row gone (PostgreSQL re-checks a locked
row against the query once the lock is granted) and are refused as naming nothing. Rows a write
refers to must be locked that way because deleted users are rows kept hidden and Django's foreign
keys are checked only at commit: no constraint stops a reference to a user deleted meanwhile.

SQLite takes its write lock at the start of each transaction (``transaction_mode`` IMMEDIATE), so
there the functions read without locking.
"""

from collections.abc import Iterable
from typing import Literal, overload

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from directory.errors import SchemaChanged
from directory.models import Group, Tenant, User

# pg_advisory_xact_lock(key1, key2) keys: this module's own namespaces, then the tenant's id.
NESTING_LOCK_NAMESPACE = 0x5C1A
SCHEMA_LOCK_NAMESPACE = 0x5C1B
# 0x5C1C: lifecycle.notifications (one notifier per tenant at a time). Take the next for a new one.


def schema_share(*, tenant: Tenant, check: bool = True) -> None:
    """Step 0, for a write in a transaction: hold the tenant's schema lock shared until the
    transaction ends, then raise ``SchemaChanged`` if the tenant's extension declarations are no
    longer those ``tenant`` was read with (``check``: a delete, which works out nothing from them,
    only keeps the order). Nothing for a tenant that never declared any: its writes carry no
    extension values, so no change of declarations can find them wrong."""
    if tenant.extensions_stamp is None:
        return
    if not check:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s, %s)", [SCHEMA_LOCK_NAMESPACE, tenant.pk]
                )
        return
    if connection.vendor == "postgresql":
        # The lock, then the stamp read by a statement of its own (migration 0017): under READ
        # COMMITTED that sees a change that committed while the lock was waited for.
        with connection.cursor() as cursor:
            cursor.execute("SELECT roster_schema_share(%s, %s)", [SCHEMA_LOCK_NAMESPACE, tenant.pk])
            current = cursor.fetchone()[0]
    else:  # SQLite: the transaction holds the database's write lock already
        current = Tenant.objects.filter(pk=tenant.pk).values_list("extensions_stamp", flat=True).first()
    if current != tenant.extensions_stamp:
        raise SchemaChanged("The tenant's extension schemas changed while the request was under way.")


def schema_exclusive(*, tenant: Tenant) -> None:
    """Step 0, for a change of the tenant's extension declarations: wait for the writes under way
    and keep new ones out until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SCHEMA_LOCK_NAMESPACE, tenant.pk])


def tenant_nesting_lock(*, tenant: Tenant) -> None:
    """Step 1: hold the tenant's nesting lock until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NESTING_LOCK_NAMESPACE, tenant.pk])


@overload
def groups_lock(
    *, tenant: Tenant, ids: Iterable, delete: bool = ..., nowait: Literal[False] = ...
) -> list: ...
@overload
def groups_lock(*, tenant: Tenant, ids: Iterable, delete: bool = ..., nowait: bool) -> list | None: ...
def groups_lock(*, tenant: Tenant, ids: Iterable, delete: bool = False, nowait: bool = False) -> list | None:
    """Step 2: lock the tenant's groups ``ids`` in id order until the transaction ends (``FOR
    UPDATE`` when one of them is to be deleted); returns the ids of those that exist, in order.
    With ``nowait``: None, locking nothing, when another transaction holds one of them (for a
    write that already holds later locks, which must not wait for earlier ones)."""
    locked = (
        Group.objects.select_for_update(no_key=not delete, nowait=nowait)
        .filter(tenant=tenant, pk__in=set(ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not nowait:
        return list(locked)
    try:
        with transaction.atomic():
            return list(locked)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return None
        raise


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock that is held
# deadlock_detected, serialization_failure: the database aborted a statement because of another
# transaction, not because of anything wrong with this one.
TRANSACTION_CONFLICTS = {"40P01", "40001"}


def transaction_conflict(error: Exception) -> bool:
    """Whether the database aborted ``error``'s statement for another transaction's sake (a
    deadlock, a serialization failure): the same work may simply run again."""
    return getattr(error.__cause__, "sqlstate", None) in TRANSACTION_CONFLICTS


def key_share(queryset: QuerySet) -> list:
    """Step 3: the values of a one-column ``values_list(..., flat=True)`` queryset, its rows locked
    ``FOR KEY SHARE`` until the transaction ends: they cannot be deleted meanwhile, and a delete
    under way is waited for (its row then no longer matches). Django has no API for this mode."""
    if connection.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. pk__in=[]: Django answers that without a query
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql + " FOR KEY SHARE", params)
        return [row[0] for row in cursor.fetchall()]


def users_touch(*, ids) -> None:
    """Step 3: a new version (ETag) for the users ``ids`` (ids, or a queryset of them) whose
    read-only ``groups`` changed. Several are locked in id order first, so that two member changes
    of overlapping users never take them in opposite orders; one (a member added or removed, the
    common case) is simply written. Not one statement with the ordered lock as a subquery: with
    stale statistics PostgreSQL plans that as a scan of all users, the subquery run for each."""
    users = User.objects.filter(pk__in=ids)
    if not isinstance(ids, set | frozenset | list | tuple) or len(ids) > 1:
        list(users.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))
    users.update(version=F("version") + 1, updated_at=timezone.now())
