"""The HR screen (/hr/): who reaches it and what a reviewer reaches; the list, its filters, sort,
pages and CSV; a case's page; every decision with its audit event; refusals that change nothing
and say why on the page; four eyes; bulk approval; ``manage.py add_hr_reviewer``."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from directory.errors import ServiceError
from directory.models import AuditEvent, DeprovisionAction
from directory.services.audit import Actor
from lifecycle.deactivations import deactivations_consume
from lifecycle.decisions import case_stamp
from lifecycle.hr import selectors
from lifecycle.models import HR_REVIEWERS, CaseState, OffboardingCase, Reviewer
from lifecycle.reviewers import reviewer_add
from lifecycle.services import case_approve, case_hold
from tests.lifecycle.test_cases import DAY, case_of, deactivate, policy, user_state
from tests.scim_api.conftest import CORE_USER, ENTERPRISE, PATCH_URN, Scim
from tests.support.parallel import at_once

PASSWORD = "correct-Horse-battery-42"
TOKYO = ZoneInfo("Asia/Tokyo")
DEACTIVATE = {"op": "replace", "path": "active", "value": False}
ROUNDS = 4


def patch_body(*operations) -> dict:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


@pytest.fixture
def reviewer(db, tenant):
    """``reviewer(username, *tenants)``: an HR reviewer of the tenants (default: acme)."""

    def make(username: str = "rita", *tenants, email: str = ""):
        user, _ = reviewer_add(
            username=username,
            tenant_slugs=[t.slug for t in tenants] or [tenant.slug],
            actor=Actor.system("tests"),
            password=PASSWORD,
            email=email,
        )
        return type(user).objects.get(pk=user.pk)

    return make


def leaver(
    scim: Scim, user_name: str, *, department="Sales", title="Account executive", manager=None, **more
):
    """A user with a job, deactivated by the IdP: its case opened (pending review by default)."""
    enterprise = {"department": department, "employeeNumber": f"E-{user_name[:6]}"}
    if manager:
        enterprise["manager"] = {"value": manager}
    body = {
        "displayName": user_name.split("@")[0].title(),
        "title": title,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        ENTERPRISE: enterprise,
        **more,
    }
    uid = scim.create_user(user_name, **body)["id"]
    deactivate(scim, uid)
    return case_of(uid)


def decide(client, case, decision, reason="because", **more):
    fresh = OffboardingCase.objects.get(pk=case.pk)
    data = {"decision": decision, "reason": reason, "seen": case_stamp(fresh), **more}
    return client.post(reverse("hr:decide", args=[case.pk]), data)


def text(response) -> str:
    """The page's text as a reader sees it: runs of white space as one space."""
    return " ".join(response.content.decode().split())


def listed(response) -> list[str]:
    return [case.user.user_name for case in response.context["page"].items]


# --- who reaches what ------------------------------------------------------------------------------


def test_signed_out_people_are_sent_to_the_screens_login(client, db):
    response = client.get("/hr/")
    assert response.status_code == 302 and response["Location"] == "/hr/login/?next=/hr/"
    page = client.get("/hr/login/")
    assert page.status_code == 200 and b"Sign in to review offboardings" in page.content


