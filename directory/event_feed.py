"""``GET /api/events``: the host application's feed of events (issue 22), in commit order.

``Authorization: Bearer <API key>`` (``manage.py create_api_key``; not a SCIM token). Parameters:
``after`` (the cursor of the last event read; omitted: from the oldest kept), ``types`` (comma-
separated event types), ``limit`` (1-1000, default 100), and, for a key of every tenant,
``tenant`` (a slug). The answer: ``{"data": [...], "next_cursor": "...", "has_more": ...}``;
resume with ``after=<next_cursor>``. A cursor the retention has passed is 410 Gone: events after
it were deleted unread (``EVENTS_RETENTION_DAYS``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from directory.models import ApiKey, Tenant
from directory.services.events import (
    EVENT_TYPES,
    CursorExpired,
    CursorUnknown,
    event_document,
    events_after,
    events_sequence,
)

MAX_LIMIT = 1000
logger = logging.getLogger(__name__)
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _error(status: int, detail: str, **more) -> JsonResponse:
    response = JsonResponse({"status": status, "detail": detail, **more}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="roster-events"'
    return response


def _key(request: HttpRequest) -> ApiKey | str:
    """The request's usable API key, or why there is none."""
    scheme, _, plaintext = request.headers.get("Authorization", "").partition(" ")
    plaintext = plaintext.strip()
    if scheme.lower() != "bearer" or not plaintext:
        return "Send a host application API key as 'Authorization: Bearer <key>' (manage.py create_api_key)."
    key = ApiKey.objects.find(plaintext) if len(plaintext) <= 200 else None
    if key is None:
        return "The API key is not valid (SCIM tokens are not API keys)."
    if not key.is_usable():
        return "The API key is revoked or expired, or its tenant is deactivated."
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@require_GET
def events_feed(request: HttpRequest) -> JsonResponse:
    key = _key(request)
    if isinstance(key, str):
        return _error(401, key)
    params = request.GET
    after_text = params.get("after", "").strip()
    if after_text and (not after_text.isascii() or not after_text.isdigit() or len(after_text) > 19):
        return _error(400, f"after={after_text[:40]!r} is not a cursor: give next_cursor of the last page.")
    types = [t.strip() for t in params.get("types", "").split(",") if t.strip()]
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        return _error(400, f"Unknown event types {unknown}; the types are: {', '.join(EVENT_TYPES)}.")
    limit_text = params.get("limit", "100").strip()
    if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 4) or not (
        1 <= int(limit_text) <= MAX_LIMIT
    ):
        return _error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    tenant = key.tenant
    slug = params.get("tenant", "").strip()
    if slug:
        if tenant is not None and slug != tenant.slug:
            return _error(403, f"This API key reads the events of tenant {tenant.slug!r} only.")
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            return _error(404, f"There is no tenant {slug[:64]!r}.")
    try:
        events_sequence()  # what has committed by now, if no other sequencer is at it
    except DatabaseError:  # the feed still serves what is published; the worker's runs will say why
        logger.exception("the feed's sequencing failed")
    try:
        page, cursor = events_after(
            after=int(after_text) if after_text else None, tenant=tenant, types=types, limit=int(limit_text)
        )
    except CursorExpired as expired:
        return _error(
            410,
            f"Events after cursor {after_text} were deleted after {EVENTS_RETENTION_TEXT}: read again from "
            "the start (omit after) and reconcile.",
            oldest_cursor=str(expired.args[1]),
        )
    except CursorUnknown as past:
        return _error(
            400,
            f"Cursor {after_text} is past the last event ({past.args[1]}): it is not one this server "
            "gave. Read from the start (omit after) and reconcile.",
        )
    return JsonResponse(
        {
            "data": [event_document(event) for event in page],
            "next_cursor": str(cursor),
            "has_more": len(page) == int(limit_text),
        }
    )


EVENTS_RETENTION_TEXT = "the retention (EVENTS_RETENTION_DAYS)"
