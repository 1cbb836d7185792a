"""Delivering events to webhook endpoints (issue 22): in commit order per endpoint, at least once,
signed, retried for days, and every attempt logged.

**Order and exclusivity.** Each endpoint has a ``cursor``: the id of the last event it has been
sent (or that was not meant for it). One worker at a time delivers to an endpoint, holding a lease
(``leased_until``, renewed as it goes): not a row lock, whose open transaction would hold back the
sequencer's horizon for as long as a receiver takes. The worker sends the events after the cursor
one by one, in id order, and moves the cursor on as they are accepted. An event the receiver does
not accept stops the endpoint's queue, and only that one: it is tried again after a backoff, the
same ``webhook-id`` each time (``_retry_after``: 5 s up to a day, over three days), while other
endpoints go on.

**Nothing lost, nothing skipped.** The cursor moves only after the receiver answered 2xx, and only
if the lease is still this worker's: a worker killed mid-delivery leaves the cursor at the last
event it knew accepted; its lease runs out (``WEBHOOK_LEASE_SECONDS``) and the next worker re-sends
from there (at least once: receivers de-duplicate by ``webhook-id``). The database is the queue: a
lost message only delays; beat's ``events-sequence`` sweep wakes every endpoint with events due.

**Disabled after 5 days** of failing (``WEBHOOK_DISABLE_AFTER_HOURS``), or at once when a receiver
answers 410 Gone (as the scheme says); an administrator is told (``webhook.disabled`` audit event,
and a mail to the ADMINS). Re-enabling resumes from the cursor.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from directory import security_events
from directory.models import Event, WebhookAttempt, WebhookEndpoint, WebhookFormat, WebhookReplay
from directory.outbound import Answer, outbound_post, outbound_session, outbound_url_problem
from directory.services.audit import Actor, audit_record
from directory.services.events import (
    EVENT_TYPES,
    NUDGE_EXPIRES,
    TEST_TYPE,
    event_document,
    event_public_id,
    events_last_id,
    scim_base_url,
)
from directory.webhook_signatures import webhook_headers, webhook_secret_new

logger = logging.getLogger(__name__)


def _retry_after(failures: int) -> timedelta:
    """The wait after the ``failures``-th failure in a row (WEBHOOK_RETRY_SCHEDULE: by default
    Standard Webhooks' example, spec l.252-271: 5 s up to a day, 3 days and 3 hours in all, then
    daily), with 10 % jitter."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    seconds = schedule[min(failures - 1, len(schedule) - 1)]
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 (jitter, not a secret)


def _lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def _disable_after() -> timedelta:
    return timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)


RUN_SECONDS = 25  # a delivery run hands over (re-enqueues itself) after this long
BATCH = 200
MAX_ROTATION_OVERLAP = timedelta(days=30)

# RFC 9967 event URIs of the event types that have one (security_events' docstring).
SET_EVENTS = {
    "user.created": "prov:create:full",
    "group.created": "prov:create:full",
    "user.updated": "prov:put:full",
    "group.updated": "prov:put:full",
    "user.suspended": "prov:deactivate",
    "user.reactivated": "prov:activate",
    "user.deleted": "prov:delete",
    "group.deleted": "prov:delete",
    "group.user_added": "prov:patch:notice",
    "group.user_removed": "prov:patch:notice",
}


# Endpoints ---------------------------------------------------------------------------------------


def webhook_endpoint_create(
    *, tenant, url: str, event_types: list[str], format: str, actor: Actor, description: str = ""
) -> WebhookEndpoint:
    """A new endpoint, with its own secret (and SET key), receiving the events published from now
    on (its cursor starts at the last one). Raises ``ValueError`` saying what is wrong with
    ``url`` or ``event_types``."""
    problem = outbound_url_problem(url) or webhook_types_problem(event_types, format)
    if problem:
        raise ValueError(problem)
    event_types = sorted(set(event_types))
    last = events_last_id()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            url=url,
            event_types=event_types,
            format=format,
            description=description,
            secret=webhook_secret_new(),
            set_private_key=security_events.set_key_new() if format == WebhookFormat.SET else "",
            created_by=actor.admin,
            cursor=last,
        )
        _audit(endpoint, actor, "webhook.created", {"url": url, "format": format, "event_types": event_types})
    return endpoint


