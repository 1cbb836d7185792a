"""Extension values under concurrency, on PostgreSQL with a live server (gunicorn, several worker
processes): ``uniqueness: server`` between writes released together, and a change of the
tenant's declarations racing the writes it must not miss (the tenant's schema lock,
``directory.services.locks``)."""

import threading

import pytest
from django.db import connections

from directory.extension_declarations import DeclarationError
from directory.models import ExtensionSchema, Tenant, User, UserExtensionValue
from directory.services.audit import Actor
from directory.services.extensions import extension_schema_declare
from directory.services.locks import schema_exclusive
from tests.scim_api.conftest import CORE_USER
from tests.support.parallel import Step, at_once, lock_waiters, patch_body, until

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


def declare(tenant, *attributes):
    from django.db import transaction

    with transaction.atomic():
        return extension_schema_declare(
            tenant=tenant,
            actor=Actor.system("tests"),
            document={"id": URN, "attributes": list(attributes)},
            resource_type="User",
        )


def test_two_writes_of_one_unique_value_one_wins(api, tenant):
    """POSTs and PATCHes released together with the same badge: one succeeds, the other is a 409
    uniqueness (the pre-check, or the unique index when both pass it): never both, never a 500."""
    declare(tenant, {"name": "badge", "type": "integer", "uniqueness": "server"})
    for round_ in range(ROUNDS):

        def post(i, round_=round_):
            body = {"schemas": [CORE_USER], "userName": f"u{round_}-{i}", URN: {"badge": round_}}
            return api("POST", "/Users", body)

        statuses = sorted(status for status, _ in at_once(2, post))
        assert statuses == [201, 409], statuses
        ids = [
            api.create("Users", {"schemas": [CORE_USER], "userName": f"p{round_}-{i}"})["id"]
            for i in range(2)
        ]

        def patch(i, ids=ids, round_=round_):
            operation = {"op": "add", "path": f"{URN}:badge", "value": 1000 + round_}
            return api("PATCH", f"/Users/{ids[i]}", patch_body(operation))

        results = at_once(2, patch)
        assert sorted(status for status, _ in results) == [200, 409], results
        assert all(body["scimType"] == "uniqueness" for status, body in results if status == 409)
    holders = UserExtensionValue.objects.filter(unique=True).values_list("number", flat=True)
    assert len(holders) == len(set(holders)) == 2 * ROUNDS


def test_a_write_waiting_for_a_declaration_change_is_worked_out_anew(api, tenant):
    """A PATCH that arrives while a change of declarations holds the schema lock waits; once the
    change commits it finds the tenant's declarations changed and is worked out against the new
    ones: a value the new type cannot hold is refused (400), one it can is stored converted."""
    declare(tenant, {"name": "code"})
    users = [api.create("Users", {"schemas": [CORE_USER], "userName": f"u{i}"})["id"] for i in range(2)]
    locked, release = threading.Event(), threading.Event()

    def change():
        from django.db import transaction

        with transaction.atomic():
            schema_exclusive(tenant=tenant)
            locked.set()
            assert release.wait(30)
            declare(Tenant.objects.get(pk=tenant.pk), {"name": "code", "type": "integer"})

    step = Step(change)
    assert locked.wait(30)
    results = {}

    def write(i, value):
        results[i] = api(
            "PATCH", f"/Users/{users[i]}", patch_body({"op": "add", "path": f"{URN}:code", "value": value})
        )

    writers = [threading.Thread(target=write, args=args) for args in ((0, "abc"), (1, 42))]
    for writer in writers:
        writer.start()
    until(lambda: lock_waiters() >= 2)  # both wait for the schema lock
    release.set()
    step.finish()
    for writer in writers:
        writer.join(30)
    (refused, body), (stored, user) = results[0], results[1]
    assert refused == 400 and body["scimType"] == "invalidValue" and "code" in body["detail"], body
    assert stored == 200 and user[URN] == {"code": 42}, user
    assert User.objects.get(pk=users[1]).extensions == {URN: {"code": 42}}
    assert UserExtensionValue.objects.get(owner_id=users[1]).number == 42


