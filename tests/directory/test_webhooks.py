"""Webhook delivery (issue 22): signed by the Standard Webhooks scheme and verified by the library's
own verifier (during a rotation too), in order, retried with the same webhook-id, disabled after
days of failure, SSRF refused, replays, and the SET format checked against RFC 9967's claims."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from directory import security_events
from directory.models import AuditEvent, Event, WebhookAttempt, WebhookEndpoint, WebhookFormat, WebhookReplay
from directory.services import webhooks
from directory.services.audit import Actor
from directory.services.events import event_public_id, events_sequence
from directory.services.tokens import token_create
from directory.services.webhooks import (
    endpoint_set_kid,
    webhook_deliver,
    webhook_enable,
    webhook_endpoint_create,
    webhook_replay_event,
    webhook_replay_since,
    webhook_secret_rotate,
    webhook_send_test,
    webhooks_sweep,
)
from tests.scim_api.conftest import Scim, scim, token, token_pair  # noqa: F401
from tests.support.receiver import receiver_start

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver, server = receiver_start()
    yield receiver
    server.shutdown()


def endpoint_for(receiver, tenant=None, **kwargs) -> WebhookEndpoint:
    fields = {"event_types": [], "format": WebhookFormat.STANDARD} | kwargs
    return webhook_endpoint_create(tenant=tenant, url=receiver.url, actor=ACTOR, **fields)


def publish(tenant, *names) -> list[Event]:
    for name in names:
        token_create(tenant=tenant, name=name, actor=ACTOR)
    events_sequence()
    return list(Event.objects.order_by("pk"))


def labels(receiver) -> list[str]:
    return [json.loads(r.body)["data"]["token"]["label"].split(" ")[0] for r in receiver.received]


def test_events_arrive_in_order_signed_for_the_library_s_verifier(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    events = publish(tenant, "a", "b", "c")
    assert webhook_deliver(endpoint.pk) == 3
    assert labels(receiver) == ["a", "b", "c"]
    for got, event in zip(receiver.received, events, strict=True):
        assert Webhook(endpoint.secret).verify(got.body, got.headers)["id"] == event_public_id(event)
        assert got.headers["webhook-id"] == event_public_id(event)
        assert got.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint.secret).verify(got.body.replace(b'"a', b'"z'), got.headers)
    endpoint.refresh_from_db()
    assert endpoint.cursor == events[-1].pk and endpoint.leased_until is None
    assert WebhookAttempt.objects.filter(endpoint=endpoint, delivered=True).count() == 3
    assert webhook_deliver(endpoint.pk) == 0  # nothing more
    assert len(receiver.received) == 3


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    old = endpoint.secret
    new = webhook_secret_rotate(endpoint=endpoint, actor=ACTOR, overlap=timedelta(hours=1))
    publish(tenant, "a")
    webhook_deliver(endpoint.pk)
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(got.body, got.headers) and Webhook(new).verify(got.body, got.headers)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now())
    publish(tenant, "b")
    webhook_deliver(endpoint.pk)
    got = receiver.received[-1]
    assert Webhook(new).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(got.body, got.headers)


def test_a_failing_receiver_holds_its_queue_and_is_retried_with_the_same_id(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    events = publish(tenant, "a", "b")
    receiver.status = 503
    assert webhook_deliver(endpoint.pk) == 0
    endpoint.refresh_from_db()
    assert endpoint.cursor < events[0].pk and endpoint.failures == 1 and endpoint.failing_since
    assert timedelta(seconds=4) < endpoint.next_attempt_at - timezone.now() < timedelta(seconds=6)
    assert webhook_deliver(endpoint.pk) == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(next_attempt_at=timezone.now())
    assert webhook_deliver(endpoint.pk) == 0
    endpoint.refresh_from_db()
    assert endpoint.failures == 2
    assert timedelta(minutes=4) < endpoint.next_attempt_at - timezone.now() < timedelta(minutes=6)

    receiver.status = 200
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(next_attempt_at=timezone.now())
    assert webhook_deliver(endpoint.pk) == 2
    assert receiver.ids() == [event_public_id(events[0])] * 3 + [event_public_id(events[1])]
    endpoint.refresh_from_db()
    assert (endpoint.failures, endpoint.failing_since, endpoint.next_attempt_at) == (0, None, None)
    statuses = list(
        WebhookAttempt.objects.filter(endpoint=endpoint).order_by("pk").values_list("status", flat=True)
    )
    assert statuses == [503, 503, 200, 200]


def test_a_failing_endpoint_does_not_hold_another(receiver, tenant, settings):
    failing = webhook_endpoint_create(
        tenant=tenant, url="http://127.0.0.1:9/gone", event_types=[], format="standard", actor=ACTOR
    )
    working = endpoint_for(receiver, tenant)
    publish(tenant, "a", "b")
    assert webhook_deliver(failing.pk) == 0
    assert webhook_deliver(working.pk) == 2
    attempt = WebhookAttempt.objects.get(endpoint=failing)
    assert attempt.status is None and attempt.error


def test_retries_span_three_days_then_five_days_of_failure_disable_and_alert(
    receiver, tenant, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    waits = [timedelta(seconds=s) for s in settings.WEBHOOK_RETRY_SCHEDULE]
    assert sum(waits, timedelta()) >= timedelta(days=3)
    endpoint = endpoint_for(receiver, tenant)
    publish(tenant, "a")
    receiver.status = 500
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=4, hours=23)
    )
    webhook_deliver(endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5), next_attempt_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliver(endpoint.pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "failing since" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(action="webhook.disabled", target_id=str(endpoint.pk)).exists()
    assert len(mail.outbox) == 1 and receiver.url in mail.outbox[0].subject
    assert webhook_deliver(endpoint.pk) == 0  # disabled: nothing sent

    receiver.status = 200
    webhook_enable(endpoint=endpoint, actor=ACTOR, enabled=True)
    assert webhook_deliver(endpoint.pk) == 1  # resumes where it stopped


def test_410_gone_disables_at_once(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    publish(tenant, "a")
    receiver.status = 410
    webhook_deliver(endpoint.pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason


def test_addresses_on_the_servers_own_networks_are_refused(tenant, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    for url in ("http://127.0.0.1:8000/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/x"):
        endpoint = webhook_endpoint_create(
            tenant=tenant, url=url, event_types=[], format="standard", actor=ACTOR
        )
        attempt = webhook_send_test(endpoint=endpoint, actor=ACTOR)
        assert attempt.status is None and "refused" in attempt.error, (url, attempt.error)


def test_a_tenant_s_endpoint_gets_its_tenant_s_subscribed_events_only(receiver, tenant, other_tenant):
    endpoint = endpoint_for(receiver, tenant, event_types=["token.revoked"])
    everyone = endpoint_for(receiver, None)
    publish(tenant, "a")
    publish(other_tenant, "b")
    assert webhook_deliver(endpoint.pk) == 0
    endpoint.refresh_from_db()
    assert endpoint.cursor == Event.objects.order_by("-pk").first().pk  # passed what is not for it
    assert webhook_deliver(everyone.pk) == 2


def test_replay_one_event_and_replay_since(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    events = publish(tenant, "a", "b", "c")
    webhook_deliver(endpoint.pk)
    webhook_replay_event(endpoint=endpoint, actor=ACTOR, event=events[0])
    assert webhook_deliver(endpoint.pk) == 0
    assert receiver.ids()[-1] == event_public_id(events[0])
    assert not WebhookReplay.objects.exists()
    assert WebhookAttempt.objects.filter(kind="replay").count() == 1

    Event.objects.filter(pk=events[0].pk).update(published_at=timezone.now() - timedelta(hours=2))
    assert (
        webhook_replay_since(endpoint=endpoint, actor=ACTOR, since=timezone.now() - timedelta(hours=1)) == 2
    )
    assert webhook_deliver(endpoint.pk) == 2
    assert receiver.ids()[-2:] == [event_public_id(e) for e in events[1:]]


def test_a_worker_holding_the_endpoint_keeps_others_out(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    publish(tenant, "a")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(leased_until=timezone.now() + timedelta(seconds=30))
    assert webhook_deliver(endpoint.pk) == 0 and receiver.received == []
    assert webhooks_sweep() == 0  # being delivered to: not woken either
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert webhooks_sweep() == 1
    assert webhook_deliver(endpoint.pk) == 1


def test_the_test_event_is_signed_and_logged_not_stored(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    attempt = webhook_send_test(endpoint=endpoint, actor=ACTOR)
    assert attempt.delivered and attempt.kind == "test"
    got = receiver.received[0]
    assert Webhook(endpoint.secret).verify(got.body, got.headers)["type"] == "webhook.test"
    assert not Event.objects.filter(type="webhook.test").exists()


def test_the_set_format_carries_rfc_9967_s_claims(receiver, scim, tenant):  # noqa: F811
    endpoint = endpoint_for(receiver, tenant, format=WebhookFormat.SET)
    user = scim.create_user("ada@example.com", externalId="ada-1")
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    events_sequence()
    receiver.status = 202
    assert webhook_deliver(endpoint.pk) == 2  # the token.created event has no SET form: skipped
    jwk = security_events.set_public_jwk(endpoint.set_private_key, endpoint_set_kid(endpoint))
    claims = []
    for got in receiver.received:
        assert got.headers["content-type"] == "application/secevent+jwt"
        claims.append(
            security_events.set_decode(
                got.body.decode(), public_jwk=jwk, issuer=_issuer(), audience=receiver.url
            )
        )
    created, deactivated = claims
    for claim in claims:
        assert set(security_events.REQUIRED_CLAIMS) <= set(claim) and "sub" not in claim
        assert claim["sub_id"] == {"format": "scim", "uri": f"/Users/{user['id']}", "externalId": "ada-1"}
    assert list(created["events"]) == ["urn:ietf:params:scim:event:prov:create:full"]
    full = created["events"]["urn:ietf:params:scim:event:prov:create:full"]
    assert full["data"]["userName"] == "ada@example.com" and full["version"] == 'W/"1"'
    assert deactivated["events"] == {"urn:ietf:params:scim:event:prov:deactivate": {}}
    first = Event.objects.filter(type="user.created").get()
    assert created["jti"] == first.uid.hex and created["txn"] == first.txn

    # A retry carries the same claims (jti, iat, txn).
    receiver.received.clear()
    webhook_replay_event(endpoint=endpoint, actor=ACTOR, event=first)
    webhook_deliver(endpoint.pk)
    again = security_events.set_decode(
        receiver.received[0].body.decode(), public_jwk=jwk, issuer=_issuer(), audience=receiver.url
    )
    assert again == created


def _issuer() -> str:
    from django.conf import settings

    return settings.ROSTER_BASE_URL.rstrip("/") + "/scim/v2"


def test_service_provider_config_advertises_the_set_event_uris(scim):  # noqa: F811
    config = scim.get("/ServiceProviderConfig").json()
    uris = config["securityEvents"]["eventUris"]
    assert config["securityEvents"]["asyncRequest"] == "none"
    assert set(uris) <= set(security_events.EVENT_URIS)
    assert "urn:ietf:params:scim:event:prov:create:full" in uris
    schema = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig").json()
    assert "securityEvents" in {a["name"] for a in schema["attributes"]}


def test_a_set_endpoint_s_test_event_is_a_set(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant, format=WebhookFormat.SET)
    receiver.status = 202
    assert webhook_send_test(endpoint=endpoint, actor=ACTOR).delivered
    got = receiver.received[0]
    assert got.headers["content-type"] == "application/secevent+jwt"
    jwk = security_events.set_public_jwk(endpoint.set_private_key, endpoint_set_kid(endpoint))
    claims = security_events.set_decode(
        got.body.decode(), public_jwk=jwk, issuer=_issuer(), audience=receiver.url
    )
    assert list(claims["events"]) == ["urn:roster:event:webhook.test"]


def test_the_services_refuse_what_an_endpoint_cannot_take(receiver, tenant, other_tenant):
    with pytest.raises(ValueError, match="Unknown event types"):
        endpoint_for(receiver, tenant, event_types=["user.exploded"])
    with pytest.raises(ValueError, match="no RFC 9967 event"):
        endpoint_for(receiver, tenant, event_types=["token.created"], format=WebhookFormat.SET)
    with pytest.raises(ValueError, match="must start with"):
        webhook_endpoint_create(
            tenant=tenant, url="ftp://x/y", event_types=[], format="standard", actor=ACTOR
        )
    endpoint = endpoint_for(receiver, tenant, event_types=["token.revoked"])
    [theirs] = publish(other_tenant, "b")
    with pytest.raises(ValueError, match="not one this endpoint receives"):
        webhook_replay_event(endpoint=endpoint, actor=ACTOR, event=theirs)
    assert not WebhookReplay.objects.exists()


def test_disabling_or_replaying_stops_a_delivery_under_way(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    events = publish(tenant, "a", "b")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(cursor=events[-1].pk)

    lease = uuid.uuid4()
    assert webhooks._take_lease(endpoint.pk, lease)
    webhook_replay_since(endpoint=endpoint, actor=ACTOR, since=timezone.now() - timedelta(hours=1))
    endpoint.refresh_from_db()
    assert not webhooks._keep(endpoint, lease, events[-1].pk, [])  # the worker's write-back refused
    endpoint.refresh_from_db()
    assert endpoint.cursor < events[0].pk
    assert webhooks._take_lease(endpoint.pk, lease)
    webhook_enable(endpoint=endpoint, actor=ACTOR, enabled=False)
    assert not webhooks._keep(endpoint, lease, events[-1].pk, [])


def test_an_answer_with_a_nul_is_recorded_and_the_queue_moves_on(receiver, tenant, monkeypatch):
    from directory.outbound import Answer

    endpoint = endpoint_for(receiver, tenant)
    publish(tenant, "a", "b")
    monkeypatch.setattr(webhooks, "outbound_post", lambda *a, **k: Answer(200, 1.0, body="ok\x00then"))
    assert webhook_deliver(endpoint.pk) == 2
    assert WebhookAttempt.objects.filter(endpoint=endpoint, answer="ok\ufffdthen").count() == 2
    attempt = webhook_send_test(endpoint=endpoint, actor=ACTOR)
    assert attempt.answer == "ok\ufffdthen"


def test_progress_between_failures_starts_the_count_again(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    publish(tenant, "a", "b")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=4, hours=23), failures=8
    )
    receiver.status = 200
    first = Event.objects.order_by("pk").first()

    def one_then_down(*args, **kwargs):
        answer = real(*args, **kwargs)
        receiver.status = 503
        return answer

    real = webhooks.outbound_post
    webhooks.outbound_post = one_then_down
    try:
        assert webhook_deliver(endpoint.pk) == 1
    finally:
        webhooks.outbound_post = real
    endpoint.refresh_from_db()
    assert endpoint.cursor == first.pk and endpoint.enabled
    assert endpoint.failures == 1 and endpoint.failing_since > timezone.now() - timedelta(minutes=1)
    assert endpoint.next_attempt_at - timezone.now() < timedelta(seconds=6)  # the first wait, not a day


def test_a_refused_replay_backs_off_like_an_event(receiver, tenant):
    endpoint = endpoint_for(receiver, tenant)
    [event] = publish(tenant, "a")
    webhook_deliver(endpoint.pk)
    webhook_replay_event(endpoint=endpoint, actor=ACTOR, event=event)
    receiver.status = 400
    assert webhook_deliver(endpoint.pk) == 0
    endpoint.refresh_from_db()
    assert endpoint.failures == 1 and endpoint.next_attempt_at > timezone.now()
    assert WebhookReplay.objects.count() == 1
    assert webhooks_sweep() == 0  # not due: not woken every few seconds


def test_no_cookie_a_receiver_sets_is_sent_back(receiver, tenant, other_tenant):
    """The session is kept from run to run (and shared by endpoints): a cookie would travel from one
    tenant's endpoint to another's on the same host."""
    endpoint_for(receiver, tenant)
    theirs = endpoint_for(receiver, other_tenant)
    publish(tenant, "a")
    publish(other_tenant, "b")
    for endpoint in WebhookEndpoint.objects.order_by("pk"):
        webhook_deliver(endpoint.pk)
    assert len(receiver.received) == 2 and theirs.pk
    assert all("cookie" not in got.headers for got in receiver.received)