def test_a_reviewer_signs_in_and_its_session_ends_when_idle(client, reviewer, settings):
    settings.HR_SESSION_IDLE_MINUTES = 20
    reviewer("rita")
    response = client.post("/hr/login/", {"username": "rita", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/hr/"
    assert client.get("/hr/").status_code == 200
    assert client.session.get_expiry_age() == 20 * 60  # renewed by each request
    # Idle past the limit: the session has expired on the server, whatever the browser keeps.
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/hr/")["Location"] == "/hr/login/?next=/hr/"


def test_the_screens_login_is_locked_after_repeated_failures(client, reviewer, settings):
    reviewer("rita")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/hr/login/", {"username": "rita", "password": "wrong"}).status_code == 200
    locked = client.post("/hr/login/", {"username": "rita", "password": "wrong"})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert int(locked["Retry-After"]) > 0
    # Even the right password is refused while locked.
    assert client.post("/hr/login/", {"username": "rita", "password": PASSWORD}).status_code == 429
    assert AuditEvent.objects.filter(action="admin.locked_out", target_id="rita").count() == 1


def test_a_reviewer_reaches_neither_the_admin_nor_scim_nor_another_tenants_case(
    client, reviewer, scim, other_scim, other_tenant
):
    ours = leaver(scim, "ann@acme.example")
    theirs = leaver(other_scim, "olga@globex.example")
    client.force_login(reviewer("rita"))
    assert client.get("/")["Location"] == "/hr/"
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/lifecycle/offboardingcase/").status_code == 403
    assert client.get("/scim/v2/Users").status_code == 401  # a session is no bearer token
    assert listed(client.get("/hr/")) == ["ann@acme.example"]
    assert client.get(f"/hr/cases/{ours.pk}/").status_code == 200
    missing = client.get(f"/hr/cases/{theirs.pk}/")
    assert missing.status_code == 404 and f"No case {theirs.pk} for you".encode() in missing.content
    refused = client.post(
        f"/hr/cases/{theirs.pk}/decide/", {"decision": "approve_early", "reason": "x", "seen": "x"}
    )
    assert refused.status_code == 404
    assert case_of(theirs.subject_id).state == CaseState.PENDING_REVIEW
    seen = [case_stamp(OffboardingCase.objects.get(pk=c.pk)) for c in (theirs, ours)]
    bulk = client.post(
        "/hr/approve/", {"case": [theirs.pk, ours.pk], "seen": seen, "reason": "x", "confirm": "1"}
    )
    assert bulk.status_code == 302
    assert case_of(theirs.subject_id).state == CaseState.PENDING_REVIEW  # left out
    assert case_of(ours.subject_id).state == CaseState.APPROVED


def test_an_administrators_session_is_not_cut_short_by_the_screen(admin_client, settings, db):
    default = admin_client.session.get_expiry_age()
    assert admin_client.get("/hr/").status_code == 200
    assert admin_client.session.get_expiry_age() == default != settings.HR_SESSION_IDLE_MINUTES * 60


def test_a_staff_reviewer_sees_its_tenants_only(client, reviewer, scim, other_scim, other_tenant):
    leaver(scim, "ann@acme.example")
    leaver(other_scim, "olga@globex.example")
    user = reviewer("rita")
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert listed(client.get("/hr/")) == ["ann@acme.example"]


def test_a_form_sent_after_the_session_ended_comes_back_to_the_list(client, reviewer, office):
    response = client.post(f"/hr/cases/{office['ann'].pk}/decide/", {"decision": "note", "reason": "x"})
    assert response["Location"] == "/hr/login/?next=/hr/"


def test_someone_neither_reviewer_nor_administrator_is_refused(client, django_user_model, db):
    client.force_login(django_user_model.objects.create_user("mallory", password=PASSWORD))
    response = client.get("/hr/")
    assert response.status_code == 403 and b"neither an HR reviewer" in response.content


def test_an_administrator_sees_every_tenant(admin_client, scim, other_scim, other_tenant):
    leaver(scim, "ann@acme.example")
    leaver(other_scim, "olga@globex.example")
    assert sorted(listed(admin_client.get("/hr/"))) == ["ann@acme.example", "olga@globex.example"]
    assert admin_client.get("/admin/").status_code == 200


def test_a_reviewer_of_no_tenant_is_told_so(client, reviewer, db, tenant):
    user = reviewer("rita")
    Reviewer.objects.get(user=user).tenants.clear()
    response = client.get("/hr/") if client.force_login(user) is None else None
    assert response.status_code == 200 and b"not assigned to any tenant" in response.content


# --- the list ----------------------------------------------------------------------------------------


@pytest.fixture
def office(scim, tenant, system_actor):
    """Four leavers of acme under review, one with a manager and one on hold, plus one deleted."""
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW)
    boss = scim.create_user("boss@acme.example", displayName="Barbara Boss")["id"]
    cases = {
        "ann": leaver(scim, "ann@acme.example", department="Sales", manager=boss),
        "ben": leaver(scim, "ben@acme.example", department="Engineering"),
        "cat": leaver(scim, "cat@acme.example", department="Engineering", title="SRE"),
        "dan": leaver(scim, "dan@acme.example", department="Legal"),
    }
    OffboardingCase.objects.filter(pk=cases["ben"].pk).update(deletion_due_at=timezone.now() + 2 * DAY)
    OffboardingCase.objects.filter(pk=cases["cat"].pk).update(deletion_due_at=timezone.now() - DAY)
    return cases


def test_the_list_shows_pending_cases_due_first(client, reviewer, office):
    client.force_login(reviewer("rita"))
    response = client.get("/hr/")
    assert listed(response)[:2] == ["cat@acme.example", "ben@acme.example"]
    page = response.content.decode()
    assert "1 day overdue" in page and "in 2 days" in page
    assert "Manager: Barbara Boss" in page and "E-ann@ac" in page and "token " in page
    assert "Pending HR review" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=BEN", ["ben@acme.example"]),
        ("q=cat%40acme", ["cat@acme.example"]),
        ("department=engin", ["ben@acme.example", "cat@acme.example"]),
        ("manager=barbara", ["ann@acme.example"]),
        ("due=overdue", ["cat@acme.example"]),
        ("due=7", ["cat@acme.example", "ben@acme.example"]),
        ("hold=yes", ["dan@acme.example"]),
        ("state=on_hold", ["dan@acme.example"]),
        ("sort=-name", ["dan@acme.example", "cat@acme.example", "ben@acme.example", "ann@acme.example"]),
    ],
)
def test_the_list_filters_and_sorts(client, reviewer, office, tenant, query, expected, admin_user):
    case_hold(case_id=office["dan"].pk, by=admin_user, reason="litigation")
    client.force_login(reviewer("rita"))
    response = client.get(f"/hr/?{query}&tenant={tenant.pk}")
    assert response.status_code == 200
    got = listed(response)
    assert (got if "sort" in query or "due=7" in query else sorted(got)) == expected


