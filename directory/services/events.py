"""Publishing the outbox (issue 22): the sequencer, the event types, the feed's selection, retention.

**The sequencer** (``events_sequence``) turns ``EventSource`` rows (the trigger's, one per
published audit event, directory.models.events) into ``Event`` rows whose ids are the feed's
cursor. Ids of audit events are taken in insert order, not commit order: a reader resuming after
the last id it saw would miss the event of a transaction that took an earlier id and committed
later. So nothing is numbered until it can no longer be preceded: on PostgreSQL the sequencer takes
the sources whose transaction is older than the oldest one still running in this database
(``_HORIZON``: every transaction that might still write an earlier one has ended; those of the
server's other databases cannot write here, so a long one there holds nothing back), in the order
of their transactions and then of their audit ids, and numbers them in one transaction. The horizon
only orders: a source stays until it is numbered, so whatever the horizon, none is lost. One
sequencer runs at a time (an advisory lock), so each run's numbers follow the last run's and become
visible all at once: a cursor never skips or repeats. SQLite runs one write transaction at a time,
so there insert order is commit order.

Of two transactions that changed the same resource the later one took its row lock after the
earlier committed, so it also took its transaction id later, unless it had written something else
before: then the two are numbered in the same run (the later one's id is below the earlier's, so
the earlier one was still running when the horizon passed it), and that run orders each resource's
events by the resource's version. A receiver may still check ``version``.

Where it runs: a task enqueued after each write's commit (``events_nudge``), at most a few times a
second per process; beat's ``events-sequence`` every few seconds (the sweep, should a message be
lost); and the feed before it reads.

**Rendering** (the resource as SCIM renders it) belongs to ``scim_api``, which registers it
(``RENDERER``) when Django starts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.dispatch import Signal

from directory.models import AuditEvent, Event, EventFeedState, EventSource, Tenant

logger = logging.getLogger(__name__)

# The event types, in the order the README lists them.
EVENT_TYPES = (
    "user.created",
    "user.updated",
    "user.suspended",
    "user.reactivated",
    "user.deleted",
    "user.purged",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.user_added",
    "group.user_removed",
    "offboarding.opened",
    "offboarding.approved",
    "offboarding.held",
    "offboarding.released",
    "offboarding.cancelled",
    "offboarding.completed",
    "burst.quarantined",
    "burst.released",
    "token.created",
    "token.revoked",
)
TEST_TYPE = "webhook.test"  # the admin's "send test event": sent, never stored nor in the feed

# The audit actions the trigger of migration 0028 publishes, and the events each becomes (the
# drawing of user.updated and the member changes depends on what changed: ``Drawn``).
OFFBOARDING = {
    "offboarding.opened": "offboarding.opened",
    "offboarding.approved": "offboarding.approved",
    "offboarding.held": "offboarding.held",
    "offboarding.released": "offboarding.released",
    "offboarding.cancelled": "offboarding.cancelled",
    "offboarding.deleted": "offboarding.completed",  # the staged deletion is done
}
PUBLISHED_ACTIONS = (
    "user.created",
    "user.restored",
    "user.updated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    *OFFBOARDING,
    "offboarding.purged",
    "burst.detected",
    "burst.released",
    "token.created",
    "token.revoked",
)

# A member change of up to this many members is one event per member; a larger one (a group
# pushed whole) is events of up to MEMBERS_PER_EVENT members each, listed under ``members``.
MEMBERS_ONE_BY_ONE = 100
MEMBERS_PER_EVENT = 1000

SEQUENCE_BATCH = 5000
# A source the purge reached before it was published: drawn with ids and states only.
REDACTED_SOURCE = {"_redacted": True}
SEQUENCER_LOCK = (0x5C1A, -1)  # directory.services.locks' namespace; no tenant has id -1

# In-process (issue 22): after an event is published, ``event_published`` (every type) and the
# signal of its type in ``EVENT_SIGNALS`` are sent, each with ``event`` (the payload, as the feed
# serves it) and ``type``; ``sender`` is the Event model. Sent once, by the process that published
# it, after the publication committed: receivers that must not miss one read the feed instead.
event_published = Signal()
EVENT_SIGNALS = {event_type: Signal() for event_type in EVENT_TYPES}


@dataclass
class Drawn:
    """One event drawn from an audit event, before it is numbered."""

    type: str
    resource_type: str
    resource_id: str
    data: dict[str, Any]
    version: int | None = None  # the resource's, to order one resource's events (module docstring)


@dataclass
class Source:
    """What the renderer is given: an audit event and the resource's row as its write left it."""

    audit: AuditEvent
    tenant: Tenant | None
    snapshot: dict[str, Any] | None
    txn: str = ""
    drawn: list[Drawn] = field(default_factory=list)


