"""Every index is written with each row: none may repeat another on the same table."""

import pytest
from django.db import connection

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
