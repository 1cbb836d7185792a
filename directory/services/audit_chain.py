"""The audit trail made tamper-evident: each tenant's events form a hash chain (issue 21; SOC 2
CC7.2, ISO 27001 A.8.15 "logs protected against tampering").

Events are written by many transactions at once, and their ids are taken in insert order, not
commit order; chaining each event to the previous one as it is written would make every write of a
tenant wait for the last. So writes stay as they are, and a *sealer* (``audit_chain_seal``, the
beat task ``audit-seal`` every minute, and ``manage.py verify_audit`` before it verifies) appends
what has committed since its last run to the chain, in the order it finds it: one ``AuditSeal``
row per event, whose ``link`` is an HMAC of the previous link, the event's place, its fields, and a
digest of its personal values (the label and ``changes``). The purge may later erase those values
(``audit_redact``); the chain keeps their digest, not the values, and the ``audit.redacted`` event
records a MAC of what each redacted event then holds, so a redacted event still verifies and a
change after its redaction still shows.

Where the sealer resumes: on PostgreSQL, every event records the transaction that wrote it
(``xact``, migration 0010), and the chain keeps the snapshot its last run saw; what that snapshot
did not see is exactly the events whose transaction was still running then or began later, i.e. at
or past its ``xmin``: one index probe on (tenant, xact). SQLite runs one write transaction at a
time, so there ids are in commit order, and the sealer resumes after the last id it sealed.

``audit_chain_verify`` walks a chain and names the first broken link: an event altered, deleted, or
its seal removed. The key (``AUDIT_CHAIN_KEY``, by default derived from ``SECRET_KEY``) keeps
someone with write access to the database alone from re-computing the chain after an alteration.
What the chain does not show: a change made to an event in the minute before it is sealed, and an
event inserted by hand (the sealer seals what it finds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from directory.models import AuditChain, AuditEvent, AuditSeal, Tenant

NO_TENANT = 0  # the chain of the events of no tenant (the admin login's)
SEAL_BATCH = 2000
VERIFY_CHUNK = 2000


def _key() -> bytes:
    configured = getattr(settings, "AUDIT_CHAIN_KEY", "")
    if configured:
        return configured.encode()
    return salted_hmac("roster.audit_chain", "key").digest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def personal_digest(label: str, changes: Any) -> str:
    """The digest of an event's redactable values (``target_label`` and ``changes``): what the
    chain holds of them, so that erasing them breaks nothing."""
    return hashlib.sha256(_canonical({"label": label, "changes": changes})).hexdigest()


def redaction_mac(event_id: int, digest: str) -> str:
    """What ``audit.redacted`` records of an event it redacted: a MAC of the values it left."""
    return hmac.new(_key(), f"redacted|{event_id}|{digest}".encode(), hashlib.sha256).hexdigest()


def _fields(event: AuditEvent) -> list:
    """An event's fields that no one may change (the trigger lets the purge change only the label
    and ``changes``). ``actor_admin`` is left out: deleting the admin's account empties it, and
    ``actor_label`` names them as they were then."""
    return [
        event.pk,
        event.tenant_id,
        event.occurred_at.astimezone(UTC).isoformat(),
        event.actor_type,
        event.actor_token_id,
        event.actor_label,
        event.action,
        event.target_type,
        event.target_id,
        event.request_id,
    ]


def _link(previous: str, chain: int, position: int, event: AuditEvent, digest: str) -> str:
    message = b"|".join(
        [
            previous.encode(),
            str(chain).encode(),
            str(position).encode(),
            _canonical(_fields(event)),
            digest.encode(),
        ]
    )
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _events_of(chain: int):
    events = AuditEvent.objects.order_by()
    return events.filter(tenant__isnull=True) if chain == NO_TENANT else events.filter(tenant_id=chain)


# Sealing ---------------------------------------------------------------------------------------


def audit_chain_seal_all() -> int:
    """Seal what has committed in every chain; returns how many events were sealed."""
    return sum(audit_chain_seal(chain) for chain in audit_chains())


def audit_chain_seal(chain: int) -> int:
    """Append to ``chain`` the events committed since its last run, in batches of SEAL_BATCH, each
    its own short transaction under the chain row's lock (a second sealer skips a chain being
    sealed: several workers split the chains). Returns how many events were sealed.

    The run pages through its candidates by id (each batch after the last id it sealed, so that a
    first run over a long trail reads it once, not once per batch), and resumes next time from the
    snapshot taken as it began: an event that commits during the run with an id it has passed was
    not visible in that snapshot, so the next run finds it."""
    with suppress(IntegrityError):  # another sealer made it first
        AuditChain.objects.get_or_create(chain=chain)
    snapshot, after, sealed = _current_snapshot(), 0, 0
    while True:
        count, after = _seal_batch(chain, snapshot, after)
        sealed += count
        if count < SEAL_BATCH:
            return sealed


def _seal_batch(chain: int, snapshot: str, after: int) -> tuple[int, int]:
    """One batch of the events after id ``after``: (events sealed, the last id sealed). The last
    batch of a run (fewer than SEAL_BATCH) sets where the next run resumes."""
    with transaction.atomic():
        head = AuditChain.objects.select_for_update(skip_locked=True).filter(chain=chain).first()
        if head is None:
            return 0, after  # another sealer has it
        events = list(
            _unseen_since(_events_of(chain), head.horizon)
            .filter(pk__gt=after)
            .exclude(Exists(AuditSeal.objects.filter(event_id=OuterRef("pk"))))
            .order_by("pk")[:SEAL_BATCH]
        )
        seals = []
        link, position = head.link, head.position
        for event in events:
            position += 1
            digest = personal_digest(event.target_label, event.changes)
            link = _link(link, chain, position, event, digest)
            seals.append(
                AuditSeal(
                    chain=chain, position=position, event_id=event.pk, personal_digest=digest, link=link
                )
            )
        AuditSeal.objects.bulk_create(seals)
        head.position, head.link, head.sealed_at = position, link, timezone.now()
        if connection.vendor == "postgresql":
            if len(events) < SEAL_BATCH:  # the run is through: resume from what it began with
                head.horizon = snapshot
        elif events:
            head.horizon = str(events[-1].pk)
        head.save()
        return len(events), events[-1].pk if events else after


def _current_snapshot() -> str:
    """PostgreSQL's snapshot as of now, taken before the events are read (the read sees at least
    what it saw)."""
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text")
        return cursor.fetchone()[0]


def _unseen_since(events: QuerySet, horizon: str) -> QuerySet:
    """The ``events`` a chain's last run could not have seen (all of them before its first run):
    on PostgreSQL, written by a transaction at or past the ``xmin`` of the snapshot it saw."""
    if not horizon:
        return events
    if connection.vendor == "postgresql":
        return events.extra(where=["xact >= pg_snapshot_xmin(%s::pg_snapshot)"], params=[horizon])
    return events.filter(pk__gt=int(horizon))


# Verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    chain: int
    sealed: int  # events verified
    unsealed: int  # events of the chain not sealed yet
    head: str  # the last link: record it elsewhere to notice a chain cut short and re-sealed
    broken: str = ""  # the first broken link, in words; empty when the chain holds
    event_id: int | None = None  # the event it names, if any

    @property
    def holds(self) -> bool:
        return not self.broken


def audit_chain_verify(chain: int) -> ChainReport:
    """Walk ``chain`` from its start and report the first broken link: an event altered (its fields
    or its personal values), an event deleted, a seal removed or altered, or a head that is not the
    last link."""
    # The head first, and the seals up to it only: a seal committed meanwhile (beat's) is not a
    # head that disagrees.
    head = AuditChain.objects.filter(chain=chain).first()
    upto = head.position if head is not None else 0
    redactions = _redaction_macs(chain)
    previous, expected, verified = "", 1, 0
    for seals, events in _chunks(chain, upto):
        for seal in seals:
            if seal.position != expected:
                return _broken(chain, verified, previous, f"the seal at position {expected} was removed")
            event = events.get(seal.event_id)
            if event is None:
                return _broken(
                    chain,
                    verified,
                    previous,
                    f"event {seal.event_id} (position {expected}) was deleted",
                    seal.event_id,
                )
            digest = personal_digest(event.target_label, event.changes)
            if digest != seal.personal_digest and not hmac.compare_digest(
                redactions.get(event.pk, ""), redaction_mac(event.pk, digest)
            ):
                return _broken(
                    chain,
                    verified,
                    previous,
                    f"event {event.pk} (position {expected}, {event.action}): "
                    "its label or changes were altered",
                    event.pk,
                )
            link = _link(previous, chain, expected, event, seal.personal_digest)
            if not hmac.compare_digest(link, seal.link):
                return _broken(
                    chain,
                    verified,
                    previous,
                    f"event {event.pk} (position {expected}, {event.action}): who, what, on what or when "
                    "was altered, or its seal was",
                    event.pk,
                )
            previous, expected, verified = link, expected + 1, verified + 1
    if head is not None and (head.position, head.link) != (verified, previous):
        return _broken(
            chain,
            verified,
            previous,
            f"the chain's head says position {head.position}, its last seal is {verified}",
        )
    return ChainReport(chain=chain, sealed=verified, unsealed=_unsealed(chain), head=previous)


def audit_chains() -> list[int]:
    """Every chain: the tenants' and the one of no tenant."""
    return [NO_TENANT, *Tenant.objects.order_by("pk").values_list("pk", flat=True)]


