"""In a browser: the admin works under its Content-Security-Policy. Every page is visited and its
scripts are used (the sidebar, the theme toggle, select-all and actions, the date and time
pickers, the filters); the console reports no violation and no script fails. That the console
would show one is checked first, with a script the policy must refuse."""

from playwright.sync_api import expect

from directory.services.audit import Actor
from directory.services.extensions import extension_schema_declare
from directory.services.tokens import token_create
from directory.services.webhooks import webhook_endpoint_create
from tests.support.browser import ADMIN, log_in

PAGES = [
    "/admin/",
    "/admin/directory/",
    "/admin/directory/tenant/",
    "/admin/directory/tenant/add/",
    "/admin/directory/scimtoken/",
    "/admin/directory/user/",
    "/admin/directory/group/",
    "/admin/directory/membership/",
    "/admin/directory/uservalue/",
    "/admin/directory/auditevent/",
    "/admin/directory/extensionschema/",
    "/admin/directory/extensionschema/add/",
    "/admin/directory/extensionschema/import/",
    "/admin/directory/workerheartbeat/",
    "/admin/directory/webhookendpoint/",
    "/admin/directory/webhookendpoint/add/",
    "/admin/directory/webhookattempt/",
    "/admin/directory/apikey/",
    "/admin/django_celery_beat/periodictask/",
    "/admin/django_celery_beat/periodictask/add/",
    "/admin/django_celery_beat/intervalschedule/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/axes/accessfailurelog/",
    "/admin/auth/user/",
    "/admin/auth/user/add/",
    "/admin/auth/group/add/",
    "/admin/password_change/",
]


WEBHOOK_PAGES = ("change", "test", "rotate", "replay-since", "replay-event", "disable")


def test_a_refused_inline_script_shows_on_the_console(page):
    browser = page.page
    browser.goto("/admin/login/")
    with browser.expect_console_message(lambda m: "Content Security Policy" in m.text) as refused:
        browser.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            " document.body.append(s); }"
        )
    assert "script-src" in refused.value.text
    assert browser.evaluate("window.ran") is None, "the policy refused the inline script"
    assert page.console.csp_violations == [refused.value.text]
    page.console.messages.clear()  # the violation was the point: not one for the fixture to report


def test_every_admin_page_renders_without_a_violation(page, admin_user, tenant):
    browser = page.page
    token, _ = token_create(tenant=tenant, name="okta", actor=Actor.system("tests"))
    outcome = extension_schema_declare(
        tenant=tenant,
        actor=Actor.system("tests"),
        document={"id": "urn:acme:schemas:2.0:User", "attributes": [{"name": "costCode"}]},
        resource_type="User",
    )
    endpoint = webhook_endpoint_create(
        tenant=tenant,
        url="https://hooks.example.com/roster",
        event_types=[],
        format="set",
        actor=Actor.system("tests"),
    )
    log_in(browser, *ADMIN)
    for url in [
        *PAGES,
        f"/admin/directory/tenant/{tenant.pk}/change/",
        f"/admin/directory/scimtoken/{token.pk}/change/",
        f"/admin/directory/extensionschema/{outcome.schema.pk}/change/",
        *(f"/admin/directory/webhookendpoint/{endpoint.pk}/{page}/" for page in WEBHOOK_PAGES),
    ]:
        response = browser.goto(url)
        assert response.status == 200, url
        assert "default-src 'none'" in response.headers["content-security-policy"], url
        expect(browser.locator("#content")).to_be_visible()
    page.shot("last-page")
    assert page.console.csp_violations == []
    assert page.console.errors == [], [m.location for m in page.console.messages]


def test_the_admins_scripts_work_under_the_policy(page, admin_user, tenant, other_tenant):
    browser = page.page
    token_create(tenant=tenant, name="okta", actor=Actor.system("tests"))
    token_create(tenant=tenant, name="entra", actor=Actor.system("tests"))
    token_create(tenant=other_tenant, name="google", actor=Actor.system("tests"))
    log_in(browser, *ADMIN)

    # theme.js: the toggle cycles the colour theme.
    html = browser.locator("html")
    before = html.get_attribute("data-theme")
    browser.locator("button.theme-toggle").first.click()
    expect(html).not_to_have_attribute("data-theme", before or "")

    # nav_sidebar.js: the sidebar folds away and back, and its filter narrows the models.
    browser.goto("/admin/directory/scimtoken/")
    toggle = browser.locator("#toggle-nav-sidebar")
    toggle.click()
    expect(browser.locator("#main")).not_to_have_class("main shifted")
    toggle.click()
    expect(browser.locator("#main")).to_have_class("main shifted")
    browser.locator("#nav-filter").fill("audit")
    expect(browser.locator("#nav-sidebar tr.model-scimtoken")).to_be_hidden()
    expect(browser.locator("#nav-sidebar tr.model-auditevent")).to_be_visible()

    # actions.js: select all, then the count of selected rows and the action that would run.
    browser.locator("#action-toggle").check()
    expect(browser.locator(".action-counter")).to_have_text("3 of 3 selected")
    browser.get_by_role("combobox", name="Action:").select_option("revoke")
    page.shot("changelist-all-selected")

    # filters.js: the filter applies; a filter folded away stays folded on the next page.
    filters = browser.locator("#changelist-filter")
    filters.get_by_role("link", name="acme", exact=True).click()
    expect(browser.locator("#result_list tbody tr")).to_have_count(2)
    by_tenant = filters.locator("details[data-filter-title=tenant]")
    expect(by_tenant).to_have_attribute("open", "")
    by_tenant.locator("summary").click()
    browser.reload()
    expect(by_tenant).to_have_count(1)
    expect(by_tenant).not_to_have_attribute("open", "")
    expect(filters.get_by_role("link", name="acme", exact=True)).to_be_hidden()

    # DateTimeShortcuts.js and calendar.js: "Today" and "Now", and the calendar picker.
    browser.goto("/admin/directory/scimtoken/add/")
    browser.get_by_role("link", name="Today").click()
    expect(browser.locator("#id_expires_at_0")).not_to_have_value("")
    browser.get_by_role("link", name="Now").click()
    expect(browser.locator("#id_expires_at_1")).not_to_have_value("")
    browser.locator("#calendarlink0").click()
    expect(browser.locator("#calendarbox0")).to_be_visible()
    page.shot("calendar-open")
    browser.keyboard.press("Escape")
    expect(browser.locator("#calendarbox0")).to_be_hidden()

    assert page.console.csp_violations == []
    assert page.console.page_errors == []
