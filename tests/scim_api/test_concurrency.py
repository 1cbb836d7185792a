"""Concurrent SCIM writes against a real server (gunicorn, several worker processes) on PostgreSQL.

Identity providers write in parallel: Okta and Entra push membership changes for one group from
several threads, and retry a request whose answer timed out while the first attempt may still be
running. Each test fires real HTTP requests from threads released together by a barrier and then
checks the end state in the database: nothing lost, nothing duplicated, one version per effective
change.
"""

import json

import pytest

from directory.models import AuditEvent, Group, Membership, User, UserState
from directory.services.audit import Actor
from directory.services.tenants import tenant_update
from tests.scim_api.conftest import CORE_GROUP, CORE_USER
from tests.support.parallel import at_once, patch_body, version

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("count", [2, 20])
def test_concurrent_member_adds_to_one_group_all_land(api, count):
    """Entra's "Add" members shape ([T] Update Group), one member per request, all at once."""
    group = api.create("Groups", {"schemas": [CORE_GROUP], "displayName": "Engineering"})
    users = [
        api.create("Users", {"schemas": [CORE_USER], "userName": f"u{i}@example.com"})["id"]
        for i in range(count)
    ]

    def add(i):
        operation = {"op": "Add", "path": "members", "value": [{"$ref": None, "value": users[i]}]}
        return api("PATCH", f"/Groups/{group['id']}", patch_body(operation))

    statuses = [status for status, _ in at_once(count, add)]
    assert all(status in (200, 204) for status in statuses), statuses
    body = api.read("Groups", group["id"])
    assert {m["value"] for m in body["members"]} == set(users)
    assert Membership.objects.filter(group_id=group["id"]).count() == count
    assert version(body) == 1 + count  # one version per effective PATCH
    assert AuditEvent.objects.filter(target_id=group["id"], action="group.updated").count() == count


@pytest.mark.parametrize("count", [2, 20])
def test_concurrent_patches_of_one_user_all_land(api, count):
    """Each request adds another email (and the first also sets the title): a PATCH applies its
    operations to the user as it is when it writes, so none writes back a stale copy of another's
    change (lost update)."""
    user = api.create("Users", {"schemas": [CORE_USER], "userName": "pat@example.com"})

    def add(i):
        operations = [
            {"op": "add", "path": "emails", "value": [{"value": f"pat{i}@example.com", "type": "other"}]}
        ]
        if i == 0:
            operations.append({"op": "replace", "path": "title", "value": "Engineer"})
        return api("PATCH", f"/Users/{user['id']}", patch_body(*operations))

    statuses = [status for status, _ in at_once(count, add)]
    assert statuses == [200] * count
    body = api.read("Users", user["id"])
    assert sorted(e["value"] for e in body["emails"]) == sorted(f"pat{i}@example.com" for i in range(count))
    assert body["title"] == "Engineer"
    assert version(body) == 1 + count


def test_a_concurrent_rename_and_member_change_both_land(api):
    """Okta re-sends the group-name PATCH with every membership change; the two race."""
    group = api.create("Groups", {"schemas": [CORE_GROUP], "displayName": "Name 0"})
    users = [
        api.create("Users", {"schemas": [CORE_USER], "userName": f"u{i}@example.com"})["id"]
        for i in range(10)
    ]
    for round_ in range(10):
        rename = patch_body(
            {"op": "replace", "value": {"id": group["id"], "displayName": f"Name {round_ + 1}"}}
        )
        add = patch_body({"op": "add", "path": "members", "value": [{"value": users[round_]}]})
        results = at_once(
            2, lambda i, rename=rename, add=add: api("PATCH", f"/Groups/{group['id']}", (rename, add)[i])
        )
        assert all(status in (200, 204) for status, _ in results), results
        row = Group.objects.get(pk=group["id"])
        assert row.display_name == f"Name {round_ + 1}"
        assert set(
            map(str, Membership.objects.filter(group=row).values_list("member_user_id", flat=True))
        ) == set(users[: round_ + 1])
        assert row.version == 1 + 2 * (round_ + 1)


@pytest.mark.parametrize("count", [2, 10])
def test_concurrent_creates_of_one_user_name_make_one_user(api, tenant, count):
    """An IdP retrying a create after a timeout while the first attempt still runs: exactly one
    201, the others 409 uniqueness (RFC 7644 section 3.3), never a second row. The userName
    differs only in case between attempts, which is the same userName (caseExact false)."""

    def create(i):
        user_name = "Pat@Example.com" if i % 2 else "pat@example.com"
        return api("POST", "/Users", {"schemas": [CORE_USER], "userName": user_name, "displayName": "Pat"})

    results = at_once(count, create)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (count - 1), results
    for status, body in results:
        if status == 409:
            assert (body["status"], body["scimType"]) == ("409", "uniqueness")
    rows = User.objects.filter(tenant=tenant, user_name_key="pat@example.com").exclude(
        state=UserState.DELETED
    )
    assert rows.count() == 1
    assert AuditEvent.objects.filter(tenant=tenant, action="user.created").count() == 1
    _, listed = api("GET", "/Users?filter=userName%20eq%20%22pat%40example.com%22")
    assert listed["totalResults"] == 1


