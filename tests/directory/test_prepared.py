"""PreparedQuery (directory/prepared.py): compiled once, run with other values, the same rows as
the queryset it was built from, or that queryset itself when its samples cannot be placed."""

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from directory.models import User
from directory.prepared import PreparedQuery
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