def webhook_types_problem(event_types: Iterable[str], format: str) -> str:
    """Why an endpoint of ``format`` cannot subscribe to ``event_types`` (empty when it can)."""
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        return f"Unknown event types: {', '.join(unknown)}."
    if format == WebhookFormat.SET:
        without = sorted(set(event_types) - set(SET_EVENTS))
        if without:
            listed = ", ".join(without)
            return f"These types have no RFC 9967 event, so a SET endpoint cannot receive them: {listed}."
    return ""


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: Actor, fields: list[str]) -> None:
    """Write only the fields edited (url, description, event types, audience): a full save would
    put back the delivery state a worker may have moved since the endpoint was read."""
    if not fields:
        return
    problem = outbound_url_problem(endpoint.url) or webhook_types_problem(
        endpoint.event_types, endpoint.format
    )
    if problem:
        raise ValueError(problem)
    with transaction.atomic():
        endpoint.save(update_fields=fields)
        _audit(endpoint, actor, "webhook.updated", {field: getattr(endpoint, field) for field in fields})


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    with transaction.atomic():
        _audit(endpoint, actor, "webhook.deleted", {"url": endpoint.url})
        endpoint.delete()


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor, overlap: timedelta) -> str:
    """A new secret; the old one still signs (both signatures sent) for ``overlap`` (at most 30
    days). A rotation during another's overlap ends that overlap: the oldest secret stops signing.
    Returns the new secret."""
    if overlap < timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise ValueError(f"The overlap is between 0 and {MAX_ROTATION_OVERLAP.days} days.")
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret, locked.secret = locked.secret, webhook_secret_new()
        locked.previous_secret_until = timezone.now() + overlap
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        _audit(
            locked,
            actor,
            "webhook.secret_rotated",
            {"overlap_until": locked.previous_secret_until.isoformat()},
        )
    return locked.secret


def webhook_enable(*, endpoint: WebhookEndpoint, actor: Actor, enabled: bool) -> None:
    fields: dict[str, Any] = {"enabled": enabled}
    if enabled:
        fields |= {"disabled_at": None, "disabled_reason": "", "failing_since": None, "failures": 0}
        fields |= {"next_attempt_at": None}
    else:  # a delivery under way stops at its next step (its lease is gone)
        fields |= {"disabled_at": timezone.now(), "disabled_reason": f"disabled by {actor.label}"}
        fields |= {"lease": None, "leased_until": None}
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        _audit(endpoint, actor, "webhook.enabled" if enabled else "webhook.disabled", {})
    if enabled:
        _enqueue(endpoint.pk)


