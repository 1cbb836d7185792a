"""In a browser: an administrator declares an extension schema in the admin, adding attribute rows
with the table's own "Add another" (Django's inlines script, under the Content-Security-Policy),
sees a refusal on the page, and fixes it; on a phone too."""

from playwright.sync_api import expect

from directory.models import ExtensionSchema
from tests.support.browser import ADMIN, PHONE, log_in

URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


def fill_row(browser, index: int, name: str, type_: str = "string", sub_of: str = "") -> None:
    browser.locator(f"#id_attributes-{index}-name").fill(name)
    browser.locator(f"#id_attributes-{index}-type").select_option(type_)
    if sub_of:
        browser.locator(f"#id_attributes-{index}-sub_attribute_of").fill(sub_of)


def test_an_administrator_declares_a_schema_in_the_attributes_table(page, admin_user, tenant):
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/directory/extensionschema/add/")
    browser.get_by_label("Tenant:").select_option(label=str(tenant))
    browser.get_by_label("Resource type:").select_option("User")
    browser.get_by_label("URN (the schema's id):").fill(URN)
    fill_row(browser, 0, "costCode")
    fill_row(browser, 1, "badge", "integer")
    fill_row(browser, 2, "certs", "complex")
    browser.get_by_role("button", name="Add another Attribute").click()
    fill_row(browser, 3, "level", "integer", sub_of="certs")
    browser.locator("#id_attributes-1-uniqueness").select_option("global")  # refused: not supported
    page.shot("filled")
    browser.get_by_role("button", name="Save", exact=True).click()
    expect(browser.locator(".errorlist")).to_contain_text("uniqueness global is not supported")
    assert not ExtensionSchema.objects.exists()
    page.shot("refused")
    browser.locator("#id_attributes-1-uniqueness").select_option("server")
    browser.get_by_role("button", name="Save", exact=True).click()
    expect(browser.locator(".messagelist")).to_contain_text(
        f"{URN}: declared; added: costCode, badge, certs."
    )
    schema = ExtensionSchema.objects.get()
    assert schema.attributes.get(name="level").parent.name == "certs"
    assert schema.attributes.get(name="badge").uniqueness == "server"
    page.shot("declared")
    assert page.console.csp_violations == []
    assert page.console.errors == []


def test_the_schema_pages_on_a_phone(new_page, admin_user, tenant):
    page = new_page(**PHONE)
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/directory/extensionschema/import/")
    browser.get_by_label("Tenant:").select_option(label=str(tenant))
    browser.get_by_role("button", name="Declare").click()  # the example document, as the page offers it
    expect(browser.locator(".messagelist")).to_contain_text("declared; added: costCode, badge.")
    page.shot("imported")
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.console.csp_violations == []
