"""Seeding large directories straight into the database, for query plans and query counts at
scale (the write path has tests of its own). On PostgreSQL rows go in by COPY."""

import json

from django.db import connection, transaction

from directory.identifiers import lookup_key
from directory.models import User, UserValue
from directory.models.base import new_id


def seed_users(tenant, count: int, *, prefix: str = "user") -> None:
    """``count`` users named ``<prefix><n>@example.com``, each with that work email."""
    users, values = [], []
    for n in range(count):
        email = f"{prefix}{n}@example.com"
        user = {
            "id": new_id(),
            "tenant_id": tenant.pk,
            "user_name": email,
            "user_name_key": email,
            "external_id": f"ext-{prefix}-{n}",
            "display_name": f"{prefix.title()} {n}",
            "display_name_key": f"{prefix} {n}",
            "name_given_name": prefix.title(),
            "name_family_name": f"N{n}",
            "emails": [{"value": email, "type": "work", "primary": True}],
        }
        users.append(user)
        values.append(
            {
                "tenant_id": tenant.pk,
                "user_id": user["id"],
                "attribute": "emails",
                "position": 0,
                "value": email,
                "value_key": email,
                "type": "work",
                "primary": True,
            }
        )
    with transaction.atomic():
        insert(User, users)
        insert(UserValue, values)


def insert(model, rows: list[dict]) -> None:
    if connection.vendor != "postgresql":
        model.objects.bulk_create((model(**row) for row in rows), batch_size=2000)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.attname not in rows[0])]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [_plain(row[f.attname] if f.attname in row else f.get_default()) for f in fields]
                )
        # Check the foreign keys now, with fresh statistics: left deferred, PostgreSQL plans the
        # checks against a table it still believes empty and scans it once per row.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ANALYZE {model._meta.db_table}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _plain(value):
    return json.dumps(value) if isinstance(value, list | dict) else value


def user_stored_before_the_rule(tenant, user_name: str, **fields) -> User:
    """A user whose userName RFC 8265 refuses, as one written before the rule applied is after
    migration 0012: kept under the key a lookup of its name computes (``lookup_key``)."""
    user = User(tenant=tenant, user_name=user_name, **fields)
    user.user_name_key = lookup_key(user_name)
    user.display_name_key = user.display_name.casefold()
    User.objects.bulk_create([user])  # not save(): sync_keys would refuse the name
    return user
