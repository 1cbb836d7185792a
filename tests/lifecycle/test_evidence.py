"""The evidence pack (lifecycle.evidence, /admin/evidence/): terminations made through SCIM requests
and the lifecycle's services, with time moved by the services' ``now``: a four-eyes approval and a
purge, an IdP DELETE deleted when its grace period ended, a legal hold placed and released by two
people, a late end of access and one that never ended; read as rows, as the page, the CSV and the
printable page; each export audited; bad input and the wrong people refused, saying why; and the
queries bounded."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from directory.models import AuditEvent, DeprovisionAction, User, UserState
from directory.services.audit import PURGED, Actor
from lifecycle.evidence import (
    Breach,
    termination_durations,
    terminations_for,
    terminations_summary,
)
from lifecycle.evidence_admin import last_quarter
from lifecycle.models import CaseState, OffboardingCase
from lifecycle.reviewers import reviewer_add
from lifecycle.services import case_approve, case_hold, case_release, cases_sweep
from lifecycle.templatetags.evidence import duration
from tests.lifecycle.test_cases import DAY, case_of, deactivate, policy
from tests.lifecycle.test_decisions import LEGAL_PERMISSIONS
from tests.lifecycle.test_hr import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/admin/evidence/"
HOUR = timedelta(hours=1)
FORMULA = '=HYPERLINK("http://evil.example","x")'


def reviewer(username: str, *tenants):
    user, _ = reviewer_add(
        username=username,
        tenant_slugs=[t.slug for t in tenants],
        actor=Actor.system("tests"),
        password=PASSWORD,
    )
    return type(user).objects.get(pk=user.pk)


def visible(response) -> str:
    """The page's text as a reader sees it: no tags, entities read, runs of white space as one."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def today_period() -> tuple[date, date, datetime, datetime]:
    """From a week ago to today: the dates the form takes, and the instants they stand for."""
    today = timezone.localdate()
    since, until = today - 7 * DAY, today
    zone = timezone.get_current_timezone()
    start = datetime.combine(since, time.min, tzinfo=zone)
    return since, until, start, datetime.combine(until + DAY, time.min, tzinfo=zone)


def query(tenant, **more) -> dict:
    since, until, _, _ = today_period()
    return {"tenant": tenant.pk, "since": since.isoformat(), "until": until.isoformat(), **more}


@pytest.fixture
def office(scim, other_scim, tenant, system_actor, person):
    """acme's five leavers of the week, and one of globex:

    - ann: deactivated, approved early by two HR reviewers (four eyes) two days later, deleted
      then, purged when the purge delay ended;
    - ben: DELETEd by the IdP, deleted by the sweep a day after its grace period;
    - cat: deactivated, held by one administrator and released by another;
    - dan (whose displayName a spreadsheet would take for a formula): deactivated, its access
      recorded as ended 30 hours later (a late end: Roster ends access in the request itself, so
      only a record made otherwise, such as history imported from the system before Roster, or
      a regression, shows one; written here as such a record would be);
    - eve: deactivated three days ago, its user active again with its case under way (what a fault,
      or a hand edit of the database, leaves): access has not ended, and the SLA has passed.
    """
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        on_delete=DeprovisionAction.DELETE_AFTER_GRACE,
        four_eyes_deletion=True,
        burst_count=0,
        burst_percent=0,
    )
    shown = {
        "ann": "Ann Leaver",
        "ben": "Ben Leaver",
        "cat": "Cat Leaver",
        "dan": FORMULA,
        "eve": "Eve Leaver",
    }
    ids = {name: scim.create_user(f"{name}@acme.example", displayName=shown[name])["id"] for name in shown}
    for name in ("ann", "cat", "dan", "eve"):
        deactivate(scim, ids[name])
    assert scim.delete(f"/Users/{ids['ben']}").status_code == 204
    cases = {name: case_of(uid) for name, uid in ids.items()}

    rita, sam = reviewer("rita", tenant), reviewer("sam", tenant)
    approved_at = cases["ann"].deprovisioned_at + 2 * DAY
    case_approve(case_id=cases["ann"].pk, by=rita, reason="left", early=True, now=approved_at)
    case_approve(case_id=cases["ann"].pk, by=sam, reason="agreed", early=True, now=approved_at)
    assert case_of(ids["ann"]).state == CaseState.DELETED

    counsel, auditor = person("counsel", *LEGAL_PERMISSIONS), person("auditor", *LEGAL_PERMISSIONS)
    case_hold(case_id=cases["cat"].pk, by=counsel, reason="litigation hold, matter 7")
    case_release(case_id=cases["cat"].pk, by=auditor, reason="matter closed")

    ben_deleted_at = cases["ben"].deletion_due_at + DAY
    assert cases_sweep(now=ben_deleted_at) == {"deleted": 1, "purged": 0}
    ann_purged_at = approved_at + tenant.purge_after + DAY
    assert cases_sweep(now=ann_purged_at) == {"deleted": 0, "purged": 1}

    OffboardingCase.objects.filter(pk=cases["dan"].pk).update(
        access_ended_at=F("deprovisioned_at") + 30 * HOUR
    )
    User.objects.filter(pk=ids["eve"]).update(state=UserState.ACTIVE, active=True)
    OffboardingCase.objects.filter(pk=cases["eve"].pk).update(
        deprovisioned_at=F("deprovisioned_at") - 3 * DAY, access_ended_at=F("access_ended_at") - 3 * DAY
    )

    other = other_scim.create_user("gus@globex.example")["id"]
    deactivate(other_scim, other)
    return {
        "ids": ids,
        "cases": {name: case_of(uid) for name, uid in ids.items()},
        "approved_at": approved_at,
        "ben_deleted_at": ben_deleted_at,
        "ann_purged_at": ann_purged_at,
    }