def webhook_replay_since(*, endpoint: WebhookEndpoint, actor: Actor, since: datetime) -> int:
    """Send again, in order, every event published since ``since`` (the cursor goes back to the
    last event before it); the number of events it goes back over."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = Event.objects.filter(published_at__lt=since).aggregate(last=Max("pk"))["last"] or 0
        cursor = min(locked.cursor, before)
        replayed = _for(locked, Event.objects.filter(pk__gt=cursor, pk__lte=locked.cursor)).count()
        # A delivery under way would write its own cursor back: its lease goes, so it stops.
        locked.cursor, locked.lease, locked.leased_until = cursor, None, None
        locked.save(update_fields=["cursor", "lease", "leased_until"])
        _audit(locked, actor, "webhook.replayed", {"since": since.isoformat(), "events": replayed})
    _enqueue(endpoint.pk)
    return replayed


def webhook_replay_event(*, endpoint: WebhookEndpoint, actor: Actor, event: Event) -> None:
    """Send one event again, ahead of the queue (its ``webhook-id`` unchanged). ``ValueError`` for
    an event the endpoint would not have received (another tenant's, a type it is not subscribed
    to)."""
    if not _for(endpoint, Event.objects.filter(pk=event.pk)).exists():
        raise ValueError(f"Event {event_public_id(event)} is not one this endpoint receives.")
    with transaction.atomic():
        WebhookReplay.objects.get_or_create(endpoint=endpoint, event=event)
        _audit(endpoint, actor, "webhook.replayed", {"event": event_public_id(event)})
    _enqueue(endpoint.pk)


def webhook_send_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookAttempt:
    """Send a ``webhook.test`` event now, signed like any other; the attempt, logged."""
    event = Event(
        type=TEST_TYPE,
        tenant=endpoint.tenant,
        occurred_at=timezone.now(),
        payload={
            "type": TEST_TYPE,
            "tenant": {"id": endpoint.tenant.pk, "slug": endpoint.tenant.slug} if endpoint.tenant else None,
            "actor": {"type": actor.type, "label": actor.label},
            "data": {"message": "A test event from Roster's admin."},
        },
    )
    event.payload["id"] = event_public_id(event)
    event.payload["occurred_at"] = event.occurred_at.isoformat()
    answer = _post(endpoint, event, document={**event.payload, "cursor": None})
    attempt = _attempt(endpoint, event, answer, kind="test")
    attempt.save()
    return attempt


def _audit(endpoint: WebhookEndpoint, actor: Actor, action: str, changes: dict) -> None:
    audit_record(
        tenant=endpoint.tenant,
        actor=actor,
        action=action,
        target_type="webhook",
        target_id=endpoint.pk,
        target_label=endpoint.url[:300],
        changes=changes,
    )


# Delivery ------------------------------------------------------------------------------------------


def webhooks_wake(events: Iterable[Event]) -> None:
    """After a publication: enqueue delivery to each enabled endpoint some of ``events`` are for,
    unless a worker is delivering to it (it looks again once it lets go: ``webhook_deliver``)."""
    events = list(events)
    if not events:
        return
    tenants = {event.tenant_id for event in events}
    types = {event.type for event in events}
    endpoints = (
        _live()
        .filter(Q(tenant__isnull=True) | Q(tenant_id__in=tenants))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=timezone.now()))
        .only("pk", "event_types")
    )
    for endpoint in endpoints:
        if not endpoint.event_types or types & set(endpoint.event_types):
            _enqueue(endpoint.pk)


def webhooks_sweep() -> int:
    """Beat's sweep: enqueue delivery to every endpoint with events after its cursor, or replays,
    that is due and not being delivered to; how many."""
    now = timezone.now()
    last = events_last_id()
    due_ids = (
        _live()
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(Q(cursor__lt=last) | Q(replays__isnull=False))
        .distinct()
        .values_list("pk", flat=True)
    )
    due = list(due_ids)
    for pk in due:
        _enqueue(pk)
    return len(due)


def _live() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(enabled=True)


def _enqueue(endpoint_id: int) -> None:
    from directory.tasks import webhook_deliver_task

    def send() -> None:
        try:
            webhook_deliver_task.apply_async((endpoint_id,), expires=NUDGE_EXPIRES)
        except Exception:  # the broker is down: the sweep enqueues it
            logger.warning("could not enqueue a webhook delivery; beat's sweep will", exc_info=True)

    transaction.on_commit(send, robust=True)


def webhook_deliver(endpoint_id: int) -> int:
    """Deliver what is due to the endpoint, for up to RUN_SECONDS (module docstring); the number of
    events delivered. Nothing when another worker holds the endpoint, it is disabled, or its next
    attempt is not due yet."""
    lease = uuid.uuid4()
    if not _take_lease(endpoint_id, lease):
        return 0
    endpoint = WebhookEndpoint.objects.select_related("tenant").get(pk=endpoint_id)
    delivered, more = 0, False
    session = _session()
    try:
        started = renewed = time.monotonic()
        if not _send_replays(endpoint, lease, session):
            return 0
        while time.monotonic() - started < RUN_SECONDS:
            last = events_last_id()
            events = list(_pending(endpoint, last)[:BATCH])
            cursor, attempts, failed = endpoint.cursor, [], None
            for event in events:
                answer = _post(endpoint, event, session=session)
                attempts.append(_attempt(endpoint, event, answer))
                if not answer.delivered:
                    failed = (event, answer)
                    break
                cursor, delivered = event.pk, delivered + 1
                if time.monotonic() - renewed > _lease().total_seconds() / 3:
                    if not _keep(endpoint, lease, cursor, attempts):
                        return delivered
                    attempts, renewed = [], time.monotonic()
            if failed is None and len(events) < BATCH:
                cursor = max(cursor, last)  # what was not for it, up to ``last``, is passed too
            if not _keep(endpoint, lease, cursor, attempts):
                return delivered
            endpoint.cursor = cursor
            if failed is not None:
                _failed(endpoint, lease, *failed)
                return delivered
            if len(events) < BATCH:
                break
        else:
            more = True
    finally:
        WebhookEndpoint.objects.filter(pk=endpoint_id, lease=lease).update(leased_until=None, lease=None)
    # What was published while this run held the endpoint was not woken for (webhooks_wake).
    if more or _pending(endpoint, events_last_id()).exists():
        _enqueue(endpoint_id)
    return delivered


_SESSIONS = threading.local()


def _session():
    """This thread's ``outbound_session``, kept from one delivery run to the next: its connections
    to the receivers stay open (each still checked at connection, directory/outbound.py). A new
    one if the settings it was made under changed (tests change them)."""
    made_under = (
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
        settings.WEBHOOK_ALLOW_LOOPBACK,
        settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        settings.WEBHOOK_READ_TIMEOUT_SECONDS,
    )
    if getattr(_SESSIONS, "made_under", None) != made_under:
        if getattr(_SESSIONS, "session", None) is not None:
            _SESSIONS.session.close()
        _SESSIONS.session, _SESSIONS.made_under = outbound_session(), made_under
    return _SESSIONS.session


def _take_lease(endpoint_id: int, lease: uuid.UUID) -> bool:
    now = timezone.now()
    return bool(
        _live()
        .filter(pk=endpoint_id)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(leased_until=now + _lease(), lease=lease)
    )


def _keep(endpoint: WebhookEndpoint, lease: uuid.UUID, cursor: int, attempts: list[WebhookAttempt]) -> bool:
    """Record the attempts, move the cursor and renew the lease, all only if the lease is still
    ours (else another worker has taken over, from the cursor last recorded)."""
    with transaction.atomic():
        fields: dict[str, Any] = {"cursor": cursor, "leased_until": timezone.now() + _lease()}
        if any(a.delivered and a.kind == "event" for a in attempts):
            fields |= {"failing_since": None, "failures": 0, "next_attempt_at": None}
        if not WebhookEndpoint.objects.filter(pk=endpoint.pk, lease=lease, enabled=True).update(**fields):
            return False
        WebhookAttempt.objects.bulk_create(attempts)
    if "failures" in fields:  # the run made progress: a failure after it starts a new count
        endpoint.failing_since, endpoint.failures = None, 0
    return True


def _pending(endpoint: WebhookEndpoint, last: int) -> QuerySet[Event]:
    return _for(endpoint, Event.objects.filter(pk__gt=endpoint.cursor, pk__lte=last).order_by("pk"))


def _for(endpoint: WebhookEndpoint, events: QuerySet[Event]) -> QuerySet[Event]:
    """The ``events`` the endpoint receives: its tenant's, of its types (and with a SET form)."""
    if endpoint.tenant_id is not None:
        events = events.filter(tenant_id=endpoint.tenant_id)
    types = set(endpoint.event_types or ())
    if endpoint.format == WebhookFormat.SET:
        types = (types or set(SET_EVENTS)) & set(SET_EVENTS)
    if types:
        events = events.filter(type__in=sorted(types))
    return events