def test_a_type_change_racing_writes_never_leaves_a_value_it_forbids(api, tenant):
    """A type change released together with writes of values it forbids: either it is refused
    (a value landed first) and stays a string, or it wins and those writes are refused. Whatever
    the order, every stored value fits the declaration that holds at the end."""
    declare(tenant, {"name": "code"})
    for round_ in range(ROUNDS):
        users = [
            api.create("Users", {"schemas": [CORE_USER], "userName": f"r{round_}-{i}"})["id"]
            for i in range(3)
        ]

        def race(i, users=users):
            if i == 0:
                try:
                    return declare(
                        Tenant.objects.get(pk=tenant.pk), {"name": "code", "type": "integer"}
                    ), None
                except DeclarationError as error:  # the refusal, when a value landed first
                    return None, error
                finally:
                    connections.close_all()
            value = "abc" if i == 1 else 7  # a string's "7" under the old declaration, 7 under the new
            return api(
                "PATCH",
                f"/Users/{users[i - 1]}",
                patch_body({"op": "add", "path": f"{URN}:code", "value": value}),
            )

        (outcome, refusal), *writes = at_once(3, race)
        attribute = ExtensionSchema.objects.get(tenant=tenant).attributes.get(name="code")
        stored = [u.extensions.get(URN, {}).get("code") for u in User.objects.filter(tenant=tenant)]
        for status, body in writes:
            assert status in (200, 400), (status, body)
        if attribute.type == "integer":
            assert outcome is not None, refusal
            assert all(value is None or isinstance(value, int) for value in stored), stored
            declare(Tenant.objects.get(pk=tenant.pk), {"name": "code"})  # back to string for the next round
        else:
            assert refusal is not None and "code" in str(refusal), refusal
        User.objects.filter(tenant=tenant).update(extensions={})
        UserExtensionValue.objects.filter(tenant=tenant).delete()


def test_the_same_unique_values_in_another_order_wait_instead_of_deadlocking(api, tenant):
    """Two users given the same 200 unique values at once, in opposite orders: the rows are
    inserted in the order of their keys, so one waits for the other and gets a 409, where inserted
    in the values' order each would wait for the other's (a deadlock, 503: seen so)."""
    declare(tenant, {"name": "codes", "multiValued": True, "uniqueness": "server"})
    for round_ in range(ROUNDS):
        values = [f"v{round_}-{n:03}" for n in range(200)]

        def post(i, values=values, round_=round_):
            codes = values if i == 0 else values[::-1]
            return api(
                "POST",
                "/Users",
                {"schemas": [CORE_USER], "userName": f"o{round_}-{i}", URN: {"codes": codes}},
            )

        results = at_once(2, post)
        assert sorted(status for status, _ in results) == [201, 409], results


def test_a_delete_keeps_the_lock_order_with_a_declaration_change(tenant):
    """A transaction that deletes user A (as a Bulk batch does) and then writes user B, while a
    change of declarations would convert both: the delete takes the schema lock first, so the
    change waits for the whole transaction instead of holding the schema lock while it waits for
    A's row, which the transaction's next write would then wait for (a deadlock)."""
    from django.db import transaction

    from directory.services.users import user_create, user_delete, user_update

    declare(tenant, {"name": "code"})
    actor = Actor.system("tests")
    fresh = Tenant.objects.get(pk=tenant.pk)
    a, b = (
        user_create(tenant=fresh, actor=actor, fields={"user_name": n, "extensions": {URN: {"code": "1"}}})
        for n in ("a", "b")
    )
    deleted, release = threading.Event(), threading.Event()

    def batch():
        with transaction.atomic():
            user_delete(tenant=fresh, actor=actor, user_id=a.pk)
            deleted.set()
            assert release.wait(30)
            user_update(tenant=fresh, actor=actor, user_id=b.pk, fields={"title": "after"})

    writes = Step(batch)
    assert deleted.wait(30)
    change = Step(lambda: declare(Tenant.objects.get(pk=tenant.pk), {"name": "code", "type": "integer"}))
    until(lambda: lock_waiters() >= 1)  # the change waits for the transaction
    release.set()
    writes.finish()
    change.finish()
    assert User.objects.get(pk=b.pk).extensions == {URN: {"code": 1}}
    assert ExtensionSchema.objects.get(tenant=tenant).attributes.get().type == "integer"