@pytest.fixture
def rows(office, tenant) -> dict:
    """The rows of acme's week, by leaver."""
    _, _, start, end = today_period()
    names = {uid: name for name, uid in office["ids"].items()}
    return {names[str(row.user_id)]: row for row in terminations_for(tenant, start, end)}


# --- the rows ---------------------------------------------------------------------------------------------


def test_every_termination_of_the_tenant_and_period_oldest_first(office, tenant, other_tenant):
    _, _, start, end = today_period()
    listed = [row.case_id for row in terminations_for(tenant, start, end)]
    cases = office["cases"]
    assert listed[0] == cases["eve"].pk  # deprovisioned three days ago
    assert sorted(listed) == sorted(case.pk for case in cases.values())  # globex's is not acme's
    assert [row.user_name for row in terminations_for(other_tenant, start, end)] == ["gus@globex.example"]
    assert list(terminations_for(tenant, start - 30 * DAY, start - 3 * DAY - HOUR)) == []
    assert list(terminations_for(tenant, end, end + 30 * DAY)) == []


def test_a_purged_person_is_named_as_the_trail_keeps_them_with_the_four_eyes_approvals(rows, office):
    ann, case = rows["ann"], office["cases"]["ann"]
    assert (ann.user_name, ann.name, str(ann.user_id)) == (PURGED, PURGED, office["ids"]["ann"])
    assert (ann.state, ann.trigger) == ("Purged", "Deactivated by the identity provider")
    assert ann.opened_by == "token okta"
    assert ann.access_ended_at == ann.deprovisioned_at == case.deprovisioned_at
    assert ann.time_to_access_ended == timedelta(0)
    assert (ann.deleted_at, ann.purged_at) == (office["approved_at"], office["ann_purged_at"])
    assert [(a.by, a.first, a.early) for a in ann.approvals] == [
        ("reviewer rita", True, True),
        ("reviewer sam", False, True),
    ]
    assert ann.approved_at == office["approved_at"]
    assert (ann.holds, ann.breach) == ((), Breach.NONE)


def test_an_idp_delete_deleted_when_its_grace_period_ended(rows, office):
    ben = rows["ben"]
    assert (ben.trigger, ben.state) == ("Deleted by the identity provider", "Deleted (kept until purged)")
    assert (ben.user_name, ben.name) == ("ben@acme.example", "Ben Leaver")
    assert ben.access_ended_at == ben.deprovisioned_at
    assert (ben.deleted_at, ben.purged_at, ben.approvals) == (office["ben_deleted_at"], None, ())


