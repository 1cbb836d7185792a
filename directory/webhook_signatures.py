"""Signing outbound webhooks by the Standard Webhooks scheme (standardwebhooks.com; the
``standardwebhooks`` library signs, so that a receiver's own copy of it verifies): the headers
``webhook-id`` (the event's id, the same on every retry: the receiver's key to de-duplicate),
``webhook-timestamp`` and ``webhook-signature``. The library's verifier accepts a timestamp within 5
minutes only, so each attempt is signed anew.

Secrets are ``whsec_`` + base64 of 32 random bytes, one per endpoint. While an endpoint's secret is
rotated, every delivery is signed with each secret it has (the new first), space-separated, as the
scheme says: a receiver that still has the old secret, and one that has the new, both verify.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)


def webhook_secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_headers(
    *, message_id: str, body: bytes, secrets_in_use: Sequence[str], at: datetime | None = None
) -> dict[str, str]:
    """The headers that sign ``body`` for ``message_id`` at ``at`` (now), one signature per secret
    in ``secrets_in_use`` (the new one first during a rotation). The scheme forbids a ``.`` in the
    id (it separates the signed parts)."""
    if not secrets_in_use:
        raise ValueError("An endpoint signs with at least one secret.")
    if "." in message_id or not message_id:
        raise ValueError("A webhook id is not empty and has no '.' (Standard Webhooks).")
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in secrets_in_use
        ),
    }
