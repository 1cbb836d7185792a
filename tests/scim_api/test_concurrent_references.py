"""A resource deleted at the moment another write makes it a reference (a manager, a member): real
parallel requests to a live server (gunicorn, several worker processes) on PostgreSQL.

Identity providers deprovision while other threads of theirs keep pushing profiles and group
memberships that name the leaver. Whatever the interleaving, each request either lands before the
delete (and the delete then removes the reference) or is refused as naming nothing (400
invalidValue): never a 500, never a reference left pointing at a deleted resource. Each race is
run for several rounds, the two requests released together by a barrier.
"""

import pytest

from directory.models import AuditEvent, Membership, User
from tests.scim_api.conftest import CORE_GROUP, CORE_USER, ENTERPRISE
from tests.support.parallel import at_once, patch_body

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
MANAGER = f"{ENTERPRISE}:manager"


def refused_as_unknown(status: int, body) -> bool:
    return status == 400 and body["scimType"] == "invalidValue"


def user(api, name: str, **attributes) -> str:
    return api.create("Users", {"schemas": [CORE_USER], "userName": name, **attributes})["id"]


def group(api, name: str, members=()) -> str:
    body = {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": m} for m in members]}
    return api.create("Groups", body)["id"]


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST"])
def test_deleting_a_manager_while_a_write_names_them(api, method):
    """DELETE /Users/M racing a write that makes M another user's manager: the manager check and
    the delete's clearing of reports must see each other, or the report keeps a manager that GET
    /Users/M answers 404 for."""
    for round_ in range(ROUNDS):
        manager = user(api, f"boss{round_}@example.com", displayName="Boss")
        report = user(api, f"report{round_}@example.com")
        enterprise = {ENTERPRISE: {"manager": {"value": manager}}}

        def write(i, manager=manager, report=report, enterprise=enterprise, round_=round_):
            if i == 0:
                return api("DELETE", f"/Users/{manager}")
            if method == "PATCH":
                operation = {"op": "replace", "path": MANAGER, "value": {"value": manager}}
                return api("PATCH", f"/Users/{report}", patch_body(operation))
            body = {"schemas": [CORE_USER, ENTERPRISE], **enterprise}
            if method == "PUT":
                return api("PUT", f"/Users/{report}", {**body, "userName": f"report{round_}@example.com"})
            return api("POST", "/Users", {**body, "userName": f"new{round_}@example.com"})

        (deleted, _), (written, body) = at_once(2, write)
        assert deleted == 204
        assert written in (200, 201) or refused_as_unknown(written, body), (written, body)
        # Nobody's manager is a deleted user, as the database and the API tell it.
        assert not User.objects.filter(manager_id=manager).exists()
        assert api("GET", f"/Users/{manager}")[0] == 404
        target = body["id"] if written == 201 else report
        shown = api.read("Users", target)
        assert "manager" not in shown.get(ENTERPRISE, {}), shown


def test_deleting_a_group_while_another_group_adds_it(api):
    """DELETE /Groups/C racing PATCH /Groups/P adding C as a member (a nested group)."""
    for round_ in range(ROUNDS):
        child = group(api, f"child{round_}")
        parent = group(api, f"parent{round_}")

        def write(i, child=child, parent=parent):
            if i == 0:
                return api("DELETE", f"/Groups/{child}")
            operation = {"op": "add", "path": "members", "value": [{"value": child}]}
            return api("PATCH", f"/Groups/{parent}", patch_body(operation))

        (deleted, _), (added, body) = at_once(2, write)
        assert deleted == 204
        assert added in (200, 204) or refused_as_unknown(added, body), (added, body)
        assert not Membership.objects.filter(member_group_id=child).exists()
        assert "members" not in api.read("Groups", parent)


def test_deleting_a_group_while_a_new_group_lists_it(api):
    """DELETE /Groups/C racing POST /Groups whose members list C."""
    for round_ in range(ROUNDS):
        child = group(api, f"child{round_}")

        def write(i, child=child, round_=round_):
            if i == 0:
                return api("DELETE", f"/Groups/{child}")
            body = {"schemas": [CORE_GROUP], "displayName": f"new{round_}", "members": [{"value": child}]}
            return api("POST", "/Groups", body)

        (deleted, _), (created, body) = at_once(2, write)
        assert deleted == 204
        assert created == 201 or refused_as_unknown(created, body), (created, body)
        assert not Membership.objects.filter(member_group_id=child).exists()
        if created == 201:
            assert "members" not in api.read("Groups", body["id"])


def test_two_groups_added_to_each_other_at_once(api):
    """PATCH A add member B racing PATCH B add member A: each alone is fine, both would make the
    groups contain each other. One lands; the other is refused as a cycle (400 invalidValue)."""
    for round_ in range(ROUNDS):
        a, b = group(api, f"a{round_}"), group(api, f"b{round_}")

        def write(i, a=a, b=b):
            parent, child = (a, b) if i == 0 else (b, a)
            operation = {"op": "add", "path": "members", "value": [{"value": child}]}
            return api("PATCH", f"/Groups/{parent}", patch_body(operation))

        results = at_once(2, write)
        statuses = sorted(status for status, _ in results)
        assert statuses in ([204, 400], [200, 400]), results
        refused = next(body for status, body in results if status == 400)
        assert refused["scimType"] == "invalidValue" and "contain each other" in refused["detail"], refused
        edges = set(Membership.objects.filter(group_id__in=(a, b)).values_list("group_id", "member_group_id"))
        assert len(edges) == 1, edges


def test_deleting_a_manager_while_their_reports_are_patched(api):
    """DELETE /Users/M racing PATCHes of M's reports (titles, not the manager): every report ends
    without a manager, each with a user.updated event saying so, and no PATCH is lost."""
    for round_ in range(ROUNDS // 2):
        manager = user(api, f"boss{round_}@example.com")
        enterprise = {ENTERPRISE: {"manager": {"value": manager}}}
        reports = [user(api, f"r{round_}.{i}@example.com", **enterprise) for i in range(3)]

        def write(i, manager=manager, reports=reports):
            if i == 0:
                return api("DELETE", f"/Users/{manager}")
            operation = {"op": "replace", "path": "title", "value": "Engineer"}
            return api("PATCH", f"/Users/{reports[i - 1]}", patch_body(operation))

        results = at_once(4, write)
        assert [status for status, _ in results] == [204, 200, 200, 200], results
        for report in reports:
            shown = api.read("Users", report)
            assert shown["title"] == "Engineer"
            assert "manager" not in shown.get(ENTERPRISE, {}), shown
            cleared = AuditEvent.objects.filter(
                target_id=report, action="user.updated", changes__manager_id__after=None
            )
            assert cleared.count() == 1
