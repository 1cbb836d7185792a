"""In a browser: an administrator adds a webhook endpoint for a receiver on this host, reads its
signing secret off the page, sends a test event (by keyboard), and the receiver gets a POST whose
signature verifies with that secret, while the endpoint's page lists the attempt, answered 200;
the page works on a phone."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from directory.models import WebhookAttempt, WebhookEndpoint
from directory.services.webhooks import webhook_endpoint_create
from tests.support.browser import ADMIN, PHONE, log_in
from tests.support.live_server import live_server
from tests.support.receiver import Receiver, receiver_start

# The receiver listens on 127.0.0.1 over plain HTTP: the live server is told to call it.
WEBHOOK_ENV = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_ALLOW_HTTP": "true"}


@pytest.fixture
def base_url(live_db) -> Iterator[str]:
    with live_server(workers=1, env=WEBHOOK_ENV) as base:
        yield base


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = receiver_start()
    yield receiver
    server.shutdown()
    server.server_close()


def tab_to(browser, text: str, presses: int = 300) -> None:
    """Press Tab from where the focus is until it is on the control that reads ``text``."""
    for _ in range(presses):
        if browser.evaluate("document.activeElement.textContent.trim()") == text:
            return
        browser.keyboard.press("Tab")
    raise AssertionError(f"{text!r} not reached by Tab")


def test_add_an_endpoint_and_send_it_a_signed_test_event(new_page, admin_user, tenant, receiver, base_url):
    page = new_page(viewport={"width": 1280, "height": 900})
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/directory/webhookendpoint/add/")
    browser.get_by_label("Tenant:").select_option(label=str(tenant))
    browser.get_by_label("URL:").fill(receiver.url)
    browser.get_by_label("Description:").fill("billing")
    browser.get_by_label("user.created").check()
    browser.get_by_label("Format:").select_option(
        label="Standard Webhooks (JSON, signed with the endpoint's secret)"
    )
    page.shot("webhook-add-form")
    with browser.expect_response(lambda r: r.request.method == "POST") as posted:
        browser.get_by_role("button", name="Save", exact=True).click()
    field = browser.get_by_label("Signing secret")
    expect(field).to_be_visible()
    secret = field.input_value()
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret and secret.startswith("whsec_")
    assert "no-store" in posted.value.headers["cache-control"]
    expect(browser.get_by_role("alert")).to_contain_text("Copy this secret now")
    page.shot("webhook-secret")

    browser.get_by_role("link", name="This endpoint's page").click()
    expect(browser.get_by_role("heading", name="Delivery attempts")).to_be_visible()
    expect(browser.get_by_text("No attempts yet.")).to_be_visible()
    secret_code = browser.locator("#webhook-secret")
    expect(secret_code).to_be_hidden()
    browser.get_by_text("Reveal the secret").click()
    expect(secret_code).to_have_text(secret)

    tab_to(browser, "Send test event")
    with browser.expect_navigation():
        browser.keyboard.press("Enter")
    expect(browser.locator(".messagelist")).to_contain_text("delivered: answered 200")
    row = browser.locator("#webhook-attempts tbody tr").first
    expect(row.locator(".webhook-status")).to_have_text("200")
    expect(row).to_contain_text("webhook.test")
    page.shot("webhook-tested")

    [got] = receiver.received
    headers, body = got.headers, got.body
    document = Webhook(secret).verify(body, headers)
    assert document["type"] == "webhook.test" and document["tenant"]["slug"] == tenant.slug
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status, attempt.kind, attempt.webhook_id) == (200, "test", headers["webhook-id"])
    expect(row).to_contain_text(attempt.webhook_id)

    browser.goto("/admin/directory/webhookendpoint/")
    listed = browser.locator("#result_list tbody tr").first
    expect(listed.locator(".field-last_attempt")).to_have_text("200")
    expect(listed.locator(".field-subscribed")).to_have_text("user.created")
    page.shot("webhook-list")


def test_the_endpoints_page_works_on_a_phone(new_page, admin_user, tenant, receiver, system_actor):
    endpoint = webhook_endpoint_create(
        tenant=tenant, url=receiver.url, event_types=[], format="standard", actor=system_actor
    )
    phone = new_page(**PHONE)
    browser = phone.page
    log_in(browser, *ADMIN)
    browser.goto(f"/admin/directory/webhookendpoint/{endpoint.pk}/change/")
    send = browser.get_by_role("button", name="Send test event")
    assert send.bounding_box()["height"] >= 44, "big enough for a finger"
    with browser.expect_navigation():
        send.tap()
    expect(browser.locator(".messagelist")).to_contain_text("delivered: answered 200")
    row = browser.locator("#webhook-attempts tbody tr").first
    expect(row.locator(".webhook-status")).to_have_text("200")
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    phone.shot("webhook-page-phone")

    browser.get_by_role("link", name="Rotate secret").tap()
    browser.get_by_label("The previous secret keeps signing for (hours)").fill("1")
    browser.get_by_role("button", name="Rotate the secret").tap()
    field = browser.get_by_label("Signing secret")
    expect(field).to_be_visible()
    endpoint.refresh_from_db()
    assert field.input_value() == endpoint.secret
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    assert field.evaluate("f => f.scrollHeight <= f.clientHeight && f.scrollWidth <= f.clientWidth")
    phone.shot("webhook-rotated-phone")
