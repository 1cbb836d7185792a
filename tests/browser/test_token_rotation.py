"""In a browser: an administrator issues a SCIM token, rotates it (both work during the overlap)
and revokes the old one, which SCIM refuses at once, while the new one keeps working."""

import urllib.error
import urllib.request

from playwright.sync_api import expect

from directory.models import ScimToken
from tests.browser.test_token_issued import issue_token
from tests.support.browser import ADMIN, log_in
from tests.support.processes import direct_opener


def scim_status(base_url: str, plaintext: str) -> int:
    request = urllib.request.Request(
        f"{base_url}/scim/v2/Users", headers={"Authorization": f"Bearer {plaintext}"}
    )
    try:
        with direct_opener().open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_issue_rotate_and_revoke_a_token(new_page, admin_user, tenant, base_url):
    page = new_page(viewport={"width": 1280, "height": 900})
    browser = page.page
    log_in(browser, *ADMIN)
    old_plaintext, _ = issue_token(browser, tenant)
    assert scim_status(base_url, old_plaintext) == 200
    old = ScimToken.objects.get()

    browser.goto(f"/admin/directory/scimtoken/{old.pk}/change/")
    browser.get_by_role("link", name="Rotate").click()
    browser.get_by_label("The old token keeps working for").select_option(label="1 day")
    page.shot("token-rotate-form")
    browser.get_by_role("button", name="Rotate the token").click()
    field = browser.get_by_label("Bearer token")
    expect(field).to_be_visible()
    expect(browser.get_by_text(f"It replaces {old.prefix}…")).to_be_visible()
    new_plaintext = field.input_value()
    page.shot("token-rotated")
    assert new_plaintext != old_plaintext
    assert scim_status(base_url, old_plaintext) == scim_status(base_url, new_plaintext) == 200

    browser.goto(f"/admin/directory/scimtoken/{old.pk}/change/")
    expect(browser.get_by_role("link", name="Rotate")).to_have_count(0)  # rotated once already
    browser.get_by_role("link", name="Revoke").click()
    page.shot("token-revoke-confirm")
    browser.get_by_role("button", name="Yes, revoke it").click()
    expect(browser.locator(".messagelist")).to_contain_text("gets 401")
    page.shot("token-revoked")
    assert scim_status(base_url, old_plaintext) == 401, "refused at once"
    assert scim_status(base_url, new_plaintext) == 200
