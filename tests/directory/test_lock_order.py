"""directory/services/locks.py: writes take their locks in one order, so that no interleaving of two
writes deadlocks. These tests hold a transaction open at a chosen point (threads, each with its
own database connection, on PostgreSQL) to force the interleavings that parallel requests hit only
now and then."""

import threading

import pytest
from django.db import transaction

from directory.models import Group, Membership, User, UserState
from directory.services import groups as group_services
from directory.services import users as user_services
from directory.services.groups import MemberRef
from directory.services.locks import groups_lock, users_touch
from tests.support.parallel import Step, lock_waiters, until

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(tenant, system_actor):
    create = user_services.user_create
    leaver = create(tenant=tenant, actor=system_actor, fields={"user_name": "leaver@example.com"})
    old = group_services.group_create(
        tenant=tenant, actor=system_actor, fields={"display_name": "Old"}, members=[MemberRef(str(leaver.pk))]
    )
    new = group_services.group_create(tenant=tenant, actor=system_actor, fields={"display_name": "New"})
    return leaver, old, new


def test_a_delete_whose_user_joined_a_group_held_by_another_write_starts_over(
    tenant, system_actor, people, monkeypatch
):
    """The delete reads the user's groups ({Old}) and locks them; the user then joins New, and a
    second write of New holds New and is about to name the user. Waiting for New while holding
    the user would deadlock with that write: the delete lets go and starts over instead."""
    leaver, _, new = people
    add = {"tenant": tenant, "actor": system_actor, "group_id": new.pk, "add": [MemberRef(str(leaver.pk))]}
    at_read, go_read = threading.Event(), threading.Event()
    real_read = user_services._read
    first = []

    def read(*args, **kwargs):
        if kwargs.get("lock") == user_services.DELETING and not first:
            first.append(True)
            at_read.set()  # the groups are read and locked; the user is not yet
            assert go_read.wait(10)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(user_services, "_read", read)
    delete = Step(lambda: user_services.user_delete(tenant=tenant, actor=system_actor, user_id=leaver.pk))
    assert at_read.wait(10)
    group_services.group_update(**add)  # the user joins New, committed
    holds, go_on = threading.Event(), threading.Event()

    def second_write():
        with transaction.atomic():
            groups_lock(tenant=tenant, ids=[new.pk])
            holds.set()
            assert go_on.wait(10)
            group_services.group_update(**add)  # names the user: waits while the delete holds it

    second = Step(second_write)
    assert holds.wait(10)
    go_read.set()  # the delete locks the user, finds New held, and starts over: waiting for New
    until(lambda: lock_waiters() == 1)
    go_on.set()
    second.finish()
    delete.finish()
    assert User.objects.get(pk=leaver.pk).state == UserState.DELETED
    assert not Membership.objects.filter(member_user_id=leaver.pk).exists()
    assert Group.objects.get(pk=new.pk).version == 3  # joined, then left


def test_groups_lock_without_waiting_reports_a_held_group(tenant, system_actor, people):
    _, old, new = people
    holds, done = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            groups_lock(tenant=tenant, ids=[new.pk])
            holds.set()
            assert done.wait(10)

    step = Step(holder)
    assert holds.wait(10)
    with transaction.atomic():
        assert groups_lock(tenant=tenant, ids=[old.pk, new.pk], nowait=True) is None
        # Nothing was locked, and the transaction goes on.
        assert groups_lock(tenant=tenant, ids=[old.pk], nowait=True) == [old.pk]
    done.set()
    step.finish()


def test_users_touched_together_are_locked_in_id_order(tenant, system_actor, django_assert_num_queries):
    """Two member changes of the same users (a PUT of two groups' members) lock them in one
    order; a single user, the common case, is one UPDATE."""
    create = user_services.user_create
    users = [
        create(tenant=tenant, actor=system_actor, fields={"user_name": f"u{i}@example.com"}) for i in range(3)
    ]
    with transaction.atomic(), django_assert_num_queries(2) as captured:
        users_touch(ids={u.pk for u in users})
    lock, update = (q["sql"] for q in captured.captured_queries)
    assert lock.endswith("ORDER BY 1 ASC FOR NO KEY UPDATE") and update.startswith("UPDATE")
    with django_assert_num_queries(1):
        users_touch(ids={users[0].pk})
    assert [User.objects.get(pk=u.pk).version for u in users] == [3, 2, 2]