def test_a_legal_hold_placed_and_released_by_two_people(rows):
    (hold,) = rows["cat"].holds
    assert (hold.by, hold.reason, hold.released_by) == (
        "admin counsel",
        "litigation hold, matter 7",
        "admin auditor",
    )
    assert hold.released_at is not None and hold.released_at >= hold.at
    assert (rows["cat"].state, rows["cat"].breach) == ("Pending HR review", Breach.NONE)


def test_access_ended_later_than_the_sla_is_a_breach(rows, tenant):
    dan = rows["dan"]
    assert dan.time_to_access_ended == 30 * HOUR > tenant.access_ended_sla
    assert dan.breach == Breach.LATE


def test_access_not_ended_is_an_open_breach_once_the_sla_has_passed(rows, office, tenant):
    eve = rows["eve"]
    assert (eve.access_ended_at, eve.time_to_access_ended, eve.breach) == (None, None, Breach.OPEN)
    _, _, start, end = today_period()
    before = office["cases"]["eve"].deprovisioned_at + tenant.access_ended_sla  # not yet past
    early = {row.case_id: row.breach for row in terminations_for(tenant, start, end, now=before)}
    assert early[eve.case_id] == Breach.NONE


def test_the_sla_is_the_tenants_and_its_limit_is_no_breach(office, tenant, system_actor):
    _, _, start, end = today_period()
    policy(tenant, system_actor, access_ended_sla=30 * HOUR)  # dan's end took exactly this long
    tenant.refresh_from_db()
    summary = terminations_summary(tenant, start, end)
    assert (summary.terminations, summary.late, summary.open) == (5, 0, 1)
    policy(tenant, system_actor, access_ended_sla=HOUR)
    tenant.refresh_from_db()
    summary = terminations_summary(tenant, start, end)
    assert (summary.terminations, summary.late, summary.open, summary.breaches) == (5, 1, 1, 2)


def test_durations_median_and_95th_percentile(office, tenant):
    """To access ended: ann, ben, cat at once, dan after 30 h (eve's has not ended): the median
    0, the 95th percentile 0 + 0.85 * 30 h (interpolated at 0.95 * 3). To deletion: ann after 2
    days, ben after 31: 16.5 and 2 + 0.95 * 29 days. Of every tenant, globex's end at once too."""
    _, _, start, end = today_period()
    durations = termination_durations(tenant, start, end)
    assert (durations.access_ended.median, durations.access_ended.p95) == (timedelta(0), 25.5 * HOUR)
    assert durations.access_ended.count == 4
    assert (durations.deleted.median, durations.deleted.p95) == (16.5 * DAY, 29.55 * DAY)
    assert durations.deleted.count == 2
    everyone = termination_durations(None, start, end)
    assert (everyone.access_ended.median, everyone.access_ended.p95, everyone.access_ended.count) == (
        timedelta(0),
        24 * HOUR,
        5,
    )
    nothing = termination_durations(tenant, end, end + DAY)
    assert (nothing.access_ended.median, nothing.deleted.p95, nothing.deleted.count) == (None, None, 0)


# --- the page, the CSV, the printable page --------------------------------------------------------------


@pytest.fixture
def viewer(client, django_user_model):
    """A staff member who may view offboarding cases (and nothing else), signed in."""
    user = django_user_model.objects.create_user("vera", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="lifecycle", codename="view_offboardingcase")
    )
    client.force_login(user)
    return user


def test_the_page_shows_the_summary_and_the_table_linked_to_each_case(client, viewer, office, tenant):
    response = client.get(URL, query(tenant))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.terminations, summary.breaches, summary.late, summary.open) == (5, 2, 1, 1)
    page = visible(response)
    assert f"{tenant.name} ({tenant.slug})" in page
    assert "Terminations 5" in page and "SLA breaches 2 1 late, 1 open" in page
    assert "Access to end within 24 h" in page
    assert "Deprovision to access ended 0 s median 25 h 30 min 95th percentile" in page
    source = response.content.decode()
    for case in office["cases"].values():
        assert f'<a href="{reverse("admin:lifecycle_offboardingcase_change", args=[case.pk])}">' in source
    assert "reviewer rita (first of two) (early)" in page and "reviewer sam (early)" in page
    assert "litigation hold, matter 7; released" in page and "by admin auditor" in page
    assert "not ended" in page and "open breach" in page and "after 30 h" in page
    assert PURGED in page and "ben@acme.example" in page
    assert "gus@globex.example" not in page
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()  # looking is no export


