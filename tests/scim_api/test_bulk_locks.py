"""/Bulk under lock contention (PostgreSQL): a batch holds the locks of all its operations until it
commits, so it cannot keep the one lock order single writes keep (directory/services/locks.py).
When that deadlocks with another write, the batch commits what it has and runs the operation
again: no 500, and every operation reported done is done."""

import threading

import pytest
from django.db import connection, transaction

from directory.models import Membership, User
from directory.services.locks import groups_lock
from tests.scim_api.conftest import PATCH_URN, body_of
from tests.support.parallel import Step, lock_waiters, until

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_a_bulk_operation_that_deadlocks_runs_again_after_the_batch_commits(scim, tenant):
    alice, bob = scim.create_user("alice@example.com")["id"], scim.create_user("bob@example.com")["id"]
    group = scim.create_group("Engineering")["id"]
    holding = threading.Event()

    def other_write():
        """Holds the group, then writes the user the bulk's first operation holds. Its deadlock
        check waits longer, so the bulk is the one PostgreSQL aborts."""
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")
            groups_lock(tenant=tenant, ids=[group])
            holding.set()
            until(lambda: lock_waiters() >= 1)  # the bulk waits for the group
            User.objects.filter(pk=alice).update(title="Other")

    other = Step(other_write)
    assert holding.wait(10)
    operations = [
        {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": "Bulk"}]},
        {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]},
    ]
    response = scim.post(
        "/Bulk",
        {
            "schemas": [BULK_URN],
            "Operations": [
                {"method": "PATCH", "path": f"/Users/{alice}", "data": operations[0]},
                {"method": "PATCH", "path": f"/Groups/{group}", "data": operations[1]},
            ],
        },
    )
    other.finish()
    assert response.status_code == 200
    assert [op["status"] for op in body_of(response)["Operations"]] == ["200", "200"]
    assert User.objects.get(pk=alice).title == "Other"  # the bulk's write committed first
    assert Membership.objects.filter(group_id=group, member_user_id=bob).exists()
