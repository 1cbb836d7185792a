"""Every index is written with each row: none may repeat another on the same table, and a
write of plain attributes writes none."""

import pytest
from django.db import connection, transaction

from directory.services.users import user_create, user_update

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

# Indexes of one table with the same columns, operator classes, expressions and predicate.
SAME_INDEXES = """
SELECT t.relname, array_agg(i.relname ORDER BY i.relname)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname LIKE 'directory\\_%%'
GROUP BY t.relname, x.indkey::text, x.indclass::text,
    pg_get_expr(x.indexprs, x.indrelid), pg_get_expr(x.indpred, x.indrelid)
HAVING count(*) > 1
"""


def test_no_table_indexes_the_same_columns_twice():
    with connection.cursor() as cursor:
        cursor.execute(SAME_INDEXES)
        repeated = cursor.fetchall()
    assert repeated == []


def test_the_check_finds_a_repeated_index():
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX test_repeat ON directory_membership (member_user_id)")
        cursor.execute(SAME_INDEXES)
        repeated = cursor.fetchall()
    assert repeated == [("directory_membership", ["membership_by_user", "test_repeat"])]


# Rows of directory_user updated, and of those how many in place (HOT: no index entry written,
# as when no indexed column changed and the page had room), by this backend and not yet reported.
UPDATES = """
SELECT pg_stat_get_xact_tuples_updated('directory_user'::regclass),
       pg_stat_get_xact_tuples_hot_updated('directory_user'::regclass)
"""


def updates(write) -> tuple[int, int]:
    """How many rows of directory_user ``write()`` updated, and how many of those in place."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(UPDATES)
        before = cursor.fetchone()
        write()
        cursor.execute(UPDATES)
        after = cursor.fetchone()
    return after[0] - before[0], after[1] - before[1]


@pytest.mark.parametrize(
    "fields",
    [{"title": "Engineer", "department": "R&D"}, {"nick_name": "Al", "locale": "en-GB"}],
    ids=["title and department", "nickName and locale"],
)
def test_an_attribute_write_updates_the_user_in_place(tenant, system_actor, fields):
    """An IdP's everyday write (a PATCH of plain attributes) bumps version and updated_at: an
    index on either would make PostgreSQL write every index of the table for it."""
    user = user_create(tenant=tenant, actor=system_actor, fields={"user_name": "ada@example.com"})
    assert updates(
        lambda: user_update(tenant=tenant, actor=system_actor, user_id=user.pk, fields=fields)
    ) == (1, 1)


def test_the_in_place_check_sees_an_indexed_column_change(tenant, system_actor):
    user = user_create(tenant=tenant, actor=system_actor, fields={"user_name": "ada@example.com"})
    fields = {"external_id": "42"}
    assert updates(
        lambda: user_update(tenant=tenant, actor=system_actor, user_id=user.pk, fields=fields)
    ) == (1, 0)