def test_the_page_first_shows_the_form_with_the_last_full_quarter(client, viewer, tenant):
    response = client.get(URL)
    assert response.status_code == 200 and "summary" not in response.context
    since, until = last_quarter(timezone.localdate())
    form = response.context["form"]
    assert (form["since"].value(), form["until"].value()) == (since.isoformat(), until.isoformat())
    assert form["tenant"].value() == tenant.pk  # the only one there is
    page = response.content.decode()
    assert f'value="{since.isoformat()}"' in page and 'type="date"' in page


def test_a_tenant_alone_shows_its_last_quarter(client, viewer, tenant):
    response = client.get(URL, {"tenant": tenant.pk})
    assert response.status_code == 200
    assert (response.context["since"], response.context["until"]) == last_quarter(timezone.localdate())
    assert "No termination in this period." in visible(response)


@pytest.mark.parametrize(
    ("today", "quarter"),
    [
        (date(2025, 5, 10), (date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 4, 1), (date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 1, 15), (date(2024, 10, 1), date(2024, 12, 31))),
        (date(2025, 12, 31), (date(2025, 7, 1), date(2025, 9, 30))),
    ],
)
def test_the_last_full_calendar_quarter(today, quarter):
    assert last_quarter(today) == quarter


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_has_every_termination_and_is_audited(client, viewer, office, tenant):
    response = client.get(URL, query(tenant, format="csv"))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    since, until, _, _ = today_period()
    assert response["Content-Disposition"] == f'attachment; filename="evidence-acme-{since}-{until}.csv"'
    rows = {row["user id"]: row for row in csv_rows(response)}
    ids, cases = office["ids"], office["cases"]
    assert set(rows) == set(ids.values())
    ann = rows[ids["ann"]]
    assert (ann["case"], ann["tenant"], ann["userName"], ann["name"]) == (
        str(cases["ann"].pk),
        "acme",
        PURGED,
        PURGED,
    )
    assert ann["approved by"] == "reviewer rita (first of two, early); reviewer sam (early)"
    assert ann["deleted (UTC)"] == office["approved_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert ann["approved (UTC)"] == ann["deleted (UTC)"]  # approved early: deleted at once
    assert ann["purged (UTC)"] and ann["seconds to access ended"] == "0" and ann["breach"] == ""
    dan, eve = rows[ids["dan"]], rows[ids["eve"]]
    assert (dan["seconds to access ended"], dan["breach"]) == (str(30 * 3600), "breach")
    assert dan["name"] == "'" + FORMULA  # a spreadsheet takes it for text, not a formula
    assert (eve["access ended (UTC)"], eve["seconds to access ended"], eve["breach"]) == (
        "",
        "",
        "open breach",
    )
    assert re.fullmatch(
        r"\S+ \S+ by admin counsel: litigation hold, matter 7; released \S+ \S+ by admin auditor",
        rows[ids["cat"]]["legal holds"],
    )
    event = AuditEvent.objects.get(action="evidence.exported")
    assert (event.tenant, event.actor_label, event.target_type, event.target_id) == (
        tenant,
        "admin vera",
        "tenant",
        str(tenant.pk),
    )
    assert event.changes == {"since": since.isoformat(), "until": until.isoformat(), "format": "csv"}


def test_the_printable_page_is_self_contained_and_audited(client, viewer, office, tenant):
    response = client.get(URL, query(tenant, format="print"))
    assert response.status_code == 200
    source = response.content.decode()
    page = visible(response)
    since, until, _, _ = today_period()
    assert f"<title>Evidence pack: {tenant.name}, {since} to {until} · Roster</title>" in source
    assert "Evidence pack: terminations and the end of access" in page
    assert f"Tenant {tenant.name} ({tenant.slug})" in page and f"Period {since} to {until}" in page
    assert "Access to end within 24 h of the deprovision" in page
    assert "by vera" in page and "Generated " in page
    assert "Terminations 5" in page and "SLA breaches 2 (1 late, 1 open)" in page
    assert "How to read this" in page and "Roster evidence pack · acme" in page
    assert PURGED in page and "reviewer sam (early)" in page and "open breach" in page
    assert source.count('<tr class="breached">') == 2
    # Roster's own print CSS; nothing inline, nothing the CSP would refuse, no admin around it.
    assert "lifecycle/evidence-print.css" in source and "<script" not in source
    assert "<style" not in source and "style=" not in source and 'id="header"' not in source
    assert "default-src 'none'" in response["Content-Security-Policy"]
    event = AuditEvent.objects.get(action="evidence.exported")
    assert event.changes == {"since": since.isoformat(), "until": until.isoformat(), "format": "print"}


def test_a_printout_too_long_to_read_is_refused_saying_why(client, viewer, office, tenant, monkeypatch):
    monkeypatch.setattr("lifecycle.evidence_admin.PRINT_ROWS", 4)
    response = client.get(URL, query(tenant, format="print"))
    assert response.status_code == 400
    assert "5 terminations are more than a printout of 4 holds" in visible(response)
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_the_page_shows_its_first_rows_and_says_so(client, viewer, office, tenant, monkeypatch):
    monkeypatch.setattr("lifecycle.evidence_admin.PAGE_ROWS", 2)
    response = client.get(URL, query(tenant))
    assert len(response.context["rows"]) == 2
    assert "The first 2 of 5 terminations; the CSV and the printable page have them all." in visible(response)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"tenant": "999999"}, "No tenant of that id that you may see"),
        ({"tenant": "acme"}, "No tenant of that id that you may see"),
        ({"tenant": str(10**30)}, "No tenant of that id that you may see"),
        ({"tenant": ""}, "This field is required."),
        ({"since": "2025-02-30"}, "Enter a valid date."),
        ({"until": "yesterday"}, "Enter a valid date."),
        (
            {"since": "2025-03-01", "until": "2025-01-31"},
            "“From” (2025-03-01) is after “To” (2025-01-31): swap them.",
        ),
        (
            {"since": "2020-01-01", "until": "2025-01-01"},
            "Choose a period of at most 5 years (from 2020-01-01, up to 2024-12-31).",
        ),
        ({"since": "0001-01-01", "until": "0001-12-31"}, "Choose a day from 1970-01-01 to 9998-12-31."),
        ({"since": "9999-12-31", "until": "9999-12-31"}, "Choose a day from 1970-01-01 to 9998-12-31."),
        ({"format": "pdf"}, "There is no format “pdf”: choose the page, csv or print."),
    ],
)
@pytest.mark.parametrize("fmt", ["html", "csv", "print"])
def test_bad_input_is_a_message_on_the_page(client, viewer, tenant, change, says, fmt):
    response = client.get(URL, {**query(tenant, format=fmt), **change})
    assert response.status_code == 400
    assert says in visible(response)
    assert response["Content-Type"].startswith("text/html")
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_five_years_to_the_day_are_allowed(client, viewer, tenant):
    response = client.get(URL, query(tenant, since="2020-01-01", until="2024-12-31"))
    assert response.status_code == 200 and response.context["summary"].terminations == 0