def test_a_filter_it_cannot_read_is_said_on_the_page_and_ignored(client, reviewer, office):
    client.force_login(reviewer("rita"))
    response = client.get("/hr/?due_before=someday&state=nonsense&page=x")
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content
    assert len(listed(response)) == 4
    too_long = client.get(f"/hr/?q={'a' * 201}")
    assert "Name or email: Ensure this value has at most 200 characters" in text(too_long)
    assert len(listed(too_long)) == 4
    beyond = client.get(f"/hr/?page={10**30}")  # no OFFSET the database refuses
    assert beyond.status_code == 200 and listed(beyond) == []
    assert "Go to the first page" in text(beyond)
    assert client.get("/hr/?due_before=9999-12-31").status_code == 200  # no year 10,000 anywhere
    odd = client.post("/hr/approve/", {"case": ["²", str(10**20), "-1"]}, follow=True)
    assert "Select the cases to approve first" in text(odd)


def test_the_list_pages_and_caps_its_count(client, reviewer, office, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    client.force_login(reviewer("rita"))
    first = client.get("/hr/")
    assert len(listed(first)) == 3 and "More than 3 cases" in text(first)
    assert first.context["page"].has_next and first.context["page"].count_capped
    second = client.get("/hr/?page=2")
    assert len(listed(second)) == 1 and not second.context["page"].has_next


def test_the_list_reads_a_bounded_number_of_queries(
    client, reviewer, scim, tenant, django_assert_num_queries
):
    """The same number of queries for 2 cases as for 12 (no query per row)."""
    client.force_login(reviewer("rita"))
    for i in range(2):
        leaver(scim, f"s{i}@acme.example")
    cache.clear()  # the department suggestions are kept: read them in both
    with CaptureQueriesContext(connections["default"]) as small:
        assert len(listed(client.get("/hr/"))) == 2
    expected = len(small.captured_queries)  # now: the next request empties the log
    boss = scim.create_user("boss@acme.example")["id"]
    for i in range(10):
        leaver(scim, f"m{i}@acme.example", manager=boss)
    cache.clear()
    with django_assert_num_queries(expected):
        assert len(listed(client.get("/hr/"))) == 12


def test_the_csv_export_has_every_filtered_case_and_is_audited(client, reviewer, office, tenant, scim):
    client.force_login(reviewer("rita"))
    leaver(scim, "=cmd@acme.example", displayName="=HYPERLINK(1)")
    response = client.get("/hr/export.csv?department=engin")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["case", "tenant", "name", "userName"]
    assert sorted(r[3] for r in rows[1:]) == ["ben@acme.example", "cat@acme.example"]
    everything = client.get("/hr/export.csv")
    exported = b"".join(everything.streaming_content).decode()
    assert "'=HYPERLINK(1)" in exported and ",=HYPERLINK" not in exported  # no formula for a spreadsheet
    events = AuditEvent.objects.filter(action="hr.cases_exported", tenant=tenant)
    assert events.count() == 2 and events.first().changes == {"filters": ""}
    assert events.last().changes == {"filters": "department=engin"}


# --- a case and its decisions ----------------------------------------------------------------------


def test_the_case_page_shows_the_person_what_goes_steps_and_history(client, reviewer, scim, tenant):
    uid = scim.create_user(
        "ann@acme.example",
        displayName="Ann Archer",
        entitlements=[{"value": "crm-admin"}],
    )["id"]
    scim.create_group("Sales EMEA", members=[uid])
    deactivate(scim, uid)
    case = case_of(uid)
    OffboardingCase.objects.filter(pk=case.pk).update(flaps=2, last_flap_at=timezone.now())
    client.force_login(reviewer("rita"))
    page = text(client.get(f"/hr/cases/{case.pk}/"))
    assert "Ann Archer" in page and "Sales EMEA" in page and "crm-admin" in page
    assert "offboarding.opened" in page and "offboarding.review_requested" in page
    assert "deactivated and reactivated this person 2 times" in page
    for key in ("approve", "approve_early", "extend", "hold", "cancel", "successor", "note"):
        assert f'id="action-{key}"' in page


def test_each_decision_is_recorded_with_its_reason_and_its_reviewer(
    client, reviewer, office, scim, tenant, django_user_model
):
    rita, sam = reviewer("rita"), reviewer("sam")
    client.force_login(rita)
    ann, ben = office["ann"], office["ben"]
    successor = scim.create_user("heir@acme.example")["id"]
    steps = [
        (ann, "note", {"reason": "called her manager"}, "offboarding.noted"),
        (
            ann,
            "successor",
            {"reason": "takes over", "successor": "heir@acme.example"},
            "offboarding.successor_named",
        ),
        (
            ann,
            "extend",
            {"reason": "notice period", "until": (timezone.localdate() + 60 * DAY).isoformat()},
            "offboarding.extended",
        ),
        (ann, "hold", {"reason": "litigation"}, "offboarding.held"),
        (ben, "approve", {"reason": "left on good terms"}, "offboarding.approved"),
    ]
    for case, decision, data, action in steps:
        response = decide(client, case, decision, **data)
        assert response.status_code == 302, response.content
        event = AuditEvent.objects.filter(action=action, target_id=str(case.subject_id)).get()
        assert event.changes["reason"] == data["reason"] and event.actor_label == "reviewer rita"
        assert event.actor_admin_id == rita.pk
    assert case_of(ann.subject_id).data_successor_id is not None
    assert str(case_of(ann.subject_id).data_successor_id) == successor
    assert case_of(ben.subject_id).state == CaseState.APPROVED
    # The hold: not released by whoever placed it, but by another reviewer.
    refused = decide(client, ann, "release", reason="settled")
    assert refused.status_code == 403 and b"someone else must release it" in refused.content
    client.force_login(sam)
    assert decide(client, ann, "release", reason="settled").status_code == 302
    assert case_of(ann.subject_id).state == CaseState.PENDING_REVIEW
    assert decide(client, ann, "cancel", reason="stays after all").status_code == 302
    assert case_of(ann.subject_id).state == CaseState.CANCELLED
    assert user_state(ann.subject_id) == "suspended"  # only the IdP gives access back


@pytest.mark.parametrize(
    ("decision", "data", "status", "says"),
    [
        ("approve", {"reason": "  "}, 400, "a reason is required"),
        ("extend", {"reason": "why", "until": "2000-01-01"}, 400, "extend it past that"),
        ("extend", {"reason": "why", "until": "soon"}, 400, "Give the date"),
        ("successor", {"reason": "why", "successor": "nobody@acme.example"}, 400, "No user named"),
        ("release", {"reason": "why"}, 400, "cannot release the legal hold now"),
        ("teleport", {"reason": "why"}, 400, "Choose a decision"),
        ("extend", {"reason": "for ever", "until": "9999-12-31"}, 400, "at most 10 years"),
        ("note", {"reason": "a\x00b"}, 400, "NUL character"),
    ],
)
def test_a_refused_decision_changes_nothing_and_says_why(
    client, reviewer, office, decision, data, status, says
):
    client.force_login(reviewer("rita"))
    case = office["ann"]
    before = OffboardingCase.objects.filter(pk=case.pk).values().get()
    events = AuditEvent.objects.count()
    response = decide(client, case, decision, **data)
    assert response.status_code == status
    assert says in response.content.decode() and 'role="alert"' in response.content.decode()
    assert OffboardingCase.objects.filter(pk=case.pk).values().get() == before
    assert AuditEvent.objects.count() == events


def test_a_reviewer_without_a_permission_is_refused(client, reviewer, office):
    group = Group.objects.get(name=HR_REVIEWERS)
    group.permissions.remove(*group.permissions.filter(codename="approve_early_deletion"))
    client.force_login(reviewer("rita"))
    page = client.get(f"/hr/cases/{office['ann'].pk}/").content.decode()
    assert 'id="action-approve_early"' not in page and 'id="action-approve"' in page
    response = decide(client, office["ann"], "approve_early", reason="now")
    assert response.status_code == 403 and "may not approve the deletion early" in response.content.decode()
    assert case_of(office["ann"].subject_id).state == CaseState.PENDING_REVIEW


def test_a_case_that_moved_on_meanwhile_is_not_decided(client, reviewer, office, admin_user):
    client.force_login(reviewer("rita"))
    case = office["ann"]
    seen = case_stamp(OffboardingCase.objects.get(pk=case.pk))
    case_hold(case_id=case.pk, by=admin_user, reason="litigation")  # someone else, meanwhile
    response = client.post(
        reverse("hr:decide", args=[case.pk]), {"decision": "approve", "reason": "bye", "seen": seen}
    )
    assert response.status_code == 409
    assert "changed since you opened it: it is now on legal hold" in response.content.decode()
    assert case_of(case.subject_id).state == CaseState.ON_HOLD
    assert not AuditEvent.objects.filter(action="offboarding.approved").exists()


# --- four eyes ---------------------------------------------------------------------------------------


def test_four_eyes_a_deletion_needs_two_different_reviewers(client, reviewer, office, tenant, system_actor):
    policy(tenant, system_actor, four_eyes_deletion=True)
    rita, sam = reviewer("rita"), reviewer("sam")
    case = office["ann"]
    client.force_login(rita)
    response = decide(client, case, "approve_early", reason="gone")
    assert response.status_code == 302
    assert case_of(case.subject_id).state == CaseState.PENDING_REVIEW
    assert AuditEvent.objects.filter(action="offboarding.approval_recorded").count() == 1
    page = client.get(f"/hr/cases/{case.pk}/").content.decode()
    assert "a second,\n  different reviewer must approve" in page or "second, different reviewer" in page
    assert 'id="action-approve"' not in page  # not offered twice to the same person
    # An extension withdraws the first approval: two are needed again, the first one included.
    assert (
        decide(
            client, case, "extend", reason="notice", until=(timezone.localdate() + 90 * DAY).isoformat()
        ).status_code
        == 302
    )
    assert case_of(case.subject_id).first_approved_by_id is None
    assert decide(client, case, "approve_early", reason="gone").status_code == 302
    again = decide(client, case, "approve", reason="gone")
    assert again.status_code == 403 and "approved this deletion already" in again.content.decode()
    client.force_login(sam)
    bulk = client.post("/hr/approve/", {"case": [office["ben"].pk]})
    _, stamp, _ = bulk.context["rows"][0]
    recorded = client.post(
        "/hr/approve/", {"case": office["ben"].pk, "seen": stamp, "confirm": "1", "reason": "r"}, follow=True
    )
    assert "Your approval is recorded for 1 (four eyes: a second reviewer must approve): Ben." in text(
        recorded
    )
    assert case_of(office["ben"].subject_id).state == CaseState.PENDING_REVIEW
    assert decide(client, case, "approve_early", reason="agreed").status_code == 302
    assert case_of(case.subject_id).state == CaseState.DELETED  # both approved it early
    assert user_state(case.subject_id) == "deleted"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same", [False, True], ids=["two-reviewers", "one-reviewer-twice"])
def test_four_eyes_approvals_at_once(api, tenant, system_actor, reviewer, same):
    """Two approvals released together, ROUNDS rounds: two reviewers end with the case approved (one
    first approval, one approval); one reviewer twice, with one first approval and a refusal."""
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        four_eyes_deletion=True,
        burst_count=0,
        burst_percent=0,
    )
    people = [reviewer("rita"), reviewer("sam")]
    for round_ in range(ROUNDS):
        uid = api.create("Users", {"schemas": [CORE_USER], "userName": f"u{round_}"})["id"]
        assert api("PATCH", f"/Users/{uid}", patch_body(DEACTIVATE))[0] == 200
        deactivations_consume()
        case = case_of(uid)

        def approve(i: int, case=case):
            try:
                return case_approve(case_id=case.pk, by=people[0 if same else i], reason=f"r{i}").state
            except ServiceError as error:  # the refusal is the result
                return type(error).__name__
            finally:
                connections.close_all()

        results = sorted(at_once(2, approve))
        if same:
            assert results == ["NotPermitted", "pending_review"], results
            assert case_of(uid).state == CaseState.PENDING_REVIEW
        else:
            assert results == ["approved", "pending_review"], results
            assert case_of(uid).state == CaseState.APPROVED
        recorded = AuditEvent.objects.filter(target_id=uid, action="offboarding.approval_recorded")
        assert recorded.count() == 1


