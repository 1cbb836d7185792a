"""At 100,000 users, the lookups every IdP makes before it provisions are index scans.

The querysets are the ones the endpoint runs: the visible users of the tenant, filtered by what the
filter compiler makes of the SCIM filter. Plans are printed (``pytest -s``) so they can be quoted.
"""

import re

import pytest
from django.core.management import call_command
from django.db import connection

from directory.selectors import users_visible
from directory.services.tenants import tenant_create
from scim_api.filters import compile_filter
from scim_api.schema import USER
from tests.support.seed import seed_users

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def large_tenant(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from directory.services.audit import Actor

        tenant = tenant_create(slug="large", actor=Actor.system("tests"))
        # Another tenant's users share the indexes: lookups must still find only the right rows.
        other = tenant_create(slug="other", actor=Actor.system("tests"))
        seed_users(tenant, 100_000)
        seed_users(other, 1_000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE directory_user, directory_uservalue")
        yield tenant
        call_command("flush", interactive=False, verbosity=0)


# filter -> (indexes any of which the plan must use, rows it matches)
LOOKUPS = {
    'userName eq "USER77777@EXAMPLE.COM"': (["user_name_unique_per_tenant"], 1),
    'externalId eq "ext-user-4242"': (["user_tenant_external_id"], 1),
    'emails.value eq "User99999@Example.COM"': (["user_value_key"], 1),
    # Both B-tree indexes on (tenant, display_name_key) serve eq; the planner may take either.
    'displayName eq "USER 31337"': (["user_tenant_display_name", "user_display_name_prefix"], 1),
    # user 3133 and user 31330 to user 31339.
    'displayName sw "User 3133"': (["user_display_name_prefix"], 11),
    # user7777@ and user77770@ to user77779@.
    'userName co "ER7777"': (["user_user_name_trgm"], 11),
    'emails.value co "er7777"': (["user_value_key_trgm"], 11),
    # Family names N4242 and N42420 to N42429, matched ignoring case.
    'name.familyName sw "n4242"': (["user_family_name_prefix"], 11),
}


@pytest.mark.django_db
@pytest.mark.parametrize("text", LOOKUPS)
def test_lookup_uses_its_index_at_100k_users(large_tenant, text):
    indexes, rows = LOOKUPS[text]
    queryset = users_visible(tenant=large_tenant).filter(compile_filter(USER, text))
    plan = queryset.explain()
    print(f"\n{text}\n{plan}")
    used = set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:using|on) (\w+)", plan))
    assert used & set(indexes), plan
    assert "Seq Scan on directory_user " not in plan + " ", plan
    assert "Seq Scan on directory_uservalue" not in plan, plan
    assert queryset.count() == rows