# scim_api.events.events_draw, registered by scim_api's AppConfig.ready: fills each Source's
# ``drawn`` (the sources of one run, so it renders them in bulk).
RENDERER: Callable[[list[Source]], None] | None = None


def events_sequence(limit: int = SEQUENCE_BATCH) -> int:
    """Number what can no longer be preceded (module docstring), up to ``limit`` sources; the
    number of events published. Another sequencer running: 0 at once. Idempotent."""
    with transaction.atomic():
        if not _sequencer_lock():
            return 0
        rows = _ready_sources(limit)
        if not rows:
            return 0
        audits = AuditEvent.objects.order_by().in_bulk([pk for pk, _, _ in rows])
        tenant_ids = {audit.tenant_id for audit in audits.values() if audit.tenant_id is not None}
        tenants = Tenant.objects.in_bulk(tenant_ids)
        sources = [
            Source(audits[pk], tenants.get(audits[pk].tenant_id), snapshot, str(xact))
            for pk, snapshot, xact in rows
            if pk in audits
        ]
        assert RENDERER is not None, "scim_api registers the renderer when Django starts"
        RENDERER(sources)
        events = _ordered(sources)
        Event.objects.bulk_create(events)
        EventSource.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
        transaction.on_commit(lambda: _announce(events), robust=True)
    return len(events)


def _sequencer_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction holds the database's write lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(SEQUENCER_LOCK))
        return bool(cursor.fetchone()[0])


# The oldest transaction of this database still running as the statement's snapshot was taken (its
# in-progress ids, those this database's sessions hold: pg_stat_activity.backend_xid, the top-level
# id that pg_current_xact_id() gives the trigger), else the first id not yet given. One a session
# of another role holds is not seen (its backend_xid is hidden), nor one that ends between the
# snapshot and that read: then its sources wait for the next run (numbered after the run's others).
_HORIZON = """
SELECT coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x WHERE x::xid IN (
        SELECT backend_xid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL
    )),
    pg_snapshot_xmax(pg_current_snapshot())
)
"""
_READY = f"""
SELECT audit_event_id, snapshot, xact FROM directory_eventsource
WHERE xact < ({_HORIZON}) OR xact = pg_current_xact_id_if_assigned()
ORDER BY xact, audit_event_id LIMIT %s
"""  # noqa: S608 (constants)


def _ready_sources(limit: int) -> list[tuple[int, Any, Any]]:
    """(audit event id, snapshot, transaction) of the sources no running transaction can precede,
    in order. The sequencer's own transaction's are ready too (it is called inside one in tests)."""
    if connection.vendor != "postgresql":
        sources = EventSource.objects.order_by("pk").values_list("pk", "snapshot")[:limit]
        return [(pk, snapshot, pk) for pk, snapshot in sources]
    with connection.cursor() as cursor:
        cursor.execute(_READY, [limit])
        return [(pk, _json(snapshot), xact) for pk, snapshot, xact in cursor.fetchall()]