# --- bulk approval ---------------------------------------------------------------------------------------


def test_bulk_approval_names_every_person_then_approves_each(client, reviewer, office, admin_user):
    client.force_login(reviewer("rita"))
    chosen = [office["ann"], office["ben"], office["cat"]]
    confirm = client.post("/hr/approve/", {"case": [c.pk for c in chosen]})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Approve 3 deletions" in page
    for name in ("Ann", "Ben", "Cat"):
        assert f"<strong>{name}</strong>" in page
    form = confirm.context["rows"]
    no_reason = client.post(
        "/hr/approve/", {"case": [c.pk for c, *_ in form], "seen": [s for _, s, _ in form], "confirm": "1"}
    )
    assert no_reason.status_code == 400 and "a reason is required" in no_reason.content.decode()
    assert not OffboardingCase.objects.filter(state=CaseState.APPROVED).exists()
    case_hold(case_id=office["cat"].pk, by=admin_user, reason="litigation")  # cat moves on meanwhile
    done = client.post(
        "/hr/approve/",
        {"case": [c.pk for c, *_ in form], "seen": [s for _, s, _ in form], "confirm": "1", "reason": "left"},
        follow=True,
    )
    said = text(done)
    assert "Approved the deletion of 2: Ben, Ann." in said and "Not approved: Cat" in said
    assert set(OffboardingCase.objects.filter(state=CaseState.APPROVED).values_list("pk", flat=True)) == {
        office["ann"].pk,
        office["ben"].pk,
    }
    assert AuditEvent.objects.filter(action="offboarding.approved", changes__reason="left").count() == 2


