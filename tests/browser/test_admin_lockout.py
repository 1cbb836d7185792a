"""In a browser: an admin locked out by repeated failures is told so on the login page, the right
password is refused while locked, and the documented command (README) lets them in again."""

import subprocess
import sys

from django.conf import settings
from playwright.sync_api import expect

from tests.support import processes
from tests.support.browser import ADMIN, PHONE, log_in


def manage(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=processes.ROOT,
        env=processes.test_database_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_locked_out_then_unlocked_by_the_documented_command(page, admin_user, base_url):
    browser = page.page
    browser.goto("/admin/login/?next=/admin/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(browser, ADMIN[0], "not the password")
    expect(browser.locator(".errornote")).to_contain_text("Please enter the correct username and password")
    log_in(browser, ADMIN[0], "not the password")

    message = browser.get_by_role("alert")
    expect(message).to_contain_text("Too many failed log-ins for this username or from this address")
    expect(message).to_contain_text("logging in is locked until")
    expect(browser.get_by_label("Username:")).to_have_value(ADMIN[0])
    page.shot("locked-out")

    log_in(browser, *ADMIN)
    expect(message).to_contain_text("Too many failed log-ins")
    expect(browser.get_by_role("button", name="Log out")).to_have_count(0)
    page.shot("right-password-refused-while-locked")

    assert manage("axes_reset_username", ADMIN[0]).strip() == "1 attempts removed."
    log_in(browser, *ADMIN)
    expect(browser).to_have_url(f"{base_url}/admin/")
    expect(browser.get_by_role("button", name="Log out")).to_be_visible()
    page.shot("logged-in-after-unlock")


def test_the_lockout_message_fits_a_phone(new_page, admin_user):
    phone = new_page(**PHONE)
    browser = phone.page
    browser.goto("/admin/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(browser, ADMIN[0], "not the password")
    message = browser.get_by_role("alert")
    expect(message).to_contain_text("Too many failed log-ins")
    box = message.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    phone.shot("locked-out-phone")
