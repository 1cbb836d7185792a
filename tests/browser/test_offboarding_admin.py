"""In a browser: an administrator meets a burst of deprovisions by its banner, releases it on its
page with a reason, then approves a leaver's deletion early on the case's page, whose steps and
history show; on a phone too. The decision forms are real forms of their own (not nested in the
admin's change form, where a browser would submit the outer one)."""

from playwright.sync_api import expect

from directory.models import DeprovisionAction
from lifecycle.burst_decisions import burst_finish
from lifecycle.models import Burst, BurstState, CaseState, OffboardingCase
from lifecycle.step_runs import case_steps_run
from tests.lifecycle.test_cases import deactivate, policy
from tests.support.browser import ADMIN, PHONE, log_in


def test_an_administrator_releases_a_burst_then_decides_a_case(
    new_page, admin_user, scim, tenant, system_actor
):
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        burst_count=2,
        burst_percent=0,
    )
    ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(3)]
    for uid in ids:
        deactivate(scim, uid)
    burst = Burst.objects.get()
    case = OffboardingCase.objects.get(subject_id=ids[0])
    case_steps_run(case_id=case.pk)

    page = new_page(viewport={"width": 1280, "height": 800})
    browser = page.page
    log_in(browser, *ADMIN)
    banner = browser.get_by_role("alert").filter(has_text="Deprovisions quarantined in Acme")
    expect(banner).to_be_visible()
    page.shot("banner")
    banner.get_by_role("link", name=f"Release or revert burst {burst.pk}").click()
    expect(browser.locator(".burst-cases")).to_contain_text("Quarantined (burst): 3")
    browser.get_by_role("button", name="Release: the offboardings go on").click()  # no reason yet
    assert Burst.objects.get().state == BurstState.OPEN, "the browser refuses an empty reason"
    browser.get_by_label("Reason").fill("the reorganisation was announced")
    browser.get_by_role("button", name="Release: the offboardings go on").click()
    expect(browser.locator(".messagelist")).to_contain_text(f"Burst {burst.pk} released: its cases go on.")
    assert Burst.objects.get().state == BurstState.RELEASED
    page.shot("released")
    burst_finish(burst_id=burst.pk)  # what the worker does next: the cases go back to review

    browser.goto(f"/admin/lifecycle/offboardingcase/{case.pk}/change/")
    expect(browser.locator(".inline-group")).to_contain_text("revoke_sessions")
    expect(browser.locator(".case-history")).to_contain_text("offboarding.quarantined")
    browser.get_by_label("Decision").select_option(label="Approve the deletion now")
    browser.get_by_label("Reason").fill("leaving on good terms, nothing to keep")
    browser.get_by_label("Reason").press("Tab")
    browser.keyboard.press("Enter")  # the Decide button, reached by keyboard
    expect(browser.locator(".messagelist")).to_contain_text("Done: the case is now deleted")
    assert OffboardingCase.objects.get(pk=case.pk).state == CaseState.DELETED
    expect(browser.locator(".case-history")).to_contain_text("leaving on good terms")
    page.shot("case-decided")

    phone = new_page(**PHONE)
    log_in(phone.page, *ADMIN)
    phone.page.goto(f"/admin/lifecycle/offboardingcase/{case.pk}/change/")
    expect(phone.page.locator(".case-history")).to_contain_text("offboarding.approved")
    width = phone.page.evaluate("document.querySelector('.case-history').getBoundingClientRect().right")
    assert width <= 390, "the history fits a phone's screen"
    phone.shot("case-on-phone")
