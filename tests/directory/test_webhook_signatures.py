"""Standard Webhooks signatures (directory/webhook_signatures.py), checked by the library's own
verifier, as a receiver would: during a rotation either secret verifies, a stranger's does not, a
stale or altered delivery does not."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from directory.webhook_signatures import webhook_headers, webhook_secret_new

BODY = json.dumps({"type": "user.created", "data": {"id": "u1"}}, separators=(",", ":")).encode()


def test_a_receiver_verifies_with_the_librarys_own_verifier():
    secret = webhook_secret_new()
    assert secret.startswith("whsec_")
    headers = webhook_headers(message_id="evt_1", body=BODY, secrets_in_use=[secret])
    assert Webhook(secret).verify(BODY, headers) == {"type": "user.created", "data": {"id": "u1"}}
    assert headers["webhook-id"] == "evt_1" and headers["webhook-signature"].startswith("v1,")


def test_during_a_rotation_either_secret_verifies_and_a_strangers_does_not():
    old, new = webhook_secret_new(), webhook_secret_new()
    headers = webhook_headers(message_id="evt_2", body=BODY, secrets_in_use=[new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret_new()).verify(BODY, headers)


def test_an_altered_body_or_a_stale_delivery_does_not_verify():
    secret = webhook_secret_new()
    headers = webhook_headers(message_id="evt_3", body=BODY, secrets_in_use=[secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"u1", b"u2"), headers)
    stale = webhook_headers(
        message_id="evt_3", body=BODY, secrets_in_use=[secret], at=datetime.now(UTC) - timedelta(minutes=6)
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)  # a retry is signed anew, with the same id


@pytest.mark.parametrize("message_id", ["", "evt.1"])
def test_an_id_the_scheme_cannot_sign_is_refused(message_id):
    with pytest.raises(ValueError, match="webhook id"):
        webhook_headers(message_id=message_id, body=BODY, secrets_in_use=[webhook_secret_new()])


def test_an_endpoint_without_a_secret_cannot_sign():
    with pytest.raises(ValueError, match="at least one secret"):
        webhook_headers(message_id="evt_4", body=BODY, secrets_in_use=[])