def _send_replays(endpoint: WebhookEndpoint, lease: uuid.UUID, session) -> bool:
    """The replays asked for, before the queue; False to stop the run: the lease was lost, or a
    replay was refused (it is tried again after the backoff, as a queued event would be)."""
    for replay in (
        WebhookReplay.objects.filter(endpoint=endpoint).select_related("event").order_by("pk")[:BATCH]
    ):
        answer = _post(endpoint, replay.event, session=session)
        attempt = _attempt(endpoint, replay.event, answer, kind="replay")
        if not _keep(endpoint, lease, endpoint.cursor, [attempt]):
            return False
        if not answer.delivered:
            _failed(endpoint, lease, replay.event, answer)
            return False
        replay.delete()
    return True


def _failed(endpoint: WebhookEndpoint, lease: uuid.UUID, event: Event, answer: Answer) -> None:
    """The queue stops at ``event``: the next attempt after the backoff, or the endpoint disabled."""
    now = timezone.now()
    failing_since = endpoint.failing_since or now
    failures = endpoint.failures + 1
    gone = answer.status == 410
    if gone or now - failing_since >= _disable_after():
        reason = (
            "the receiver answered 410 Gone" if gone else f"failing since {failing_since:%Y-%m-%d %H:%M} UTC"
        )
        with transaction.atomic():
            WebhookEndpoint.objects.filter(pk=endpoint.pk, lease=lease).update(
                enabled=False,
                disabled_at=now,
                disabled_reason=reason,
                failing_since=failing_since,
                failures=failures,
            )
            _audit(
                endpoint,
                Actor.system("webhooks"),
                "webhook.disabled",
                {"reason": reason, "event": event_public_id(event)},
            )
            transaction.on_commit(lambda: _alert(endpoint, reason, answer), robust=True)
        return
    delay = _retry_after(failures)
    WebhookEndpoint.objects.filter(pk=endpoint.pk, lease=lease).update(
        failing_since=failing_since, failures=failures, next_attempt_at=now + delay
    )
    from directory.tasks import webhook_deliver_task

    try:
        webhook_deliver_task.apply_async((endpoint.pk,), countdown=delay.total_seconds())
    except Exception:
        logger.warning("could not schedule a webhook retry; beat's sweep will", exc_info=True)


