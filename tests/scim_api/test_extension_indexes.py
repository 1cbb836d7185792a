"""At 100,000 users, filters on a tenant's extension attributes are index scans of the extension
rows (``user_ext_key`` for a string's eq and sw, ``user_ext_number`` for a number), for the
count and for the first page alike. Plans are printed (``pytest -s``) so they can be quoted."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from directory.models import UserExtensionValue
from directory.selectors import users_visible
from directory.services.audit import Actor
from directory.services.extensions import extension_schema_declare
from directory.services.tenants import tenant_create
from scim_api.filters import compile_filter
from scim_api.tenant_types import resource_type_of
from tests.support.seed import insert, seed_users

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
SCHEMA = {
    "id": URN,
    "attributes": [
        {"name": "costCode", "type": "string"},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
    ],
}


def seed_extension(tenant) -> None:
    """Every user of ``tenant`` gets costCode ``CC-<n>`` and badge ``<n>``, column and rows."""
    extension_schema_declare(
        tenant=tenant, actor=Actor.system("tests"), document=SCHEMA, resource_type="User"
    )
    attributes = {a.name: a.pk for a in tenant.extension_schemas.get().attributes.all()}
    users = list(users_visible(tenant=tenant).order_by("pk").values_list("pk", "user_name"))
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE directory_user SET extensions = jsonb_build_object(%s::text, jsonb_build_object("
            "'costCode', 'CC-' || split_part(split_part(user_name, '@', 1), 'r', 2), "
            "'badge', split_part(split_part(user_name, '@', 1), 'r', 2)::int)) WHERE tenant_id = %s",
            [URN, tenant.pk],
        )
    for pk, user_name in users:
        n = user_name.split("@")[0].removeprefix("user")
        common = {"tenant_id": tenant.pk, "owner_id": pk, "element": 0}
        rows.append({**common, "attribute_id": attributes["costCode"], "key": f"cc-{n}", "text": f"CC-{n}"})
        rows.append({**common, "attribute_id": attributes["badge"], "number": Decimal(n), "unique": True})
    insert(UserExtensionValue, rows)


@pytest.fixture(scope="module")
def large_tenant(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        try:
            tenant = tenant_create(slug="large", actor=Actor.system("tests"))
            # Another tenant with the same declaration shares the indexes: only its rows match.
            other = tenant_create(slug="other", actor=Actor.system("tests"))
            seed_users(tenant, 100_000)
            seed_users(other, 1_000)
            seed_extension(tenant)
            seed_extension(other)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE directory_user, directory_userextensionvalue")
            tenant.refresh_from_db()
            yield tenant
        finally:  # no other test may meet these 100,000 users, even should seeding fail
            call_command("flush", interactive=False, verbosity=0)


# filter -> (the index the plan must use, rows it matches)
LOOKUPS = {
    f'{URN}:costCode eq "cc-77777"': ("user_ext_key", 1),
    # CC-7777 and CC-77770 to CC-77779.
    f'{URN}:costCode sw "CC-7777"': ("user_ext_key", 11),
    f"{URN}:badge eq 4242": ("user_ext_number", 1),
    f"{URN}:badge ge 99990": ("user_ext_number", 10),
}


@pytest.mark.django_db
@pytest.mark.parametrize("text", LOOKUPS)
def test_extension_filters_use_their_index_at_100k_users(large_tenant, text):
    index, rows = LOOKUPS[text]
    resource_type = resource_type_of(large_tenant, "User")
    queryset = users_visible(tenant=large_tenant).filter(compile_filter(resource_type, text))
    for query in (queryset, queryset.order_by("pk")[:100]):
        plan = query.explain()
        print(f"\n{text}\n{plan}")
        used = set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:using|on) (\w+)", plan))
        assert index in used, plan
        assert "Seq Scan" not in plan, plan
    assert queryset.count() == rows
