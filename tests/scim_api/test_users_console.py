"""The administrators' users console (scim_api/admin.py): search by each key, filters, a user's page
(the SCIM document, groups, case, timeline), read-only fields, actions with a confirmation, the CSV,
and a bounded number of queries whatever the directory's size."""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.models import AuditEvent, User, UserState
from lifecycle.models import OffboardingCase

USERS = "/admin/directory/user/"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def make(scim, name: str, **extra):
    return scim.create_user(
        name,
        name={"givenName": name.split("@")[0].title(), "familyName": "Smith" if "smith" in name else "Jones"},
        displayName=name.split("@")[0].replace(".", " ").title(),
        emails=[{"value": name.replace("@", ".work@"), "primary": True}],
        **extra,
    )


@pytest.fixture
def people(scim):
    return {
        "ann": make(
            scim,
            "ann.smith@example.com",
            externalId="okta-ann",
            **{
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                ENTERPRISE: {"employeeNumber": "E-1001", "department": "Finance"},
            },
        ),
        "bob": make(scim, "bob.jones@example.com", externalId="okta-bob"),
    }


def listed(admin_client, query: str) -> str:
    response = admin_client.get(USERS + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("term", "finds"),
    [
        ("ann.smith", "ann"),  # userName prefix
        ("ANN SM", "ann"),  # displayName prefix, any case
        ("smith", "ann"),  # family name
        ("ann.smith.work@", "ann"),  # an email address
        ("okta-bob", "bob"),  # externalId
        ("E-1001", "ann"),  # employee number
    ],
)
def test_search_finds_by_each_key(admin_client, people, term, finds):
    page = listed(admin_client, f"?q={term}")
    other = "bob" if finds == "ann" else "ann"
    assert f"{finds}." in page and f"{other}.{'jones' if other == 'bob' else 'smith'}@" not in page


def test_search_by_id(admin_client, people):
    page = listed(admin_client, f"?q={people['bob']['id']}")
    assert "bob.jones@example.com" in page and "ann.smith@example.com" not in page


def test_filters_by_state_department_group_and_open_case(admin_client, scim, people):
    group = scim.create_group("Auditors", members=[people["bob"]["id"]])
    assert "bob.jones@" in listed(admin_client, "?group=auditors") and "ann.smith@" not in listed(
        admin_client, "?group=auditors"
    )
    assert "bob.jones@" in listed(admin_client, f"?group={group['id']}")
    assert "ann.smith@" in listed(admin_client, "?department=finance")
    assert "bob.jones@" not in listed(admin_client, "?department=finance")
    scim.patch_ops(f"/Users/{people['bob']['id']}", {"op": "replace", "path": "active", "value": False})
    assert "bob.jones@" in listed(admin_client, "?state__exact=suspended")
    assert "ann.smith@" not in listed(admin_client, "?state__exact=suspended")


def test_a_users_page_shows_scim_document_groups_case_and_timeline_read_only(admin_client, scim, people):
    uid = people["ann"]["id"]
    scim.create_group("Finance team", members=[uid])
    page = admin_client.get(f"{USERS}{uid}/change/").content.decode()
    assert "As SCIM serves it" in page and "&quot;userName&quot;: &quot;ann.smith@example.com&quot;" in page
    assert "E-1001" in page and "Finance team" in page
    assert "user.created" in page and "token " in page  # the timeline names who acted
    assert "read-only here" in page
    assert 'name="_save"' not in page  # nothing to save: the IdP owns every field
    assert admin_client.post(f"{USERS}{uid}/change/", {"user_name": "x"}).status_code == 403
    assert User.objects.get(pk=uid).user_name == "ann.smith@example.com"


def test_suspend_asks_first_then_suspends_as_the_admin(admin_client, people):
    uid = people["bob"]["id"]
    form = {"action": "suspend", "_selected_action": [uid]}
    confirm = admin_client.post(USERS, form)
    assert "Are you sure?" in confirm.content.decode() and "bob.jones@example.com" in confirm.content.decode()
    assert User.objects.get(pk=uid).state == UserState.ACTIVE  # nothing yet
    admin_client.post(USERS, {**form, "confirmed": "yes"})
    assert User.objects.get(pk=uid).state == UserState.SUSPENDED
    event = AuditEvent.objects.filter(target_id=uid, action="user.updated").latest("pk")
    assert event.actor_label.startswith("admin ")


