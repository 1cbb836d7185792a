"""Webhook endpoints in the admin (directory/webhook_admin.py): created through the service, with the
secret shown on the page answering the POST; refused URLs and SET types say why on the form; each
operation's page does what its service does, with a message, and only for those who may change
endpoints; the attempts list pages; a bad id is a message, never a 500."""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import timezone
from standardwebhooks import Webhook

import directory.webhook_admin
from directory.models import AuditEvent, Event, WebhookAttempt, WebhookEndpoint, WebhookReplay
from directory.services.events import event_public_id
from directory.services.webhooks import webhook_endpoint_create
from tests.support.receiver import Receiver, receiver_start

pytestmark = pytest.mark.django_db

ADMIN = "/admin/directory/webhookendpoint/"
ADD = ADMIN + "add/"
ATTEMPTS = "/admin/directory/webhookattempt/"


def event(tenant, kind="user.created", published_at=None) -> Event:
    now = timezone.now()
    return Event.objects.create(
        type=kind, tenant=tenant, occurred_at=now, published_at=published_at or now, payload={"type": kind}
    )


@pytest.fixture
def endpoint(tenant, system_actor) -> WebhookEndpoint:
    return webhook_endpoint_create(
        tenant=tenant,
        url="https://hooks.example.com/roster",
        event_types=[],
        format="standard",
        actor=system_actor,
    )


