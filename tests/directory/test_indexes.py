"""At 100,000 users, the lookups every IdP makes before it provisions are index scans."""

import pytest
from django.core.management import call_command
from django.db.models import Exists, OuterRef

from directory.models import User, UserState, UserValue
from directory.services.tenants import tenant_create
from tests.support.seed import seed_users

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def large_tenant(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from directory.services.audit import Actor

        tenant = tenant_create(slug="large", actor=Actor.system("tests"))
        seed_users(tenant, 100_000)
        yield tenant
        call_command("flush", interactive=False, verbosity=0)


def visible_users(tenant):
    return User.objects.filter(tenant=tenant).exclude(state=UserState.DELETED)


def plan(queryset) -> str:
    return queryset.explain()


LOOKUPS = {
    "userName eq": (
        lambda t: visible_users(t).filter(user_name_key="user77777@example.com"),
        "user_name_unique_per_tenant",
    ),
    "externalId eq": (
        lambda t: visible_users(t).filter(external_id="ext-user-4242"),
        "user_tenant_external_id",
    ),
    "displayName eq": (
        lambda t: visible_users(t).filter(display_name_key="user 31337"),
        "user_tenant_display_name",
    ),
    "emails.value eq": (
        lambda t: visible_users(t).filter(
            Exists(
                UserValue.objects.filter(
                    user=OuterRef("pk"), tenant=t, attribute="emails", value_key="user99999@example.com"
                )
            )
        ),
        "user_value_key",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", LOOKUPS)
def test_lookup_uses_its_index_at_100k_users(large_tenant, name):
    build, index = LOOKUPS[name]
    queryset = build(large_tenant)
    explained = plan(queryset)
    print(f"{name}:\n{explained}")
    assert index in explained
    assert "Seq Scan on directory_user " not in explained + " "
    assert queryset.count() == 1