def test_bulk_approval_with_nothing_selected_says_so(client, reviewer, office):
    client.force_login(reviewer("rita"))
    response = client.post("/hr/approve/", {}, follow=True)
    assert "Select the cases to approve first" in response.content.decode()


# --- dates in the reviewer's time zone ----------------------------------------------------------------


def test_dates_are_in_the_reviewers_time_zone(client, reviewer, office):
    user = reviewer("rita")
    client.force_login(user)
    case = office["ben"]
    due = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) + 2 * DAY
    OffboardingCase.objects.filter(pk=case.pk).update(deletion_due_at=due)
    client.cookies["roster_tz"] = "Asia%2FTokyo"  # as hr.js writes it (encodeURIComponent)
    page = client.get(f"/hr/cases/{case.pk}/").content.decode()
    assert f"{due.astimezone(TOKYO):%Y-%m-%d %H:%M}" in page
    assert "Times are in Asia/Tokyo" in page
    exported = b"".join(client.get("/hr/export.csv?q=ben").streaming_content).decode()
    assert f"{due.astimezone(TOKYO):%Y-%m-%d %H:%M} JST" in exported
    Reviewer.objects.filter(user=user).update(timezone="America/New_York")  # its own setting wins
    page = client.get(f"/hr/cases/{case.pk}/").content.decode()
    assert "Times are in America/New_York" in page
    Reviewer.objects.filter(user=user).update(timezone="")
    client.cookies["roster_tz"] = "Mars/Olympus"
    assert "Times are in UTC" in client.get("/hr/").content.decode()


