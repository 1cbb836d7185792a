"""The queries behind the hot requests are a small constant, whatever the size of the directory
and of the group: counted at one size, then again after the data has grown."""

import pytest
from django.db import connection

from directory.models import User
from tests.support.seed import seed_users

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def grow(tenant, scim, group_id):
    """More users, and many more members in the group."""
    seed_users(tenant, 300, prefix="more")
    ids = [str(pk) for pk in User.objects.filter(user_name__startswith="more").values_list("pk", flat=True)]
    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}],
        },
    )
    assert response.status_code == 204


@pytest.fixture
def directory(tenant, scim):
    alice = scim.create_user("alice@example.com", emails=[{"value": "alice@example.com", "primary": True}])
    bob = scim.create_user("bob@example.com")
    group = scim.create_group("Engineering", members=[alice["id"]])
    scim.get("/Users?count=1")  # the token's first use of the minute records last_used_at
    return {"alice": alice["id"], "bob": bob["id"], "group": group["id"]}


@pytest.mark.parametrize(
    ("name", "queries"),
    [
        # token; the user with its direct groups (each flagged if nested: no walk up without
        # nesting) and its manager's name, in subqueries of the one statement
        ("get_user", 2),
        # token; the page of users, each with its groups as above; the count (the page is full)
        ("list_users", 3),
        # token; the page: shorter than count, so it is the last one and tells totalResults
        ("lookup_user", 2),
    ],
)
def test_reads_cost_a_constant_number_of_queries(
    tenant, scim, directory, django_assert_num_queries, name, queries
):
    request = {
        "get_user": lambda: scim.get(f"/Users/{directory['alice']}"),
        "list_users": lambda: scim.get("/Users?count=2"),
        "lookup_user": lambda: scim.get('/Users?filter=userName eq "alice@example.com"'),
    }[name]
    with django_assert_num_queries(queries):
        assert request().status_code == 200
    grow(tenant, scim, directory["group"])
    with django_assert_num_queries(queries):
        assert request().status_code == 200


def test_patch_user_costs_a_constant_number_of_queries(tenant, scim, directory, django_assert_num_queries):
    def patch(title):
        return scim.patch(
            f"/Users/{directory['alice']}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": title}]},
        )

    # token; the user read with its groups; then, written over the version read, on PostgreSQL:
    # the update with its audit event in one statement (no savepoint even inside a transaction:
    # a title cannot break a unique index); elsewhere: savepoint, update, audit, release
    queries = 3 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(queries):
        assert patch("Engineer").status_code == 200
    grow(tenant, scim, directory["group"])
    with django_assert_num_queries(queries):
        assert patch("Staff engineer").status_code == 200


def test_group_member_add_costs_a_constant_number_of_queries(
    tenant, scim, directory, django_assert_num_queries
):
    def add(user_id):
        return scim.patch(
            f"/Groups/{directory['group']}",
            {
                "schemas": [PATCH],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
            },
        )

    # token; read; savepoint; is a member a group (then the nesting lock)?; lock; member is a
    # user?; already a member?; insert; the user's version; the group's version; audit; release
    with django_assert_num_queries(12) as captured:
        assert add(directory["bob"]).status_code == 204
    assert not any(
        "directory_membership" in q["sql"] and "SELECT" in q["sql"] and "IN" not in q["sql"]
        for q in captured.captured_queries
    ), "the member list must never be read"
    grow(tenant, scim, directory["group"])
    carol = scim.create_user("carol@example.com")
    with django_assert_num_queries(12):
        assert add(carol["id"]).status_code == 204
