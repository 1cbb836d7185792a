"""In a browser: an administrator opens the evidence pack from the admin index, chooses the tenant
and the period, reads the terminations and the SLA breaches the test made, downloads the CSV and
opens the printable page (on screen and as print media); both exports land in the audit trail.
Screenshots of each step (tests/support/browser.py); no page may break the CSP."""

import csv
import io
from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from playwright.sync_api import expect

from directory.models import AuditEvent, DeprovisionAction
from lifecycle.models import OffboardingCase
from tests.lifecycle.test_cases import case_of, deactivate, policy
from tests.support.browser import ADMIN, log_in


def test_an_administrator_takes_the_evidence_pack_of_a_quarter(
    new_page, admin_user, scim, tenant, system_actor
):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.SUSPEND, burst_count=0, burst_percent=0)
    ids = [scim.create_user(f"leaver{i}@acme.example", displayName=f"Leaver {i}")["id"] for i in range(3)]
    for uid in ids[:2]:
        deactivate(scim, uid)
    assert scim.delete(f"/Users/{ids[2]}").status_code == 204
    # One end of access recorded 30 hours late (a record made otherwise than by Roster's own
    # requests, which end access at once; see tests/lifecycle/test_evidence.py).
    late = case_of(ids[0])
    OffboardingCase.objects.filter(pk=late.pk).update(
        access_ended_at=F("deprovisioned_at") + timedelta(hours=30)
    )
    today = timezone.localdate()
    since, until = (today - timedelta(days=7)).isoformat(), today.isoformat()

    page = new_page(viewport={"width": 1280, "height": 800})
    browser = page.page
    log_in(browser, *ADMIN)
    browser.get_by_role("link", name="Evidence pack").first.click()
    expect(browser.get_by_role("heading", name="Evidence pack")).to_be_visible()
    page.shot("form")
    browser.get_by_label("Tenant:").select_option(label="Acme (acme)")
    browser.get_by_label("From:").fill(since)
    browser.get_by_label("To:").fill(until)
    browser.get_by_role("button", name="Show the evidence").click()

    expect(browser.locator(".evidence-terminations")).to_have_text("3")
    expect(browser.locator(".evidence-breaches")).to_have_text("1")
    table = browser.locator(".evidence-table tbody tr")
    expect(table).to_have_count(3)
    breached = browser.locator(".evidence-table tr.breached")
    expect(breached).to_have_count(1)
    expect(breached).to_contain_text("Leaver 0")
    expect(breached).to_contain_text("after 30 h")
    page.shot("pack")

    with browser.expect_download() as downloading:
        browser.get_by_role("link", name="Download the CSV").click()
    download = downloading.value
    assert download.suggested_filename == f"evidence-acme-{since}-{until}.csv"
    with open(download.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(io.StringIO(exported.read())))
    assert sorted(row["user id"] for row in rows) == sorted(ids)
    assert [row["userName"] for row in rows if row["breach"]] == ["leaver0@acme.example"]
    assert {row["trigger"] for row in rows} == {
        "Deactivated by the identity provider",
        "Deleted by the identity provider",
    }

    browser.get_by_role("link", name="Open the printable page").click()
    expect(
        browser.get_by_role("heading", name="Evidence pack: terminations and the end of access")
    ).to_be_visible()
    expect(browser.locator(".breaches")).to_have_text("1 (1 late, 0 open)")
    expect(browser.locator("table tbody tr")).to_have_count(3)
    expect(browser.locator("footer")).to_contain_text("How to read this")
    page.shot("printable")
    browser.emulate_media(media="print")
    expect(browser.locator(".screen-only")).to_be_hidden()
    page.shot("printable-as-printed")

    exports = AuditEvent.objects.filter(action="evidence.exported", tenant=tenant).order_by("pk")
    assert [event.changes["format"] for event in exports] == ["csv", "print"]
    assert {event.actor_label for event in exports} == {"admin admin"}