def _broken(
    chain: int, verified: int, previous: str, broken: str, event_id: int | None = None
) -> ChainReport:
    return ChainReport(
        chain=chain,
        sealed=verified,
        unsealed=_unsealed(chain),
        head=previous,
        broken=broken,
        event_id=event_id,
    )


def _unsealed(chain: int) -> int:
    return _events_of(chain).exclude(Exists(AuditSeal.objects.filter(event_id=OuterRef("pk")))).count()


def _chunks(chain: int, upto: int) -> Iterator[tuple[list[AuditSeal], dict[int, AuditEvent]]]:
    """The chain's seals in order up to position ``upto``, VERIFY_CHUNK at a time, with their
    events: memory stays flat however long the chain."""
    after = 0
    while True:
        seals = list(
            AuditSeal.objects.filter(chain=chain, position__gt=after, position__lte=upto).order_by(
                "position"
            )[:VERIFY_CHUNK]
        )
        if not seals:
            return
        events = AuditEvent.objects.order_by().in_bulk([s.event_id for s in seals])
        yield seals, events
        after = seals[-1].position


def _redaction_macs(chain: int) -> dict[int, str]:
    """What the chain's ``audit.redacted`` events recorded of the events they redacted."""
    macs: dict[int, str] = {}
    redactions = _events_of(chain).filter(action="audit.redacted").order_by("pk")
    for changes in redactions.values_list("changes", flat=True):
        for event_id, mac in ((changes or {}).get("chain_macs") or {}).items():
            macs[int(event_id)] = mac
    return macs