# --- manage.py add_hr_reviewer -------------------------------------------------------------------------


def test_the_command_creates_a_reviewer_who_can_sign_in(client, tenant, other_tenant, monkeypatch, capsys):
    monkeypatch.setenv("ROSTER_PASSWORD", PASSWORD)
    call_command(
        "add_hr_reviewer", "hanna", "--tenant", "acme", "--tenant", "globex", "--email", "h@x.example"
    )
    assert "Created HR reviewer hanna: tenants acme, globex." in capsys.readouterr().out
    reviewer_row = Reviewer.objects.get(user__username="hanna")
    assert sorted(t.slug for t in reviewer_row.tenants.all()) == ["acme", "globex"]
    assert reviewer_row.user.groups.filter(name=HR_REVIEWERS).exists() and not reviewer_row.user.is_staff
    assert AuditEvent.objects.filter(action="hr.reviewer_assigned", target_label="hanna").count() == 2
    assert client.post("/hr/login/", {"username": "hanna", "password": PASSWORD}).status_code == 302
    # Again, for an existing user: the assignment is kept, the password untouched.
    monkeypatch.setenv("ROSTER_PASSWORD", "another-Passphrase-77")
    call_command("add_hr_reviewer", "hanna", "--tenant", "acme")
    assert AuditEvent.objects.filter(action="hr.reviewer_assigned", target_label="hanna").count() == 2
    assert Reviewer.objects.get(user__username="hanna").user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("env", "args", "says"),
    [
        ({"ROSTER_PASSWORD": PASSWORD}, ["--tenant", "nowhere"], "No tenant nowhere"),
        ({"ROSTER_PASSWORD": "123"}, ["--tenant", "acme"], "The password is refused"),
        ({}, ["--tenant", "acme"], "Set ROSTER_PASSWORD"),
    ],
)
def test_the_command_refuses_and_creates_nothing(tenant, monkeypatch, env, args, says, django_user_model):
    monkeypatch.delenv("ROSTER_PASSWORD", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(CommandError, match=says):
        call_command("add_hr_reviewer", "hanna", *args)
    assert not django_user_model.objects.filter(username="hanna").exists()


def test_an_administrator_assigns_a_reviewer_in_the_admin(
    admin_client, tenant, other_tenant, django_user_model
):
    hanna = django_user_model.objects.create_user("hanna", password=PASSWORD)
    refused = admin_client.post(
        "/admin/lifecycle/reviewer/add/", {"user": hanna.pk, "tenants": [tenant.pk], "timezone": "Mars/Base"}
    )
    assert refused.status_code == 200 and "is no IANA time zone" in text(refused)
    assert not Reviewer.objects.exists()
    added = admin_client.post(
        "/admin/lifecycle/reviewer/add/",
        {"user": hanna.pk, "tenants": [tenant.pk, other_tenant.pk], "timezone": "Europe/Berlin"},
    )
    assert added.status_code == 302
    assert hanna.groups.filter(name=HR_REVIEWERS).exists()
    row = Reviewer.objects.get(user=hanna)
    changed = admin_client.post(
        f"/admin/lifecycle/reviewer/{row.pk}/change/",
        {"user": hanna.pk, "tenants": [other_tenant.pk], "timezone": "Europe/Berlin"},
    )
    assert changed.status_code == 302
    assigned = AuditEvent.objects.filter(target_label="hanna").values_list("tenant__slug", "action")
    assert sorted(assigned) == [
        ("acme", "hr.reviewer_assigned"),
        ("acme", "hr.reviewer_unassigned"),
        ("globex", "hr.reviewer_assigned"),
    ]
