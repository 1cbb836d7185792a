"""Constraints of the User model, as the database enforces them."""

import pytest
from django.db import IntegrityError, transaction

from directory.models import User, UserState


def make_user(tenant, user_name, **fields):
    return User.objects.create(tenant=tenant, user_name=user_name, **fields)


def test_user_name_is_unique_per_tenant_ignoring_case(tenant):
    make_user(tenant, "Alice@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user(tenant, "alice@example.COM")


def test_user_name_uniqueness_folds_unicode_case_not_just_ascii(tenant):
    make_user(tenant, "ÉLODIE")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user(tenant, "élodie")


def test_same_user_name_is_allowed_in_two_tenants(tenant, other_tenant):
    make_user(tenant, "bob")
    make_user(other_tenant, "BOB")
    assert User.objects.filter(user_name_key="bob").count() == 2


def test_deleted_user_does_not_hold_its_user_name(tenant):
    old = make_user(tenant, "carol")
    User.objects.filter(pk=old.pk).update(state=UserState.DELETED, active=False)
    rehired = make_user(tenant, "Carol")
    assert rehired.pk != old.pk


def test_a_second_deleted_row_with_the_same_name_is_allowed(tenant):
    for _ in range(2):
        user = make_user(tenant, "dave")
        User.objects.filter(pk=user.pk).update(state=UserState.DELETED, active=False)
    assert User.objects.filter(user_name_key="dave").count() == 2


@pytest.mark.parametrize(
    ("active", "state"),
    [(False, UserState.ACTIVE), (True, UserState.SUSPENDED), (True, UserState.DELETED)],
)
def test_active_flag_must_match_lifecycle_state(tenant, active, state):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user(tenant, "erin", active=active, state=state)


def test_ids_are_time_ordered_uuids(tenant):
    users = [make_user(tenant, f"user{i}") for i in range(20)]
    assert [u.pk for u in users] == sorted(u.pk for u in users)
    assert all(u.pk.version == 7 for u in users)


def test_lookup_keys_follow_the_names_on_every_save(tenant):
    user = make_user(tenant, "Frank", display_name="Frank FRANKLIN")
    assert (user.user_name_key, user.display_name_key) == ("frank", "frank franklin")
    user.user_name = "FRANKIE"
    user.save()
    user.refresh_from_db()
    assert user.user_name_key == "frankie"


def test_new_user_starts_at_version_one_with_weak_etag(tenant):
    user = make_user(tenant, "gina")
    assert user.version == 1
    assert user.etag == 'W/"1"'


@pytest.mark.parametrize(
    ("active", "state", "allowed"),
    [
        (True, UserState.ACTIVE, True),
        (False, UserState.SUSPENDED, True),
        (None, UserState.SUSPENDED, True),  # unassigned: not active
        (None, UserState.PENDING_DELETION, True),
        (None, UserState.ACTIVE, False),  # NULL = true is NULL, and a NULL CHECK would hold
        (False, UserState.ACTIVE, False),
        (True, UserState.SUSPENDED, False),
    ],
)
def test_the_database_ties_active_to_the_state(tenant, active, state, allowed):
    """Whatever writes a user, an unassigned active can never stand beside state 'active'."""
    user = make_user(tenant, "erin")
    if allowed:
        User.objects.filter(pk=user.pk).update(active=active, state=state)
        assert User.objects.get(pk=user.pk).active is active
    else:
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.filter(pk=user.pk).update(active=active, state=state)
