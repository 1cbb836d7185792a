"""In a browser: an HR reviewer signs in to the HR screen (/hr/) by keyboard, filters the list,
exports it as CSV, and approves a case with a reason, in its browser's time zone; two reviewers
place and release a legal hold (four eyes); a reviewer approves three deletions at once, each
person named first; a reviewer reaches neither the admin nor another tenant's case; and the list
and a case fit a phone's screen. Every test keeps screenshots (tests/support/browser.py)."""

import csv
import re
import zoneinfo
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from directory.models import AuditEvent, DeprovisionAction
from directory.services.audit import Actor
from directory.services.tokens import token_create
from lifecycle.hr.access import TIMEZONE_COOKIE
from lifecycle.models import CaseState, OffboardingCase
from lifecycle.reviewers import reviewer_add
from tests.lifecycle.test_cases import case_of, policy
from tests.lifecycle.test_hr import PASSWORD, leaver
from tests.scim_api.conftest import Scim
from tests.support.browser import PHONE

LAPTOP = {"viewport": {"width": 1280, "height": 800}}
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def reviewer(username: str, *tenants):
    """An HR reviewer of ``tenants``, who signs in with PASSWORD."""
    user, _ = reviewer_add(
        username=username,
        tenant_slugs=[t.slug for t in tenants],
        actor=Actor.system("tests"),
        password=PASSWORD,
    )
    return user


def quiet_policy(tenant, system_actor) -> None:
    """Deactivations wait for HR; no burst guard to quarantine a handful of test leavers."""
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        burst_count=0,
        burst_percent=0,
    )


@pytest.fixture
def office(scim, tenant, system_actor):
    """Four leavers of acme pending review, one of them with a manager."""
    quiet_policy(tenant, system_actor)
    boss = scim.create_user("boss@acme.example", displayName="Barbara Boss")["id"]
    return {
        "ann": leaver(scim, "ann@acme.example", displayName="Ann Archer", department="Sales", manager=boss),
        "ben": leaver(scim, "ben@acme.example", displayName="Ben Baker", department="Engineering"),
        "cat": leaver(
            scim, "cat@acme.example", displayName="Cat Carter", department="Engineering", title="SRE"
        ),
        "dan": leaver(scim, "dan@acme.example", displayName="Dan Dorsey", department="Legal"),
    }


@pytest.fixture
def globex_scim(other_tenant, system_actor) -> Scim:
    """The identity provider of a second tenant, globex."""
    token, plaintext = token_create(tenant=other_tenant, name="entra", actor=system_actor)
    return Scim(Client(enforce_csrf_checks=True), plaintext, token)


def sign_in(page: Page, username: str, next_path: str = "/hr/") -> None:
    """Open ``next_path`` signed out, get the screen's login page, type, press Enter."""
    page.goto(next_path)
    expect(page.get_by_role("heading", name="Sign in to review offboardings")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus: type at once
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def listed(page: Page) -> list[str]:
    """The userNames of the list's rows, in order."""
    rows = page.locator("table.cases td.person div.sub:first-of-type")
    return [text.split(" · ")[0].strip() for text in rows.all_inner_texts()]


def apply_filters(page: Page, **fields: str) -> None:
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()


def refused_by_the_browser(page: Page, field) -> None:
    """A ``required`` field left empty: the browser does not submit, and puts the focus on it."""
    expect(field).to_be_focused()
    assert field.evaluate("element => element.validity.valueMissing")


def said(page: Page):
    """The messages of the last action."""
    return page.locator("ul.messages")


def history(page: Page):
    """The rows of a case's history."""
    return page.get_by_role("region", name="History").get_by_role("row")


def fits(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]} CSS pixels wide in {width[1]}"