@pytest.fixture
def viewer(client, django_user_model):
    """A staff member who may view webhook endpoints (and attempts), not change them."""
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    for codename in ("view_webhookendpoint", "view_webhookattempt"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def page_of(endpoint: WebhookEndpoint, operation: str = "change") -> str:
    return f"{ADMIN}{endpoint.pk}/{operation}/"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver, server = receiver_start()
    yield receiver
    server.shutdown()
    server.server_close()


# Creating ------------------------------------------------------------------------------------------


def test_the_add_form_creates_through_the_service_and_shows_the_secret(
    admin_client, admin_user, tenant, monkeypatch
):
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return webhook_endpoint_create(**kwargs)

    monkeypatch.setattr(directory.webhook_admin, "webhook_endpoint_create", spy)
    last = event(tenant)
    response = admin_client.post(
        ADD,
        {
            "tenant": tenant.pk,
            "url": " https://hooks.example.com/roster ",
            "description": "billing",
            "event_types": ["user.deleted", "user.created"],
            "format": "standard",
        },
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert calls and calls[0]["actor"].admin == admin_user
    assert (endpoint.tenant, endpoint.url, endpoint.description) == (
        tenant,
        "https://hooks.example.com/roster",
        "billing",
    )
    assert endpoint.event_types == ["user.created", "user.deleted"]
    assert endpoint.cursor == last.pk, "it receives what is published from now on"
    assert endpoint.secret.startswith("whsec_") and endpoint.created_by == admin_user
    page = response.content.decode()
    assert page.count(endpoint.secret) == 1 and 'id="token-plaintext"' in page and "Copy secret" in page
    assert f'data-token-page="{page_of(endpoint)}"' in page
    assert "no-store" in response["Cache-Control"]
    audit = AuditEvent.objects.get(action="webhook.created")
    assert (audit.actor_label, audit.target_id, audit.tenant) == ("admin admin", str(endpoint.pk), tenant)


def test_no_tenant_is_every_tenant(admin_client, tenant):
    admin_client.post(ADD, {"tenant": "", "url": "https://hooks.example.com/all", "format": "standard"})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.tenant is None and endpoint.event_types == []
    listing = admin_client.get(ADMIN).content.decode()
    assert "every tenant" in listing and "https://hooks.example.com/all" in listing
    everyones = admin_client.get(ADMIN + "?tenant__isnull=True")
    assert [e.pk for e in everyones.context["cl"].result_list] == [endpoint.pk]
    assert admin_client.get(ADMIN + f"?tenant__id__exact={tenant.pk}").context["cl"].result_count == 0


@pytest.mark.parametrize(
    ("url", "allow_http", "said"),
    [
        ("ftp://x", True, "The address must start with https:// or http://."),
        ("http://hooks.example.com/", False, "The address must start with https://."),
        ("https://me:pw@hooks.example.com/", True, "Put no user or password in the address"),
        ("https://", True, "The address has no host."),
    ],
)
def test_a_url_roster_cannot_call_is_refused_with_the_reason(
    admin_client, tenant, settings, url, allow_http, said
):
    settings.WEBHOOK_ALLOW_HTTP = allow_http
    response = admin_client.post(ADD, {"tenant": tenant.pk, "url": url, "format": "standard"})
    assert response.status_code == 200
    assert said in response.content.decode()
    assert said in " ".join(response.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_the_set_format_refuses_types_it_has_no_event_for(admin_client, tenant):
    response = admin_client.post(
        ADD,
        {
            "tenant": tenant.pk,
            "url": "https://hooks.example.com/set",
            "format": "set",
            "event_types": ["user.created", "offboarding.opened"],
        },
    )
    assert response.status_code == 200
    assert "The SET format has no event for offboarding.opened" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_set_endpoint_shows_its_public_key(admin_client, tenant):
    response = admin_client.post(
        ADD,
        {
            "tenant": tenant.pk,
            "url": "https://hooks.example.com/set",
            "format": "set",
            "event_types": ["user.created"],
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.set_private_key
    jwk = json.loads(response.context["jwk"])
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["kid"]) == (
        "EC",
        "P-256",
        "ES256",
        f"roster-webhook-{endpoint.pk}",
    )
    assert "d" not in jwk, "the public half only"
    assert "PRIVATE KEY" not in response.content.decode()
    assert f"roster-webhook-{endpoint.pk}" in admin_client.get(page_of(endpoint)).content.decode()


# Its page ------------------------------------------------------------------------------------------


def test_the_page_reveals_the_secret_and_lists_the_newest_attempts(admin_client, endpoint):
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            endpoint=endpoint, webhook_id=f"evt_{i}", event_type="user.created", status=200, delivered=True
        )
        for i in range(60)
    )
    response = admin_client.get(page_of(endpoint))
    page = response.content.decode()
    revealed = f'<summary>Reveal the secret</summary><code id="webhook-secret">{endpoint.secret}</code>'
    assert f'<details class="webhook-secret">{revealed}' in page
    assert [a.webhook_id for a in response.context["attempts"]] == [f"evt_{i}" for i in range(59, 9, -1)]
    assert f"{ATTEMPTS}?endpoint__id__exact={endpoint.pk}" in page
    for operation in ("rotate", "replay-since", "replay-event", "disable", "test"):
        assert page_of(endpoint, operation) in page


def test_url_description_and_types_are_edited_and_audited_the_tenant_is_not(
    admin_client, endpoint, other_tenant
):
    response = admin_client.post(
        page_of(endpoint),
        {
            "url": "https://hooks.example.com/v2",
            "description": "v2",
            "event_types": ["user.created"],
            "tenant": other_tenant.pk,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (
        "https://hooks.example.com/v2",
        "v2",
        ["user.created"],
    )
    assert endpoint.tenant.slug == "acme"
    audit = AuditEvent.objects.get(action="webhook.updated")
    assert audit.changes == {
        "url": "https://hooks.example.com/v2",
        "description": "v2",
        "event_types": ["user.created"],
    }


def test_an_edit_writes_only_what_was_edited(admin_client, endpoint, monkeypatch):
    """A worker may move the cursor while the page is being saved: the save must not put it back."""
    read = directory.webhook_admin.WebhookEndpointAdmin.get_object

    def stale(self, request, object_id, from_field=None):
        obj = read(self, request, object_id, from_field)
        WebhookEndpoint.objects.filter(pk=obj.pk).update(cursor=41, failures=2)  # meanwhile
        return obj

    monkeypatch.setattr(directory.webhook_admin.WebhookEndpointAdmin, "get_object", stale)
    admin_client.post(page_of(endpoint), {"url": endpoint.url, "description": "edited"})
    saved = WebhookEndpoint.objects.get()
    assert (saved.description, saved.cursor, saved.failures) == ("edited", 41, 2)


def test_a_set_endpoints_types_stay_those_with_a_set_event(admin_client, tenant, system_actor):
    endpoint = webhook_endpoint_create(
        tenant=tenant, url="https://hooks.example.com/s", event_types=[], format="set", actor=system_actor
    )
    response = admin_client.post(page_of(endpoint), {"url": endpoint.url, "event_types": ["token.created"]})
    assert "The SET format has no event for token.created" in response.content.decode()
    assert WebhookEndpoint.objects.get().event_types == []


def test_an_edited_url_is_checked_too(admin_client, endpoint):
    response = admin_client.post(page_of(endpoint), {"url": "ftp://x", "description": ""})
    assert response.status_code == 200 and "The address must start with" in response.content.decode()
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/roster"


# The operations --------------------------------------------------------------------------------------


def test_a_test_event_to_a_refused_address_is_logged_with_why(admin_client, tenant, settings, system_actor):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    endpoint = webhook_endpoint_create(
        tenant=tenant, url="http://127.0.0.1:9/", event_types=[], format="standard", actor=system_actor
    )
    response = admin_client.post(page_of(endpoint, "test"), follow=True)
    attempt = WebhookAttempt.objects.get()
    assert (attempt.kind, attempt.event_type, attempt.status, attempt.delivered) == (
        "test",
        "webhook.test",
        None,
        False,
    )
    assert attempt.error.startswith("refused")
    [said] = messages_of(response)
    assert said.startswith(f"Test event {attempt.webhook_id} not delivered: no answer") and "refused" in said
    assert response.redirect_chain[-1][0] == page_of(endpoint) + "#webhook-attempts"
    assert attempt.webhook_id in response.content.decode(), "the page lists it"


def test_a_test_event_is_signed_with_the_secret(admin_client, tenant, receiver, system_actor):
    endpoint = webhook_endpoint_create(
        tenant=tenant, url=receiver.url, event_types=[], format="standard", actor=system_actor
    )
    response = admin_client.post(page_of(endpoint, "test"), follow=True)
    [got] = receiver.received
    headers, body = got.headers, got.body
    document = Webhook(endpoint.secret).verify(body, headers)
    assert document["type"] == "webhook.test" and document["tenant"]["slug"] == "acme"
    [said] = messages_of(response)
    assert said.startswith(f"Test event {headers['webhook-id']} delivered: answered 200 in ")
    assert WebhookAttempt.objects.get().answer == "ok"


def test_the_test_events_page_asks_first(admin_client, endpoint):
    response = admin_client.get(page_of(endpoint, "test"))
    assert response.status_code == 200 and "Send test event" in response.content.decode()
    assert not WebhookAttempt.objects.exists()


def test_rotating_shows_the_new_secret_and_keeps_the_old_one_signing_for_the_overlap(admin_client, endpoint):
    old = endpoint.secret
    assert (
        "The previous secret keeps signing for"
        in admin_client.get(page_of(endpoint, "rotate")).content.decode()
    )
    response = admin_client.post(page_of(endpoint, "rotate"), {"overlap": "48"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_") and endpoint.previous_secret == old
    assert timedelta(hours=47) < endpoint.previous_secret_until - timezone.now() <= timedelta(hours=48)
    page = response.content.decode()
    assert page.count(endpoint.secret) == 1 and old not in page
    assert "no-store" in response["Cache-Control"]
    [said] = messages_of(response)
    assert said.startswith(f"Rotated the signing secret of {endpoint}: the previous one signs too until")
    assert AuditEvent.objects.filter(action="webhook.secret_rotated").count() == 1


@pytest.mark.parametrize("overlap", ["721", "-1", "soon", ""])
def test_an_overlap_out_of_range_rotates_nothing(admin_client, endpoint, overlap):
    response = admin_client.post(page_of(endpoint, "rotate"), {"overlap": overlap})
    assert response.status_code == 200 and response.context["form"].errors["overlap"]
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_replay_since_moves_the_cursor_back_and_says_how_many(admin_client, tenant, system_actor):
    now = timezone.now()
    older = event(tenant, published_at=now - timedelta(hours=3))
    event(tenant, published_at=now - timedelta(hours=1))
    event(tenant, published_at=now - timedelta(minutes=1))
    endpoint = webhook_endpoint_create(
        tenant=tenant,
        url="https://hooks.example.com/r",
        event_types=[],
        format="standard",
        actor=system_actor,
    )
    since = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post(page_of(endpoint, "replay-since"), {"since": since}, follow=True)
    assert WebhookEndpoint.objects.get().cursor == older.pk
    [said] = messages_of(response)
    assert f"went back over 2 events, to those published since {since.replace('T', ' ')} UTC" in said
    assert AuditEvent.objects.get(action="webhook.replayed").changes["events"] == 2


@pytest.mark.parametrize(
    ("since", "error"),
    [
        ("", "This field is required."),
        ("yesterday", "Enter a valid date/time."),
        ((timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), "That is in the future"),
    ],
)
def test_replay_since_refuses_a_missing_bad_or_future_time(admin_client, tenant, endpoint, since, error):
    event(tenant)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(cursor=Event.objects.get().pk)
    response = admin_client.post(page_of(endpoint, "replay-since"), {"since": since})
    assert response.status_code == 200 and error in " ".join(response.context["form"].errors["since"])
    assert WebhookEndpoint.objects.get().cursor == Event.objects.get().pk
    assert not AuditEvent.objects.filter(action="webhook.replayed").exists()


def test_replaying_one_event_by_its_id_or_its_cursor(admin_client, tenant, endpoint):
    first, second = event(tenant), event(tenant, "user.deleted")
    response = admin_client.post(
        page_of(endpoint, "replay-event"), {"event": event_public_id(first)}, follow=True
    )
    [said] = messages_of(response)
    assert said.startswith(f"The event {event_public_id(first)} (user.created, #{first.pk}) is sent again")
    admin_client.post(page_of(endpoint, "replay-event"), {"event": str(second.pk)})
    assert sorted(WebhookReplay.objects.values_list("event_id", flat=True)) == [first.pk, second.pk]
    assert WebhookEndpoint.objects.get().cursor == endpoint.cursor, "the queue's place is unchanged"


@pytest.mark.parametrize(
    "name", ["evt_" + uuid.uuid4().hex, "evt_nothex", "999999", "²", "-1", "", "user.created", "9" * 30]
)
def test_an_unknown_event_is_a_form_error(admin_client, tenant, endpoint, name):
    event(tenant)
    response = admin_client.post(page_of(endpoint, "replay-event"), {"event": name})
    assert response.status_code == 200 and response.context["form"].errors["event"]
    assert not WebhookReplay.objects.exists()


def test_another_tenants_or_an_unsubscribed_event_is_refused(
    admin_client, tenant, other_tenant, system_actor
):
    endpoint = webhook_endpoint_create(
        tenant=tenant,
        url="https://hooks.example.com/s",
        event_types=["user.created"],
        format="set",
        actor=system_actor,
    )
    for refused, said in [
        (event(other_tenant), "another tenant's"),
        (event(tenant, "user.deleted"), "not subscribed to user.deleted"),
    ]:
        response = admin_client.post(page_of(endpoint, "replay-event"), {"event": str(refused.pk)})
        assert said in " ".join(response.context["form"].errors["event"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(event_types=[])
    response = admin_client.post(
        page_of(endpoint, "replay-event"), {"event": str(event(tenant, "token.created").pk)}
    )
    assert "The SET format has no event for token.created" in " ".join(
        response.context["form"].errors["event"]
    )
    assert not WebhookReplay.objects.exists()


def test_disabling_asks_then_disables_and_enabling_resumes(admin_client, endpoint):
    confirm = admin_client.get(page_of(endpoint, "disable"))
    assert "Yes, disable it" in confirm.content.decode()
    assert WebhookEndpoint.objects.get().enabled, "asking changed nothing"
    response = admin_client.post(page_of(endpoint, "disable"), follow=True)
    disabled = WebhookEndpoint.objects.get()
    assert (disabled.enabled, disabled.disabled_reason) == (False, "disabled by admin admin")
    assert messages_of(response) == [
        f"Disabled {endpoint}: its events wait in its queue until it is enabled again."
    ]
    assert "disabled on" in admin_client.get(ADMIN).content.decode()

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now(), failures=3)
    response = admin_client.post(page_of(endpoint, "enable"), follow=True)
    enabled = WebhookEndpoint.objects.get()
    assert (enabled.enabled, enabled.disabled_reason, enabled.failing_since, enabled.failures) == (
        True,
        "",
        None,
        0,
    )
    assert messages_of(response) == [f"Enabled {endpoint}: delivery resumes from its queue."]
    response = admin_client.post(page_of(endpoint, "enable"), follow=True)
    assert messages_of(response) == [f"{endpoint} is enabled already."]
    actions = list(
        AuditEvent.objects.filter(target_type="webhook").values_list("action", flat=True).order_by("pk")
    )
    assert actions == ["webhook.created", "webhook.disabled", "webhook.enabled"]


# Permissions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "data"),
    [
        ("test", {}),
        ("rotate", {"overlap": "1"}),
        ("replay-since", {"since": "2020-01-01T00:00"}),
        ("replay-event", {"event": "1"}),
        ("disable", {}),
        ("enable", {}),
    ],
)
def test_a_viewer_may_not_operate_an_endpoint(viewer, tenant, endpoint, operation, data):
    event(tenant)
    before = WebhookEndpoint.objects.values().get()
    assert viewer.post(page_of(endpoint, operation), data).status_code == 403
    assert viewer.get(page_of(endpoint, operation)).status_code == 403
    assert WebhookEndpoint.objects.values().get() == before
    assert not WebhookAttempt.objects.exists() and not WebhookReplay.objects.exists()
    assert AuditEvent.objects.filter(target_type="webhook").count() == 1  # its creation


def test_a_viewer_sees_the_page_without_the_secret_or_the_buttons(viewer, endpoint):
    page = viewer.get(page_of(endpoint)).content.decode()
    assert "https://hooks.example.com/roster" in page
    assert endpoint.secret not in page and "Send test event" not in page
    assert page_of(endpoint, "rotate") not in page
    assert viewer.get(ADD).status_code == 403


def test_only_a_superuser_may_delete_an_endpoint(client, admin_client, django_user_model, endpoint):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_webhookendpoint"))
    client.force_login(staff)
    assert client.get(page_of(endpoint, "delete")).status_code == 403
    assert client.post(page_of(endpoint, "delete"), {"post": "yes"}).status_code == 403
    assert WebhookEndpoint.objects.exists()

    assert admin_client.post(page_of(endpoint, "delete"), {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.get(action="webhook.deleted").target_label == endpoint.url


# The lists ------------------------------------------------------------------------------------------


def test_the_list_shows_state_queue_and_last_attempt(
    admin_client, tenant, other_tenant, endpoint, system_actor
):
    Event.objects.bulk_create(
        Event(type="user.created", tenant=tenant, occurred_at=timezone.now(), payload={}) for _ in range(1005)
    )
    quiet = webhook_endpoint_create(
        tenant=other_tenant,
        url="https://hooks.example.com/quiet",
        event_types=["user.created"],
        format="standard",
        actor=system_actor,
    )
    WebhookAttempt.objects.create(
        endpoint=endpoint, webhook_id="evt_a", event_type="user.created", status=503
    )
    WebhookAttempt.objects.create(
        endpoint=endpoint, webhook_id="evt_b", event_type="user.created", error="timed out"
    )
    response = admin_client.get(ADMIN)
    rows = {e.pk: e for e in response.context["cl"].result_list}
    admin = response.context["cl"].model_admin
    assert admin.queue(rows[endpoint.pk]) == f"#{endpoint.cursor}, 1000+ events after it"
    assert admin.queue(rows[quiet.pk]) == f"#{quiet.cursor}, 0 events after it"
    assert admin.last_attempt(rows[endpoint.pk]) == "timed out" and admin.last_attempt(rows[quiet.pk]) == "-"
    assert admin.subscribed(rows[quiet.pk]) == "user.created" and admin.subscribed(rows[endpoint.pk]) == "all"
    assert admin.state(rows[endpoint.pk]) == "enabled"
    assert admin.format_name(rows[endpoint.pk]) == "Standard Webhooks"
    assert [e.pk for e in admin_client.get(ADMIN + "?q=quiet").context["cl"].result_list] == [quiet.pk]
    assert [
        e.pk for e in admin_client.get(ADMIN + f"?tenant__id__exact={tenant.pk}").context["cl"].result_list
    ] == [endpoint.pk]


def test_the_lists_query_count_does_not_grow_with_its_endpoints(
    admin_client, tenant, system_actor, django_assert_max_num_queries
):
    def make(n):
        for i in range(n):
            webhook_endpoint_create(
                tenant=tenant,
                url=f"https://h{i}.example.com/",
                event_types=[],
                format="standard",
                actor=system_actor,
            )

    make(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        admin_client.get(ADMIN)
    make(8)
    with django_assert_max_num_queries(len(two)):
        admin_client.get(ADMIN)


def test_the_attempts_list_pages_by_100_and_filters_by_endpoint(admin_client, tenant, endpoint, system_actor):
    other = webhook_endpoint_create(
        tenant=tenant, url="https://other.example.com/", event_types=[], format="standard", actor=system_actor
    )
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(endpoint=endpoint, webhook_id=f"evt_{i}", event_type="user.created", status=200)
        for i in range(150)
    )
    WebhookAttempt.objects.create(
        endpoint=other, webhook_id="evt_other", event_type="user.created", status=200
    )
    url = f"{ATTEMPTS}?endpoint__id__exact={endpoint.pk}"
    first = admin_client.get(url)
    assert [a.webhook_id for a in first.context["cl"].result_list] == [f"evt_{i}" for i in range(149, 49, -1)]
    second = admin_client.get(url + "&p=2")
    assert [a.webhook_id for a in second.context["cl"].result_list] == [f"evt_{i}" for i in range(49, -1, -1)]
    assert admin_client.get(ATTEMPTS + "add/").status_code == 403
    attempt = WebhookAttempt.objects.first()
    assert admin_client.post(f"{ATTEMPTS}{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WebhookAttempt.objects.count() == 151


# Bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", "²", "99999999999999999999", "-1", "0", "1.5"])
@pytest.mark.parametrize(
    "operation", ["change", "test", "rotate", "replay-since", "replay-event", "enable", "disable"]
)
def test_a_bad_id_is_a_message_not_a_500(admin_client, endpoint, bad, operation):
    for method in (admin_client.get, admin_client.post):
        response = method(f"{ADMIN}{bad}/{operation}/", follow=True)
        assert response.status_code == 200, (method, response.status_code)
        assert response.redirect_chain, "sent elsewhere"
        assert any(bad in said for said in messages_of(response)), messages_of(response)
    assert WebhookEndpoint.objects.get().secret == endpoint.secret
    assert not WebhookAttempt.objects.exists()


def test_a_bad_page_of_attempts_is_no_500(admin_client, endpoint):
    for query in (
        "?p=abc",
        "?p=999",
        "?endpoint__id__exact=abc",
        "?endpoint__id__exact=99999999999999999999",
    ):
        assert admin_client.get(ATTEMPTS + query).status_code in (200, 302), query