# --- who may see it ----------------------------------------------------------------------------------------


def test_signed_out_and_non_staff_people_are_sent_to_the_admins_login(client, django_user_model, tenant):
    assert client.get(URL, query(tenant)).url.startswith("/admin/login/")
    someone = django_user_model.objects.create_user("someone", password="x")
    someone.user_permissions.set(Permission.objects.filter(codename="view_offboardingcase"))
    client.force_login(someone)
    response = client.get(URL, query(tenant, format="csv"))
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_an_hr_reviewer_gets_no_access(client, tenant):
    client.force_login(reviewer("rita", tenant))
    response = client.get(URL, query(tenant, format="csv"))
    assert response.status_code == 403
    assert "HR reviewers use the HR screen only" in visible(response)


def test_staff_without_the_view_permission_is_refused(client, django_user_model, tenant):
    client.force_login(django_user_model.objects.create_user("stan", password="x", is_staff=True))
    assert client.get(URL, query(tenant)).status_code == 403
    assert client.get(URL, query(tenant, format="csv")).status_code == 403
    assert "Evidence pack" not in client.get("/admin/").content.decode()
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_a_staff_reviewer_takes_the_evidence_of_its_own_tenants_only(client, tenant, other_tenant):
    staff = reviewer("rita", tenant)
    type(staff).objects.filter(pk=staff.pk).update(is_staff=True)
    client.force_login(staff)
    assert client.get(URL, query(tenant)).status_code == 200
    response = client.get(URL, query(other_tenant, format="csv"))
    assert response.status_code == 400 and "No tenant of that id that you may see" in visible(response)
    assert [t.slug for t in response.context["form"].fields["tenant"].queryset] == ["acme"]


