"""PreparedQuery (directory/db/prepared.py): compiled once, run with other values, the same rows as
the queryset it was built from, or that queryset itself when its samples cannot be placed."""

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from directory.db.prepared import PreparedQuery
from directory.models import User
from directory.selectors import SAMPLE_ID, SAMPLE_TENANT_ID
from tests.support.seed import seed_users


@pytest.fixture
def users(tenant, other_tenant):
    seed_users(tenant, 5)
    seed_users(other_tenant, 2)
    return list(User.objects.filter(tenant=tenant).order_by("pk"))


def test_runs_return_the_rows_of_the_queryset_with_those_values(users, tenant, other_tenant):
    prepared = PreparedQuery(
        lambda tenant_id, pk: User.objects.filter(tenant_id=tenant_id, pk=pk),
        tenant_id=SAMPLE_TENANT_ID,
        pk=SAMPLE_ID,
    )
    for user in users:
        (found,) = prepared.run(tenant_id=tenant.pk, pk=user.pk)
        assert (found.pk, found.user_name, found.emails) == (user.pk, user.user_name, user.emails)
    assert prepared.run(tenant_id=other_tenant.pk, pk=users[0].pk) == []  # tenant scoped
    with CaptureQueriesContext(connection) as queries:
        prepared.run(tenant_id=tenant.pk, pk=users[1].pk)
    assert len(queries) == 1


def test_a_sample_used_twice_falls_back_to_building_the_queryset(users, tenant):
    """The pk sample appears twice among the parameters: it cannot be placed by value alone, so
    every run builds the queryset (same rows, no compiled SQL kept)."""
    prepared = PreparedQuery(
        lambda tenant_id, pk: User.objects.filter(tenant_id=tenant_id).filter(Q(pk=pk) | Q(manager_id=pk)),
        tenant_id=SAMPLE_TENANT_ID,
        pk=SAMPLE_ID,
    )
    assert [u.pk for u in prepared.run(tenant_id=tenant.pk, pk=users[2].pk)] == [users[2].pk]
    assert prepared._compiled == {"default": None}


def test_the_directorys_prepared_reads_are_compiled_not_rebuilt(users, tenant, system_actor):
    """The hot reads (a user by id, by a column, locked for a write) place every sample: were one
    to fall back to building its queryset, it would still answer right, only slowly."""
    from directory import selectors
    from directory.services import users as user_services

    user = users[0]
    rows = selectors.user_rows(fields=("user_name", "emails"), groups=True)
    assert str(selectors.user_get(tenant=tenant, user_id=str(user.pk), rows=rows).pk) == str(user.pk)
    assert [
        str(u.pk)
        for u in selectors.users_where(
            tenant=tenant, column="user_name_key", value=user.user_name_key, count=2, rows=rows
        )
    ] == [str(user.pk)]
    user_services.user_update(
        tenant=tenant, actor=system_actor, user_id=user.pk, fields={"title": "Engineer"}
    )
    prepared = [
        selectors._PREPARED[(rows, "pk")],
        selectors._PREPARED[(rows, "user_name_key", 2)],
        user_services._READ[user_services.UNLOCKED],
    ]
    assert all(p._compiled["default"] is not None for p in prepared)


@pytest.mark.postgres_only
def test_the_hot_reads_are_planned_once_on_postgresql(users, tenant):
    """psycopg prepares a statement run five times on a connection; its constants are written into
    its text (``state <> 'deleted'``), so PostgreSQL can plan it once for every user and value
    instead of re-planning on each run (a partial index serves only a known state)."""
    from directory import selectors

    seed_users(tenant, 500, prefix="many")  # and ANALYZE: plans as in a directory of some size
    rows = selectors.user_rows(fields=("user_name", "emails"), groups=True)
    for user in users * 3:  # five runs to be prepared, five planned for their values, then once
        selectors.user_get(tenant=tenant, user_id=str(user.pk), rows=rows)
        key = user.user_name_key
        selectors.users_where(tenant=tenant, column="user_name_key", value=key, count=5, rows=rows)
    compiled = selectors._PREPARED[(rows, "user_name_key", 5)]._compiled["default"]
    assert "'deleted'" in compiled.sql and [name for name, _, _ in compiled.slots] == ["tenant_id", "value"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        plans = {statement: generic for statement, generic in cursor.fetchall() if "'deleted'" in statement}
    assert len(plans) == 2 and all(generic > 0 for generic in plans.values()), plans


def test_a_user_is_read_when_the_prepared_variants_are_all_taken(users, tenant, monkeypatch):
    """Lookups with many distinct counts fill the bounded store of prepared queries; a read by id
    that finds no room left builds its queryset instead of failing."""
    from directory import selectors

    monkeypatch.setattr(selectors, "_PREPARED", {})
    rows = selectors.user_rows(fields=("user_name",), groups=False)
    for count in range(1, selectors.PREPARED_VARIANTS + 1):
        selectors.users_where(tenant=tenant, column="user_name_key", value="-", count=count, rows=rows)
    assert (rows, "pk") not in selectors._PREPARED
    assert str(selectors.user_get(tenant=tenant, user_id=str(users[0].pk), rows=rows).pk) == str(users[0].pk)
