"""Constraints of groups and memberships."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from directory.models import Group, Membership, Tenant, User
from directory.services.audit import Actor
from directory.services.tenants import tenant_update


@pytest.fixture
def group(tenant):
    return Group.objects.create(tenant=tenant, display_name="Engineering")


@pytest.fixture
def user(tenant):
    return User.objects.create(tenant=tenant, user_name="alice")


def test_a_member_is_a_user_or_a_group_never_both_nor_neither(tenant, group, user):
    child = Group.objects.create(tenant=tenant, display_name="Platform")
    for fields in ({}, {"member_user": user, "member_group": child}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(tenant=tenant, group=group, **fields)


def test_a_group_cannot_contain_itself(tenant, group):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(tenant=tenant, group=group, member_group=group)


def test_a_member_is_in_a_group_at_most_once(tenant, group, user):
    Membership.objects.create(tenant=tenant, group=group, member_user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(tenant=tenant, group=group, member_user=user)


def test_adding_existing_members_in_bulk_is_a_no_op_not_an_error(tenant, group, user):
    """The basis of O(changed) member adds: INSERT ... ON CONFLICT DO NOTHING."""
    Membership.objects.create(tenant=tenant, group=group, member_user=user)
    other = User.objects.create(tenant=tenant, user_name="bob")
    Membership.objects.bulk_create(
        [Membership(tenant=tenant, group=group, member_user=u) for u in (user, other)], ignore_conflicts=True
    )
    assert set(group.memberships.values_list("member_user__user_name", flat=True)) == {"alice", "bob"}


def test_group_names_may_repeat_unless_the_tenant_requires_unique_names(tenant, system_actor):
    tenant = tenant_update(tenant=tenant, actor=system_actor, unique_group_names=False)
    Group.objects.create(tenant=tenant, display_name="Sales")
    Group.objects.create(tenant=tenant, display_name="SALES")
    tenant = tenant_update(tenant=tenant, actor=system_actor, unique_group_names=True)
    Group.objects.create(tenant=tenant, display_name="Marketing")
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(tenant=tenant, display_name="marketing")


def test_unique_group_names_are_per_tenant(tenant, other_tenant):
    for t in (tenant, other_tenant):
        t.unique_group_names = True
        t.save()
        Group.objects.create(tenant=t, display_name="Finance")
    assert Group.objects.filter(display_name_key="finance").count() == 2


def test_deleting_a_user_or_group_removes_its_memberships(tenant, group, user):
    child = Group.objects.create(tenant=tenant, display_name="Platform")
    Membership.objects.create(tenant=tenant, group=group, member_user=user)
    Membership.objects.create(tenant=tenant, group=group, member_group=child)
    user.delete()
    child.delete()
    assert not Membership.objects.exists()


def test_tenant_update_records_only_real_changes(tenant, system_actor):
    tenant_update(tenant=tenant, actor=Actor.system("t"), name=tenant.name)
    assert not tenant.audit_events.filter(action="tenant.updated").exists()
    tenant_update(tenant=tenant, actor=Actor.system("t"), name="Acme Corp")
    event = tenant.audit_events.get(action="tenant.updated")
    assert event.changes == {"name": {"before": "Acme", "after": "Acme Corp"}}


def test_a_users_groups_through_nesting_are_direct_or_indirect_once(tenant, user):
    """user ∈ g2 and g1 directly; g2 ⊂ g1 ⊂ g0: g2 and g1 are direct, g0 indirect, each once."""
    from directory.selectors import groups_of_users

    g0, g1, g2, lone = (
        Group.objects.create(tenant=tenant, display_name=n) for n in ("g0", "g1", "g2", "lone")
    )
    for parent, child in ((g0, g1), (g1, g2)):
        Membership.objects.create(tenant=tenant, group=parent, member_group=child)
    for group in (g2, g1, lone):
        Membership.objects.create(tenant=tenant, group=group, member_user=user)
    found = {(name, kind) for _, name, kind in groups_of_users(tenant=tenant, users=[user])[user.pk]}
    assert found == {("g2", "direct"), ("g1", "direct"), ("lone", "direct"), ("g0", "indirect")}


def test_migration_0014_keeps_the_setting_of_existing_tenants(transactional_db):
    """Only new tenants require unique names: a directory that already holds two groups of one
    name would otherwise refuse the next write to either."""
    executor = MigrationExecutor(connection)
    (before,) = executor.loader.graph.node_map[
        ("directory", "0014_tenant_unique_group_names_default")
    ].parents
    executor.migrate([before.key])
    tenant_then = executor.loader.project_state(before.key).apps.get_model("directory", "Tenant")
    tenant_then.objects.create(slug="old", name="Old")  # the default then: False
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Tenant.objects.get(slug="old").unique_group_names is False
    assert Tenant.objects.create(slug="new", name="New").unique_group_names is True