def _json(value: Any) -> Any:
    """A jsonb column as a raw cursor reads it: its text (as Django has psycopg read it), or None."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _ordered(sources: list[Source]) -> list[Event]:
    """The run's events, in the sources' order, except that each resource's events are put in the
    order of its versions (the module docstring's case), in the places its events took."""
    drawn = [(source, d) for source in sources for d in source.drawn]
    places: dict[tuple, list[int]] = {}
    for index, (_, d) in enumerate(drawn):
        if d.version is not None:
            places.setdefault((d.resource_type, d.resource_id), []).append(index)
    ordered = list(drawn)
    for indexes in places.values():
        if len(indexes) > 1:
            by_version = sorted(indexes, key=lambda i: (drawn[i][1].version, i))
            for place, index in zip(indexes, by_version, strict=True):
                ordered[place] = drawn[index]
    return [_event(source, d) for source, d in ordered]


def _event(source: Source, drawn: Drawn) -> Event:
    audit, tenant = source.audit, source.tenant
    event = Event(
        type=drawn.type,
        tenant_id=audit.tenant_id,
        audit_event_id=audit.pk,
        txn=source.txn,
        resource_type=drawn.resource_type,
        resource_id=drawn.resource_id,
        occurred_at=audit.occurred_at,
    )
    event.payload = {
        "id": event_public_id(event),
        "type": drawn.type,
        "tenant": {"id": tenant.pk, "slug": tenant.slug} if tenant is not None else None,
        "occurred_at": _iso(audit.occurred_at),
        "actor": {"type": audit.actor_type, "label": audit.actor_label},
        "request_id": audit.request_id or None,
        "data": drawn.data,
    }
    return event


def events_last_id() -> int:
    """The id of the last event published (0 before the first): what the feed and delivery page
    up to."""
    return Event.objects.aggregate(last=Max("pk"))["last"] or 0


def scim_base_url() -> str:
    """The SCIM endpoint's absolute base: events' resource locations, and SETs' issuer."""
    return f"{settings.ROSTER_BASE_URL.rstrip('/')}/scim/v2"


def event_public_id(event: Event) -> str:
    """The event's id outside (``webhook-id``, a SET's ``jti``): no dot, the same on every retry."""
    return f"evt_{event.uid.hex}"


def event_document(event: Event) -> dict[str, Any]:
    """The event as the feed serves it and webhooks send it: the payload, with its cursor."""
    return {**event.payload, "cursor": str(event.pk)}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _announce(events: list[Event]) -> None:
    """After the publication committed: the in-process signals, then the webhooks' deliveries."""
    for event in events:
        document = event_document(event)
        for signal in (event_published, EVENT_SIGNALS.get(event.type)):
            if signal is not None:  # send_robust: a receiver's error is logged, and stops no one
                signal.send_robust(sender=Event, event=document, type=event.type)
    from directory.services.webhooks import webhooks_wake

    webhooks_wake(events)


# Nudging the sequencer after a write ------------------------------------------------------------


class _Nudges:
    """At most one sequencing task enqueued at once per ``INTERVAL`` per process, and one more at
    the interval's end for what the interval's writes committed after it: a write storm costs a
    few messages a second, and no write waits much past the interval for its event."""

    INTERVAL = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._trailing = False

    def nudge(self, *, later: bool = False) -> None:
        """``later``: the write is still under way (it commits within its statement), so only the
        trailing run is asked for."""
        now = time.monotonic()
        with self._lock:
            if not later and now - self._last >= self.INTERVAL:
                self._last, countdown = now, None
            elif not self._trailing:
                self._trailing, countdown = True, max(self._last + self.INTERVAL - now, 0.05)
            else:
                return
        self._enqueue(countdown)

    def _enqueue(self, countdown: float | None) -> None:
        from directory.tasks import events_sequence_task

        try:  # expiring: after an outage a backlog of nudges is dropped, not run (the sweep is there)
            events_sequence_task.apply_async(countdown=countdown, expires=NUDGE_EXPIRES)
        except Exception:  # the broker is down: beat's sweep publishes them
            logger.warning("could not enqueue event sequencing; beat's sweep will", exc_info=True)
        if countdown is not None:
            timer = threading.Timer(countdown, self._trailed)
            timer.daemon = True
            timer.start()

    def _trailed(self) -> None:
        with self._lock:
            self._trailing, self._last = False, time.monotonic()


NUDGES = _Nudges()
NUDGE_EXPIRES = 30  # seconds
_PUBLISHED = frozenset(PUBLISHED_ACTIONS)


def events_nudge(action: str) -> None:
    """Have the sequencer run soon after a write of an audit event ``action`` commits (called as the
    event is made: with its transaction's commit, or, for a write that is one statement of its own,
    just after it)."""
    if action not in _PUBLISHED:
        return
    if connection.in_atomic_block:
        transaction.on_commit(NUDGES.nudge, robust=True)
    else:
        NUDGES.nudge(later=True)


# The feed -----------------------------------------------------------------------------------------


class CursorExpired(Exception):
    """The cursor is older than the retention: events after it were deleted unread."""


def events_after(
    *, after: int | None, tenant: Tenant | None, types: Iterable[str] | None, limit: int
) -> tuple[list[Event], int]:
    """Up to ``limit`` events after the cursor ``after`` (None: from the oldest kept; of ``tenant``,
    or of all; of ``types``, or all), in commit order, and the cursor to resume from. The last
    event published is read first and the page stops there: a run committing in between is read
    next time, not skipped. A page shorter than ``limit`` read everything up to that last event,
    which the cursor then names (a reader filtering rare types does not scan the same events
    again). ``CursorExpired`` when the retention has deleted events after ``after``, also while
    the page was read; ``CursorUnknown`` for a cursor past the last event ever published."""
    pruned = _pruned_through()
    after = pruned if after is None else after
    if after < pruned:
        raise CursorExpired(after, pruned)
    last = max(events_last_id(), pruned)
    if after > last:
        raise CursorUnknown(after, last)
    events: QuerySet[Event] = Event.objects.filter(pk__gt=after, pk__lte=last)
    if tenant is not None:
        events = events.filter(tenant=tenant)
    if types:
        events = events.filter(type__in=list(types))
    page = list(events.order_by("pk")[:limit])
    if after < _pruned_through():  # a prune ran meanwhile: the page may lack what it deleted
        raise CursorExpired(after, _pruned_through())
    if len(page) == limit:
        return page, page[-1].pk
    return page, max(after, last)


def _pruned_through() -> int:
    return EventFeedState.objects.filter(pk=1).values_list("pruned_through", flat=True).first() or 0


class CursorUnknown(Exception):
    """A cursor past the last event published: not one this server gave (a restored database?)."""


def events_prune(*, before: datetime, batch: int = 5000) -> int:
    """Delete the events published before ``before`` (the retention, ``EVENTS_RETENTION_DAYS``) in
    batches, and the attempts logged before it; record how far, for ``CursorExpired``."""
    from directory.models import WebhookAttempt

    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(published_at__lt=before).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        with transaction.atomic():
            Event.objects.filter(pk__in=ids).delete()
            EventFeedState.objects.filter(pk=1, pruned_through__lt=ids[-1]).update(pruned_through=ids[-1])
        deleted += len(ids)
    while True:
        ids = list(
            WebhookAttempt.objects.filter(attempted_at__lt=before).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        WebhookAttempt.objects.filter(pk__in=ids).delete()


def events_redact(*, tenant: Tenant, resource_id: str, personal: list[str]) -> int:
    """The purge's part (GDPR art. 17), inside its transaction: the person's own events keep their
    type, ids, times and states, not their attributes; any other event that names them (a report's
    manager, a group's member) loses the ``personal`` strings; the sources not yet published lose
    their snapshot. Reads the tenant's events that mention the id (a scan of the tenant's events, as
    rare as purges are)."""
    from directory.services.audit import text_redact

    if connection.vendor == "postgresql":  # a sequencer under way finishes first: its events are seen
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(SEQUENCER_LOCK))
    EventSource.objects.filter(tenant_id=tenant.pk, audit_event__in=_audit_ids(tenant, resource_id)).update(
        snapshot=REDACTED_SOURCE
    )
    redacted = 0
    mentioning = Event.objects.filter(tenant=tenant).filter(
        Q(resource_id=resource_id) | Q(payload__icontains=resource_id)
    )
    for event in mentioning.exclude(type="user.purged").iterator(chunk_size=500):
        data = event.payload.get("data") or {}
        if event.resource_id == resource_id:
            kept = {key: data[key] for key in ("resource_type", "id", "version", "user") if key in data}
            if isinstance(data.get("case"), dict):
                kept["case"] = {k: v for k, v in data["case"].items() if k != "reason"}
            data = {**kept, "redacted": True}
        else:
            data = json.loads(text_redact(json.dumps(data), [json_escaped(p) for p in personal]))
        event.payload = {**event.payload, "data": data}
        event.save(update_fields=["payload"])
        redacted += 1
    return redacted


def json_escaped(text: str) -> str:
    """``text`` as it stands inside a JSON string (so that replacing it keeps the JSON valid)."""
    return json.dumps(text)[1:-1]


def _audit_ids(tenant: Tenant, resource_id: str) -> QuerySet:
    return AuditEvent.objects.filter(tenant=tenant, target_id=resource_id).values("pk")
