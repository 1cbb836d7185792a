"""In a browser: an administrator opens the dashboard from the admin index and reads its figures
against data the test made; the chart is drawn (uPlot from our static files, no CSP violation),
and the page fits a phone."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from directory.models import ScimRequestDay, ScimToken, User
from tests.support.browser import ADMIN, PHONE, log_in


def test_the_dashboard_shows_what_the_test_made(new_page, admin_user, tenant, scim):
    ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(3)]
    scim.patch_ops(f"/Users/{ids[0]}", {"op": "replace", "path": "active", "value": False})
    User.objects.filter(pk=ids[1]).update(updated_at=timezone.now() - timedelta(days=200))
    token = ScimToken.objects.get(tenant=tenant)
    ScimRequestDay.objects.create(
        tenant=tenant,
        token=token,
        day=timezone.now().date() - timedelta(days=2),
        reads=70,
        writes=5,
        errors=4,
    )

    page = new_page(viewport={"width": 1280, "height": 900})
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/")
    browser.get_by_role("link", name="Dashboard").click()
    row = browser.locator(f'tr[data-tenant="{tenant.slug}"]')
    expect(row.locator('[data-state="active"]')).to_have_text("2")
    expect(row.locator('[data-state="suspended"]')).to_have_text("1")
    expect(row.locator('[data-figure="orphans"]')).to_have_text("1")
    total = int(browser.locator('[data-figure="requests-total"]').inner_text())
    assert total >= 75  # the 75 of two days ago, and this test's own requests once flushed
    expect(browser.locator('[data-figure="errors-total"]')).not_to_have_text("0")
    chart = browser.locator("#requests-chart")
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    page.shot("dashboard")

    row.locator('[data-figure="orphans"] a').click()
    expect(browser.locator("#result_list tbody tr")).to_have_count(1)
    expect(browser.locator("#result_list")).to_contain_text("u1@example.com")

    phone = new_page(**PHONE)
    log_in(phone.page, *ADMIN)
    phone.page.goto("/admin/dashboard/")
    expect(phone.page.locator("#requests-chart canvas")).to_have_count(1)
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    phone.shot("dashboard-phone")
