"""Rows (directory/db/rows.py): a queryset's columns as named tuples, read in one statement, with the
values of the model instances the same queryset gives (as text where PostgreSQL sends text)."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from directory.db.rows import Rows, iso_utc
from directory.models import User
from tests.support.seed import seed_users

FIELDS = ("created_at", "updated_at", "version", "user_name", "external_id", "emails", "manager_id", "active")


@pytest.fixture
def users(tenant):
    seed_users(tenant, 7)
    users = list(User.objects.filter(tenant=tenant).order_by("pk"))
    User.objects.filter(pk=users[1].pk).update(
        manager=users[0], external_id=None, active=False, state="suspended"
    )
    return list(User.objects.filter(tenant=tenant).order_by("pk"))


def same(row, user) -> None:
    """A row's values are the instance's, in the row's forms (text on PostgreSQL, objects else)."""
    assert str(row.pk) == str(user.pk)
    assert iso_utc(row.created_at) == iso_utc(user.created_at)
    assert iso_utc(row.updated_at) == iso_utc(user.updated_at)
    assert (row.version, row.user_name, row.external_id, row.active) == (
        user.version,
        user.user_name,
        user.external_id,
        user.active,
    )
    assert json.loads(row.emails) == user.emails  # JSON stays text, whatever the database
    assert (row.manager_id and str(row.manager_id)) == (user.manager_id and str(user.manager_id))
    assert row.etag == user.etag


def test_rows_hold_the_values_of_the_instances(users, tenant):
    rows = Rows(User, FIELDS, {})
    for row, user in zip(rows.select(User.objects.filter(tenant=tenant).order_by("pk")), users, strict=True):
        same(row, user)
    for row, user in zip(rows.of(User.objects.filter(tenant=tenant).order_by("pk")), users, strict=True):
        same(row, user)


@pytest.mark.parametrize(
    "query",
    [
        lambda qs: qs.order_by("pk"),
        lambda qs: qs.order_by("-pk")[2:5],
        lambda qs: qs.filter(active=True).order_by("pk")[1:],
        lambda qs: qs.order_by("-user_name")[:3],
        lambda qs: qs.order_by("pk")[50:60],
        lambda qs: qs.none(),
        lambda qs: qs.filter(pk__in=[]),
    ],
)
def test_a_row_query_reads_the_querysets_rows_in_its_order_in_one_statement(users, tenant, query):
    queryset = query(User.objects.filter(tenant=tenant))
    expected = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    rows = Rows(User, FIELDS, {"manager_name": F("manager__user_name")})
    with CaptureQueriesContext(connection) as queries:
        found = list(rows.of(queryset))
    assert [str(row.pk) for row in found] == expected
    assert len(queries) <= 1
    by_pk = {str(u.pk): u for u in users}
    for row in found:
        same(row, by_pk[str(row.pk)])
        manager = by_pk[str(row.pk)].manager
        assert row.manager_name == (manager.user_name if manager else None)


def test_a_row_query_slices_like_a_queryset(users, tenant):
    rows = Rows(User, FIELDS, {}).of(User.objects.filter(tenant=tenant).order_by("pk"))
    assert [str(r.pk) for r in rows[2:4]] == [str(u.pk) for u in users[2:4]]
    assert [str(r.pk) for r in rows[5:][1:]] == [str(users[6].pk)]


def test_iso_utc_always_has_microseconds_and_z():
    assert iso_utc(datetime(2024, 1, 31, 12, 0, tzinfo=UTC)) == "2024-01-31T12:00:00.000000Z"
    assert iso_utc(datetime(2024, 1, 31, 12, 0, 0, 5, tzinfo=UTC)) == "2024-01-31T12:00:00.000005Z"
    assert iso_utc("2024-01-31T12:00:00.000005Z") == "2024-01-31T12:00:00.000005Z"


@pytest.mark.postgres_only
def test_postgresql_sends_the_slow_columns_as_text(users, tenant):
    (row,) = Rows(User, FIELDS, {}).select(User.objects.filter(pk=users[1].pk))
    assert all(isinstance(v, str) for v in (row.pk, row.created_at, row.emails, row.manager_id))
    assert row.created_at == iso_utc(users[1].created_at)


@pytest.mark.postgres_only
def test_postgresql_reads_a_page_through_its_ids_with_columns_compiled_once(users, tenant):
    """The page's ids (the filter, order and slice: narrow index entries) inside the statement that
    reads the rows; columns that need a join of their own are read by the ORM's whole query."""
    from directory.selectors import user_rows

    queryset = User.objects.filter(tenant=tenant, active=True).order_by("-pk")[1:4]
    for rows, composed in (
        (user_rows(fields=("user_name", "emails"), groups=True), True),
        (Rows(User, FIELDS, {"manager_name": F("manager__user_name")}), False),
    ):
        with CaptureQueriesContext(connection) as queries:
            found = list(rows.of(queryset))
        assert [str(r.pk) for r in found] == [str(pk) for pk in queryset.values_list("pk", flat=True)]
        (query,) = queries.captured_queries
        assert ("UNNEST(ARRAY(SELECT" in query["sql"]) is composed


@pytest.mark.postgres_only
def test_a_listing_is_one_prepared_statement_and_a_search_is_planned_for_its_values(users, tenant):
    """directory.db.literals: a listing's pages differ only in parameters (LIMIT, OFFSET), so they
    share one prepared statement; a search is all literal, its pattern where the planner sees it,
    and repeated it reuses its plan (generic plans only, no re-planning)."""
    from directory.selectors import user_rows

    seed_users(tenant, 300, prefix="many")
    rows = user_rows(fields=("user_name",), groups=False)
    listing = User.objects.filter(tenant=tenant).order_by("pk")
    for offset in range(0, 24, 2):
        assert len(list(rows.of(listing)[offset : offset + 2])) == 2
    search = User.objects.filter(tenant=tenant, user_name__startswith="many1").order_by("pk")
    for _ in range(12):
        assert [r.user_name for r in rows.of(search, searched=True)[:2]] == [
            "many1@example.com",
            "many10@example.com",
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%%UNNEST(ARRAY(%%'"
        )
        prepared = cursor.fetchall()
    (page,) = [p for p in prepared if "LIMIT $" in p[0]]
    (found,) = [p for p in prepared if "'many1%'" in p[0]]
    assert page[1] > 0 and found[1] > 0 and found[2] == 0
    assert "$" not in found[0]