def _alert(endpoint: WebhookEndpoint, reason: str, answer: Answer) -> None:
    logger.error(
        "webhook endpoint disabled", extra={"endpoint": endpoint.pk, "url": endpoint.url, "reason": reason}
    )
    mail_admins(
        f"Webhook endpoint disabled: {endpoint.url}",
        f"Roster stopped delivering events to {endpoint} ({reason}).\n"
        f"Last answer: {answer.status or answer.error}.\n"
        "Its events wait in its queue; enable it in the admin (Webhook endpoints) to resume from there.",
        fail_silently=True,
    )


def _post(endpoint: WebhookEndpoint, event: Event, document: dict | None = None, session=None) -> Answer:
    message_id = event_public_id(event)
    if endpoint.format == WebhookFormat.SET and (event.type in SET_EVENTS or event.type == TEST_TYPE):
        body = _set_body(endpoint, event).encode()
        headers = {"Content-Type": security_events.CONTENT_TYPE, "Accept": "application/json"}
        return outbound_post(endpoint.url, body, headers, session)
    body = json.dumps(document or event_document(event), separators=(",", ":"), sort_keys=True).encode()
    headers = webhook_headers(message_id=message_id, body=body, secrets_in_use=_secrets(endpoint))
    return outbound_post(endpoint.url, body, {**headers, "Content-Type": "application/json"}, session)


def _secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The new secret first, and the old one during the rotation's overlap."""
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_until
        and endpoint.previous_secret_until > timezone.now()
    ):
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


# The test event's URI in a SET: Roster's own (no RFC 9967 event says "test").
TEST_SET_EVENT = "urn:roster:event:webhook.test"


def endpoint_set_kid(endpoint: WebhookEndpoint) -> str:
    return f"roster-webhook-{endpoint.pk}"


def _set_body(endpoint: WebhookEndpoint, event: Event) -> str:
    """The event as one SET (RFC 9967): ``jti`` the event's id and ``iat`` its publication, so a
    retry carries the same claims; ``txn`` the writing transaction's."""
    data = event.payload.get("data") or {}
    events: dict[str, dict[str, Any]]
    if event.type == TEST_TYPE:
        subject, events = "/ServiceProviderConfig", {TEST_SET_EVENT: {}}
    else:
        uri = security_events.PREFIX + SET_EVENTS[event.type]
        payload: dict[str, Any] = {}
        version = data.get("version") or (data.get("group") or {}).get("version")
        if uri.endswith(":full"):
            payload["data"] = data.get("resource") or {}
        elif uri.endswith(":notice"):
            payload["attributes"] = ["members"]
        if version and not uri.endswith(("delete", "activate", "deactivate")):
            payload["version"] = version
        kind = "Groups" if event.resource_type == "Group" else "Users"
        subject, events = f"/{kind}/{event.resource_id}", {uri: payload}
    return security_events.set_encode(
        issuer=scim_base_url(),
        audience=endpoint.set_audience or endpoint.url,
        subject_uri=subject,
        events=events,
        txn=event.txn or event_public_id(event),
        private_pem=endpoint.set_private_key,
        kid=endpoint_set_kid(endpoint),
        external_id=(data.get("resource") or {}).get("externalId"),
        jti=event.uid.hex,
        at=event.published_at,
    )


def _attempt(endpoint: WebhookEndpoint, event: Event, answer: Answer, kind: str = "event") -> WebhookAttempt:
    return WebhookAttempt(
        endpoint=endpoint,
        event=event if event.pk else None,
        webhook_id=event_public_id(event),
        event_type=event.type,
        status=answer.status,
        latency_ms=answer.ms,
        # PostgreSQL's text refuses NUL, which a receiver may send: it would fail the attempt's
        # record, and so the run, again and again.
        error=answer.error[:500].replace("\x00", "\ufffd"),
        answer=answer.body[:2000].replace("\x00", "\ufffd"),
        delivered=answer.delivered,
        kind=kind,
    )