def test_a_retried_patch_leaves_the_same_end_state(api, tenant):
    """The same PATCH sent twice, one after the other and then twice at once (a retry racing
    the original): the end state is that of one PATCH, and so is the version."""
    # Two groups end up with one name: a tenant that allows it (new tenants do not, by default).
    tenant_update(tenant=tenant, actor=Actor.system("tests"), unique_group_names=False)
    user = api.create("Users", {"schemas": [CORE_USER], "userName": "pat@example.com"})
    member = api.create("Users", {"schemas": [CORE_USER], "userName": "member@example.com"})
    group = api.create("Groups", {"schemas": [CORE_GROUP], "displayName": "Engineering"})
    user_patch = patch_body(
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "pat@example.com", "type": "work", "primary": True}],
        },
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": "active", "value": "False"},
    )
    group_patch = patch_body(
        {"op": "replace", "value": {"id": group["id"], "displayName": "Engineering (all)"}},
        {"op": "add", "path": "members", "value": [{"value": member["id"]}]},
    )

    assert api("PATCH", f"/Users/{user['id']}", user_patch)[0] == 200
    once = api.read("Users", user["id"])
    assert api("PATCH", f"/Users/{user['id']}", user_patch)[0] == 200
    assert api.read("Users", user["id"]) == once
    assert version(once) == 2

    assert api("PATCH", f"/Groups/{group['id']}", group_patch)[0] in (200, 204)
    once = api.read("Groups", group["id"])
    assert api("PATCH", f"/Groups/{group['id']}", group_patch)[0] in (200, 204)
    assert api.read("Groups", group["id"]) == once
    assert version(once) == 2

    racer = api.create("Users", {"schemas": [CORE_USER], "userName": "racer@example.com"})
    results = at_once(2, lambda i: api("PATCH", f"/Users/{racer['id']}", user_patch))
    assert [status for status, _ in results] == [200, 200]
    raced = api.read("Users", racer["id"])
    assert {k: raced[k] for k in ("emails", "title", "active")} == {
        "emails": [{"value": "pat@example.com", "type": "work", "primary": True}],
        "title": "Engineer",
        "active": False,
    }
    assert version(raced) == 2

    other = api.create("Groups", {"schemas": [CORE_GROUP], "displayName": "Other"})
    racing_group_patch = json.loads(json.dumps(group_patch).replace(group["id"], other["id"]))
    results = at_once(2, lambda i: api("PATCH", f"/Groups/{other['id']}", racing_group_patch))
    assert all(status in (200, 204) for status, _ in results), results
    raced = api.read("Groups", other["id"])
    assert raced["displayName"] == "Engineering (all)"
    assert [m["value"] for m in raced["members"]] == [member["id"]]
    assert version(raced) == 2


@pytest.mark.parametrize("op", ["remove", "add"])
def test_deleting_a_user_while_a_group_patch_names_it(api, op):
    """An IdP deprovisions a user (Entra DELETEs it) while another thread changes a group's members
    naming that user. Both writes touch the user, its memberships and the groups: neither may
    fail with a database deadlock (a 500), and the group must not keep or gain the deleted user.
    Rounds repeat the race; the user is also in a second group that the delete must update."""
    for round_ in range(10):
        user = api.create("Users", {"schemas": [CORE_USER], "userName": f"leaver{round_}@example.com"})
        stay = api.create("Users", {"schemas": [CORE_USER], "userName": f"stayer{round_}@example.com"})
        members = [{"value": user["id"]}] if op == "remove" else []
        group = api.create(
            "Groups", {"schemas": [CORE_GROUP], "displayName": f"G{round_}", "members": members}
        )
        api.create(
            "Groups",
            {"schemas": [CORE_GROUP], "displayName": f"H{round_}", "members": [{"value": user["id"]}]},
        )
        body = patch_body(
            {"op": op, "path": "members", "value": [{"value": user["id"]}, {"value": stay["id"]}]}
        )

        def write(i, user=user, group=group, body=body):
            if i == 0:
                return api("DELETE", f"/Users/{user['id']}")
            return api("PATCH", f"/Groups/{group['id']}", body)

        (deleted, _), (patched, error) = at_once(2, write)
        assert deleted == 204
        # The PATCH lands before the delete (200/204), or after it, when adding a deleted user is
        # refused like any unknown member (400 invalidValue).
        assert patched in (200, 204) or (patched, error["scimType"]) == (400, "invalidValue"), error
        assert not Membership.objects.filter(member_user_id=user["id"]).exists()
        expected = {stay["id"]} if op == "add" and patched != 400 else set()
        assert {m["value"] for m in api.read("Groups", group["id"]).get("members", [])} == expected
