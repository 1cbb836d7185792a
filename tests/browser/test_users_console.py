"""In a browser: an administrator finds one user among 10,000 by its email, opens its page and
reads its SCIM document, groups and timeline; then suspends it after the confirmation."""

from playwright.sync_api import expect

from directory.models import User, UserState
from tests.support.browser import ADMIN, log_in
from tests.support.seed import seed_users


def test_find_a_user_among_10000_open_its_page_and_suspend_it(new_page, admin_user, tenant, scim):
    seed_users(tenant, 10_000, prefix="staff")
    wanted = scim.create_user("zoe.quinn@example.com", displayName="Zoe Quinn", externalId="okta-zoe")
    scim.create_group("Security", members=[wanted["id"]])
    scim.patch_ops(f"/Users/{wanted['id']}", {"op": "replace", "path": "title", "value": "CISO"})
    assert User.objects.filter(tenant=tenant).count() == 10_001

    page = new_page(viewport={"width": 1280, "height": 900})
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/directory/user/")
    browser.locator("#searchbar").fill("zoe.quinn")
    browser.keyboard.press("Enter")
    rows = browser.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    page.shot("users-search")

    rows.first.get_by_role("link", name="zoe.quinn@example.com").click()
    expect(browser.get_by_role("heading", name="As SCIM serves it")).to_be_visible()
    expect(browser.locator(".scim-document")).to_contain_text('"externalId": "okta-zoe"')
    expect(browser.locator("#user-groups")).to_contain_text("Security")
    expect(browser.get_by_role("note")).to_contain_text("read-only here")
    timeline = browser.locator("#user-timeline tbody")
    expect(timeline).to_contain_text("user.created")
    expect(timeline).to_contain_text("user.updated")
    page.shot("user-page")

    browser.goto("/admin/directory/user/")
    group = browser.locator("#filter-group")
    group.press_sequentially("Secu", delay=50)  # the filter suggests groups as one types
    expect(browser.locator("#filter-group-options option")).to_have_count(1)
    expect(browser.locator("#filter-group-options option").first).to_have_attribute("value", "Security")
    group.fill("Security")
    group.press("Enter")
    expect(browser.locator("#result_list tbody tr")).to_have_count(1)
    expect(browser.locator("#result_list")).to_contain_text("zoe.quinn@example.com")
    page.shot("users-group-filter")

    browser.goto("/admin/directory/user/?q=okta-zoe")
    browser.locator("#result_list tbody input[type=checkbox]").first.check()
    browser.get_by_label("Action:").select_option(value="suspend")
    browser.get_by_role("button", name="Go").click()
    expect(browser.get_by_role("alert")).to_contain_text("Suspend these users?")
    page.shot("users-suspend-confirm")
    browser.get_by_role("button", name="Yes, go on").click()
    expect(browser.locator(".messagelist")).to_contain_text("Done for 1 user(s).")
    assert User.objects.get(pk=wanted["id"]).state == UserState.SUSPENDED