def test_start_offboarding_hides_the_user_and_opens_its_case(admin_client, people):
    uid = people["ann"]["id"]
    admin_client.post(USERS, {"action": "start_offboarding", "_selected_action": [uid], "confirmed": "yes"})
    assert User.objects.get(pk=uid).state == UserState.DELETED
    assert OffboardingCase.objects.get(subject_id=uid).opened_by.startswith("admin ")
    assert "ann.smith@" not in listed(admin_client, "")  # hidden, as SCIM hides it


def test_a_view_only_administrator_cannot_suspend(client, people, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="directory")
    )
    client.force_login(viewer)
    uid = people["bob"]["id"]
    client.post(USERS, {"action": "suspend", "_selected_action": [uid], "confirmed": "yes"})
    assert User.objects.get(pk=uid).state == UserState.ACTIVE


def test_export_selected_as_csv(admin_client, people):
    response = admin_client.post(
        USERS, {"action": "export_csv", "_selected_action": [people["ann"]["id"], people["bob"]["id"]]}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["userName"] for r in rows] == ["ann.smith@example.com", "bob.jones@example.com"]
    assert rows[0]["employeeNumber"] == "E-1001" and rows[0]["email"] == "ann.smith.work@example.com"


def test_the_list_search_and_page_take_the_same_queries_at_two_sizes(admin_client, scim):
    """No query per user: 3 users or 23, the same statements."""

    def counts():
        result = []
        for url in (USERS, USERS + "?q=person", USERS + "?state__exact=active&department=x"):
            with CaptureQueriesContext(connection) as ctx:
                assert admin_client.get(url).status_code == 200
            result.append(len(ctx.captured_queries))
        uid = User.objects.order_by("user_name_key").first().pk
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(f"{USERS}{uid}/change/").status_code == 200
        result.append(len(ctx.captured_queries))
        return result

    for i in range(3):
        make(scim, f"person{i}@example.com")
    small = counts()
    for i in range(3, 23):
        make(scim, f"person{i}@example.com")
    assert counts() == small


def test_groups_show_member_counts_and_page_through_their_members(admin_client, scim, monkeypatch):
    from directory.admin import GroupAdmin

    monkeypatch.setattr(GroupAdmin, "MEMBERS_PER_PAGE", 2)
    ids = [make(scim, f"m{i}@example.com")["id"] for i in range(5)]
    team = scim.create_group("Team", members=ids)
    scim.create_group("Empty")
    page = admin_client.get("/admin/directory/group/?o=3").content.decode()  # sorted by member count
    assert re.search(r"Team</a></th><td[^>]*>[^<]*</td><td class=\"field-members\">5</td>", page), page
    assert '<td class="field-members">0</td>' in page
    pages = [
        admin_client.get(f"/admin/directory/group/{team['id']}/change/?members={n}").content.decode()
        for n in (1, 2, 3)
    ]
    assert "Members (5)" in pages[0] and "Page 1 of 3" in pages[0]
    shown = [re.findall(r">(m\d@example.com)</a>", page) for page in pages]
    assert [len(names) for names in shown] == [2, 2, 1]
    assert sorted(name for names in shown for name in names) == [f"m{i}@example.com" for i in range(5)]
    beyond = admin_client.get(f"/admin/directory/group/{team['id']}/change/?members=x").content.decode()
    assert "Page 1 of 3" in beyond  # a page it cannot read is the first


def test_the_group_filter_suggests_groups_through_the_admins_autocomplete(admin_client, scim, client):
    scim.create_group("Security Engineering")
    scim.create_group("Sales")
    page = listed(admin_client, "")
    found = re.search(r'data-autocomplete="([^"]+)"', page)
    assert found, "the group filter offers suggestions"
    url = found.group(1).replace("&amp;", "&")
    answer = admin_client.get(f"{url}&term=secur").json()
    assert [r["text"] for r in answer["results"]] == ["Security Engineering"]
    assert client.get(f"{url}&term=secur").status_code == 302  # signed out: to the login


def test_a_groups_member_pages_keep_the_list_filters_it_was_opened_from(admin_client, scim, monkeypatch):
    from directory.admin import GroupAdmin

    monkeypatch.setattr(GroupAdmin, "MEMBERS_PER_PAGE", 1)
    team = scim.create_group("Team", members=[make(scim, f"k{i}@example.com")["id"] for i in range(2)])
    filters = "_changelist_filters=q%3DTeam"
    page = admin_client.get(f"/admin/directory/group/{team['id']}/change/?{filters}").content.decode()
    assert f'href="?members=2&amp;{filters}"' in page