def test_it_is_linked_from_the_admin_index_the_tenant_and_the_cases(admin_client, tenant):
    assert f'<a href="{URL}">Evidence pack</a>' in admin_client.get("/admin/").content.decode()
    tenant_page = admin_client.get(reverse("admin:directory_tenant_change", args=[tenant.pk]))
    assert f'href="{URL}?tenant={tenant.pk}">Evidence pack</a>' in tenant_page.content.decode()
    cases = admin_client.get(reverse("admin:lifecycle_offboardingcase_changelist"))
    assert f'<a href="{URL}">Evidence pack</a>' in cases.content.decode()
    assert reverse("admin:evidence_pack") == URL


# --- bounded queries -------------------------------------------------------------------------------------


def leavers(scim, tenant, system_actor, count: int, start: int = 0) -> None:
    policy(tenant, system_actor, burst_count=0, burst_percent=0)
    for i in range(start, start + count):
        uid = scim.create_user(f"q{i}@acme.example")["id"]
        deactivate(scim, uid)


def test_the_rows_take_two_queries_however_many(scim, tenant, system_actor, django_assert_num_queries):
    _, _, start, end = today_period()
    leavers(scim, tenant, system_actor, 2)
    with django_assert_num_queries(2):  # the cases, then their approvals and holds
        assert len(list(terminations_for(tenant, start, end))) == 2
    leavers(scim, tenant, system_actor, 7, start=2)
    with django_assert_num_queries(2):
        assert len(list(terminations_for(tenant, start, end))) == 9
    with django_assert_num_queries(1):
        assert terminations_summary(tenant, start, end).terminations == 9
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        termination_durations(tenant, start, end)


def test_the_page_and_its_exports_take_as_many_queries_for_9_as_for_2(
    client, viewer, scim, tenant, system_actor, django_assert_num_queries
):
    leavers(scim, tenant, system_actor, 2)
    counted = {}
    for fmt in ("html", "csv", "print"):
        with CaptureQueriesContext(connections["default"]) as small:
            response = client.get(URL, query(tenant, format=fmt))
            if fmt == "csv":
                assert len(csv_rows(response)) == 2
        counted[fmt] = len(small.captured_queries)
    leavers(scim, tenant, system_actor, 7, start=2)
    for fmt in ("html", "csv", "print"):
        with django_assert_num_queries(counted[fmt]):
            response = client.get(URL, query(tenant, format=fmt))
            if fmt == "csv":
                assert len(csv_rows(response)) == 9
            else:
                assert len(response.context["rows"]) == 9


# --- how durations read ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reads"),
    [
        (None, "—"),
        (timedelta(0), "0 s"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(minutes=12, seconds=5), "12 min 05 s"),
        (timedelta(hours=24), "24 h"),
        (timedelta(hours=26, minutes=5), "26 h 05 min"),
        (timedelta(days=3, hours=4), "3 d 4 h"),
        (timedelta(days=31), "31 d"),
        (-timedelta(minutes=5), "-5 min"),
    ],
)
def test_a_duration_reads_as_a_person_says_it(value, reads):
    assert duration(value) == reads
