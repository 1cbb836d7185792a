"""In a browser: a new SCIM token is shown once, on the page answering the POST that issued it;
the copy button works by keyboard and on a phone; reloading shows the token's page instead and
issues no second token."""

import time

from playwright.sync_api import expect

from directory.models import ScimToken
from tests.support.browser import ADMIN, PHONE, log_in

CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def issue_token(browser, tenant, name="okta"):
    """Fill the admin's add form and save; the plaintext the page shows, and the POST's response."""
    browser.goto("/admin/directory/scimtoken/add/")
    browser.get_by_label("Tenant:").select_option(label=str(tenant))
    browser.get_by_label("Name:").fill(name)
    with browser.expect_response(lambda r: r.request.method == "POST") as posted:
        browser.get_by_role("button", name="Save", exact=True).click()
    field = browser.get_by_label("Bearer token")
    expect(field).to_be_visible()
    return field.input_value(), posted.value


def wait_for_clipboard(browser, text, timeout=5.0):
    """Until the clipboard holds ``text`` (copying is asynchronous); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (held := browser.evaluate("navigator.clipboard.readText()")) != text:
        assert time.monotonic() < deadline, f"the clipboard holds {held!r}"
        browser.wait_for_timeout(50)


def test_shown_once_and_copied_by_keyboard(new_page, admin_user, tenant, base_url):
    page = new_page(viewport={"width": 1280, "height": 800}, **CLIPBOARD)
    browser = page.page
    log_in(browser, *ADMIN)
    plaintext, posted = issue_token(browser, tenant)
    token = ScimToken.objects.get()
    assert ScimToken.objects.find(plaintext) == token
    assert "no-store" in posted.headers["cache-control"]
    assert all(plaintext not in cookie["value"] for cookie in browser.context.cookies())
    expect(browser.get_by_role("alert")).to_contain_text("it is not shown again")
    page.shot("token-issued")

    for _ in range(100):  # from the top of the page, by Tab alone (past the sidebar's every model)
        if browser.evaluate("document.activeElement.id") == "token-copy":
            break
        browser.keyboard.press("Tab")
    assert browser.evaluate("document.activeElement.id") == "token-copy"
    browser.keyboard.press("Enter")
    expect(browser.get_by_role("status")).to_have_text("Copied to the clipboard.")
    wait_for_clipboard(browser, plaintext)
    browser.evaluate("navigator.clipboard.writeText('')")
    browser.keyboard.press("Space")
    wait_for_clipboard(browser, plaintext)
    page.shot("token-copied")

    expect(browser).to_have_url(f"{base_url}/admin/directory/scimtoken/{token.pk}/change/")
    browser.reload()
    expect(browser.get_by_role("heading", name="Change SCIM token")).to_be_visible()
    assert plaintext not in browser.content()
    assert ScimToken.objects.count() == 1, "reloading issued no second token"
    page.shot("after-reload")

    browser.go_back()
    assert plaintext not in browser.content()
    assert ScimToken.objects.count() == 1


def test_the_token_page_works_on_a_phone(new_page, admin_user, tenant):
    phone = new_page(**PHONE, **CLIPBOARD)
    browser = phone.page
    log_in(browser, *ADMIN)
    plaintext, _ = issue_token(browser, tenant)
    field = browser.get_by_label("Bearer token")
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    # The whole token is visible in the field, wrapped, not cut off.
    assert field.evaluate("f => f.scrollHeight <= f.clientHeight && f.scrollWidth <= f.clientWidth")
    copy = browser.get_by_role("button", name="Copy token")
    assert copy.bounding_box()["height"] >= 44, "big enough for a finger"
    copy.tap()
    expect(browser.get_by_role("status")).to_have_text("Copied to the clipboard.")
    wait_for_clipboard(browser, plaintext)
    phone.shot("token-issued-phone")