def test_a_reviewer_filters_exports_and_approves_in_its_time_zone(new_page, office, tenant):
    reviewer("rita", tenant)
    ben = office["ben"]
    # 16:30 UTC is 01:30 the next day in Tokyo (UTC+9).
    due = (timezone.now() + timedelta(days=10)).replace(hour=16, minute=30, second=0, microsecond=0)
    OffboardingCase.objects.filter(pk=ben.pk).update(deletion_due_at=due)
    in_tokyo = f"{due.astimezone(TOKYO):%Y-%m-%d %H:%M}"
    in_utc = f"{due:%Y-%m-%d %H:%M}"

    page = new_page(**LAPTOP, timezone_id="Asia/Tokyo")
    browser = page.page
    browser.goto("/hr/")
    expect(browser.locator("footer")).to_have_text("Times are in UTC.")  # no zone known yet
    zone_cookie = next(c for c in browser.context.cookies() if c["name"] == TIMEZONE_COOKIE)
    assert unquote(zone_cookie["value"]) == "Asia/Tokyo", "hr.js keeps the browser's zone"
    sign_in(browser, "rita")
    # From the second page on, the server knows the zone: the list is in Tokyo's time.
    expect(browser.locator("footer")).to_have_text("Times are in Asia/Tokyo.")
    expect(browser.get_by_role("status")).to_have_text("4 cases")
    assert sorted(listed(browser)) == [f"{n}@acme.example" for n in ("ann", "ben", "cat", "dan")]
    expect(browser.locator("table.cases")).to_contain_text(in_tokyo)
    expect(browser.locator("table.cases")).to_contain_text("Manager: Barbara Boss")
    page.shot("list")

    browser.get_by_text("Filter and sort").click()
    apply_filters(browser, Department="engineering")
    expect(browser.get_by_role("status")).to_have_text("2 cases match your filters")
    assert sorted(listed(browser)) == ["ben@acme.example", "cat@acme.example"]
    with browser.expect_download() as download_info:
        browser.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == "offboardings.csv"
    with open(download.path(), newline="", encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert [row["userName"] for row in rows] == listed(browser), "the CSV has the filtered list's rows"
    due_cell = next(row for row in rows if row["userName"] == "ben@acme.example")["deletion due"]
    assert due_cell == f"{in_tokyo} JST", due_cell  # the reviewer's zone, though the rows stream
    page.shot("filtered-by-department")

    apply_filters(browser, **{"Name or email": "BAKER"})  # the department filter stays
    expect(browser.get_by_role("status")).to_have_text(re.compile(r"\b1 case matches your filters\s*$"))
    assert listed(browser) == ["ben@acme.example"]
    expect(browser.get_by_label("Department")).to_have_value("engineering")
    page.shot("filtered-by-name")

    browser.get_by_role("link", name="Ben Baker").click()
    expect(browser.get_by_role("heading", name="Ben Baker", level=1)).to_be_visible()
    deletion = browser.locator(".facts dt:text-is('Deletion') + dd")
    expect(deletion).to_contain_text(in_tokyo)
    expect(deletion).not_to_contain_text(in_utc[:10])
    expect(browser.locator("footer")).to_have_text("Times are in Asia/Tokyo.")

    approve = browser.locator("#action-approve")
    approve.get_by_role("button", name="Approve the deletion when the grace period ends").click()
    refused_by_the_browser(browser, approve.get_by_label("Reason"))
    assert case_of(ben.subject_id).state == CaseState.PENDING_REVIEW
    approve.get_by_label("Reason").fill("left on good terms, handover done")
    approve.get_by_label("Reason").press("Tab")
    with browser.expect_navigation():
        browser.keyboard.press("Enter")  # the form's button, reached by keyboard
    expect(said(browser)).to_contain_text("Deletion approved", ignore_case=True)
    assert case_of(ben.subject_id).state == CaseState.APPROVED
    expect(browser.locator(".heading .state")).to_have_text("Deletion approved")
    approved = history(browser).filter(has_text="left on good terms, handover done")
    expect(approved).to_contain_text("offboarding.approved")
    expect(approved).to_contain_text("rita")
    event = AuditEvent.objects.get(action="offboarding.approved", target_id=str(ben.subject_id))
    expect(approved).to_contain_text(f"{event.occurred_at.astimezone(TOKYO):%Y-%m-%d %H:%M:%S}")
    page.shot("approved")


def test_two_reviewers_place_and_release_a_legal_hold(new_page, scim, tenant, system_actor):
    quiet_policy(tenant, system_actor)
    case = leaver(scim, "ann@acme.example", displayName="Ann Archer")
    reviewer("rita", tenant)
    reviewer("sam", tenant)

    first = new_page(**LAPTOP)
    rita = first.page
    sign_in(rita, "rita", f"/hr/cases/{case.pk}/")
    expect(rita.get_by_role("heading", name="Ann Archer", level=1)).to_be_visible()
    expect(rita.locator("#action-release")).to_have_count(0)  # nothing is on hold yet
    # A form the server refuses: an extension to before the case is due says why, changes nothing.
    extend = rita.locator("#action-extend")
    extend.get_by_label("New end of the grace period").fill(timezone.localdate().isoformat())
    extend.get_by_label("Reason").fill("notice period")
    extend.get_by_role("button", name="Extend the grace period").click()
    expect(rita.get_by_role("alert")).to_contain_text("extend it past that")
    expect(rita.locator("#action-extend").get_by_label("Reason")).to_have_value("notice period")  # kept
    assert case_of(case.subject_id).deletion_due_at == case.deletion_due_at
    first.shot("extension-refused")
    hold = rita.locator("#action-hold")
    hold.get_by_label("Reason").fill("Litigation: Smith v. Acme, keep every record")
    hold.get_by_role("button", name="Place a legal hold").click()
    expect(said(rita)).to_contain_text("On legal hold", ignore_case=True)
    assert case_of(case.subject_id).state == CaseState.ON_HOLD
    expect(rita.locator(".banner.hold")).to_contain_text("placed by rita")
    expect(rita.locator(".banner.hold")).to_contain_text("Smith v. Acme")
    expect(rita.locator("#action-release")).to_have_count(0)  # four eyes: not to whoever placed it
    expect(rita.locator("#action-approve")).to_have_count(0)
    first.shot("held-by-rita")

    second = new_page(**LAPTOP)
    sam = second.page
    sign_in(sam, "sam", f"/hr/cases/{case.pk}/")
    expect(sam.locator(".banner.hold")).to_contain_text("placed by rita")
    release = sam.locator("#action-release")
    release.get_by_label("Reason").fill("The claim was settled")
    release.get_by_role("button", name="Release the legal hold").click()
    expect(said(sam)).to_contain_text("Pending HR review", ignore_case=True)
    assert case_of(case.subject_id).state == CaseState.PENDING_REVIEW
    expect(sam.locator(".heading .state")).to_have_text("Pending HR review")
    released = history(sam).filter(has_text="The claim was settled")
    expect(released).to_contain_text("sam")
    second.shot("released-by-sam")

    rita.reload()
    expect(rita.locator(".heading .state")).to_have_text("Pending HR review")
    expect(rita.locator(".banner.hold")).to_have_count(0)
    expect(rita.locator("#action-approve")).to_be_visible()
    first.shot("rita-after-release")


def test_a_reviewer_approves_three_deletions_at_once(new_page, office, tenant):
    reviewer("rita", tenant)
    page = new_page(**LAPTOP)
    browser = page.page
    sign_in(browser, "rita")
    browser.keyboard.press("Tab")  # the first stop: the skip link
    expect(browser.get_by_role("link", name="Skip to the content")).to_be_focused()
    expect(browser.get_by_role("link", name="Skip to the content")).to_be_in_viewport()
    browser.get_by_role("checkbox", name="Select Ann Archer").check()
    browser.get_by_role("checkbox", name="Select Ben Baker").click()
    cat = browser.get_by_role("checkbox", name="Select Cat Carter")
    cat.focus()
    browser.keyboard.press("Space")
    expect(cat).to_be_checked()
    expect(browser.get_by_role("checkbox", name="Select Dan Dorsey")).not_to_be_checked()
    page.shot("selected")
    with browser.expect_navigation():
        browser.get_by_role("button", name="Approve selected").click()

    expect(browser.get_by_role("heading", name="Approve these deletions?")).to_be_visible()
    people = browser.locator("ul.people li")
    expect(people).to_have_count(3)
    for name in ("Ann Archer", "Ben Baker", "Cat Carter"):
        expect(people.filter(has_text=name)).to_have_count(1)
    expect(browser.locator("ul.people")).not_to_contain_text("Dan Dorsey")
    confirm = browser.get_by_role("button", name="Approve 3 deletions")
    expect(confirm).to_be_visible()
    page.shot("confirm")
    confirm.click()
    refused_by_the_browser(browser, browser.get_by_label("Reason (recorded on each case)"))
    assert not OffboardingCase.objects.filter(state=CaseState.APPROVED).exists()
    browser.get_by_label("Reason (recorded on each case)").fill("Leavers of the March restructuring")
    with browser.expect_navigation():
        confirm.click()

    done = said(browser)
    expect(done).to_contain_text("Approved the deletion of 3")
    for name in ("Ann Archer", "Ben Baker", "Cat Carter"):
        expect(done).to_contain_text(name)
    approved = OffboardingCase.objects.filter(state=CaseState.APPROVED)
    assert sorted(approved.values_list("pk", flat=True)) == sorted(
        office[n].pk for n in ("ann", "ben", "cat")
    )
    assert case_of(office["dan"].subject_id).state == CaseState.PENDING_REVIEW
    expect(browser.locator("table.cases")).to_contain_text("Deletion approved")
    page.shot("approved")


def test_a_reviewer_reaches_neither_the_admin_nor_another_tenants_case(
    new_page, scim, globex_scim, tenant, other_tenant, system_actor
):
    quiet_policy(tenant, system_actor)
    quiet_policy(other_tenant, system_actor)
    ours = leaver(scim, "ann@acme.example", displayName="Ann Archer")
    theirs = leaver(globex_scim, "olga@globex.example", displayName="Olga Orlova")
    reviewer("rita", tenant)
    page = new_page(**LAPTOP)
    browser = page.page
    sign_in(browser, "rita")
    assert listed(browser) == ["ann@acme.example"]

    response = browser.goto("/admin/")
    assert response is not None and response.status == 403
    expect(browser.get_by_role("heading", name="You may not open this page")).to_be_visible()
    expect(browser.locator("main")).to_contain_text("HR reviewers use the HR screen only")
    page.shot("admin-refused")

    response = browser.goto(f"/hr/cases/{theirs.pk}/")
    assert response is not None and response.status == 404
    expect(browser.get_by_role("heading", name=f"No case {theirs.pk} for you")).to_be_visible()
    expect(browser.locator("main")).not_to_contain_text("Olga")
    page.shot("other-tenants-case")

    browser.get_by_role("link", name="Back to the list").click()
    expect(browser.get_by_role("link", name="Ann Archer")).to_be_visible()
    assert case_of(ours.subject_id).state == CaseState.PENDING_REVIEW


def test_the_list_and_a_case_fit_a_phone(new_page, office, tenant):
    reviewer("rita", tenant)
    phone = new_page(**PHONE)
    browser = phone.page
    sign_in(browser, "rita")
    expect(browser.get_by_role("status")).to_have_text("4 cases")
    fits(browser)
    phone.shot("list")
    browser.get_by_text("Filter and sort").click()
    expect(browser.get_by_label("Name or email")).to_be_visible()
    fits(browser)
    phone.shot("filters")

    browser.get_by_role("link", name="Ann Archer").click()
    expect(browser.get_by_role("heading", name="Ann Archer", level=1)).to_be_visible()
    expect(browser.locator(".facts").first).to_contain_text("Barbara Boss")
    fits(browser)
    phone.shot("case")
