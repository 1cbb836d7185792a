"""SCIM tokens found by their hash, kept in process memory between requests (PostgreSQL only).

Every SCIM request authenticates, and reading the token through the ORM costs as much as the
request's own query. So on PostgreSQL a token, once found, is kept by the thread that found it, and
every change to any token or tenant row empties every such cache before the next request uses it:

- a trigger (migration 0005) sends ``NOTIFY roster_tokens`` when a token is revoked, re-dated,
  re-keyed or deleted, and when a tenant changes (deactivated, renamed, its settings);
- each thread LISTENs on its own database connection. A notification reaches that connection some
  time after the notifying COMMIT has returned: the server signals the listening backend, which
  writes the notification to its socket when it next runs. So before a thread answers from its
  cache it makes one empty round trip, after which the server has sent it every notification of a
  transaction that committed before the request (see ``_nothing_announced``), and reads them.
  A request that starts after a revocation committed is thus refused, by every thread, as a
  database lookup would refuse it; a token not kept is read from the database, with no round trip
  more;
- a connection opened anew (the first, or one replacing a closed or broken one) may have missed
  notifications, so the cache starts empty on it; so does a request inside a transaction
  (notifications wait for its end), which reads the database instead.

Entries also expire after ``SCIM_TOKEN_CACHE_SECONDS`` (0 turns the cache off, e.g. behind
PgBouncer in transaction mode, where a LISTEN may sit on another server connection), which bounds
how stale a token's ``last_used_at`` can be. On other databases nothing is cached: SQLite runs in
the process, and is the embedded single-server default.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import pq

from directory.models import ScimToken
from directory.models.tokens import token_hash

CHANNEL = "roster_tokens"
MAX_ENTRIES = 10_000  # a bound on memory should a client send many distinct valid tokens


class _State(threading.local):
    def __init__(self) -> None:
        self.tokens: dict[str, tuple[float, ScimToken]] = {}
        self.listening_on: psycopg.Connection[Any] | None = None  # the connection that LISTENs


_state = _State()


def find(plaintext: str) -> ScimToken | None:
    """``ScimToken.objects.find``, answered from this thread's cache when it can be trusted."""
    if not _usable():
        return ScimToken.objects.find(plaintext)
    digest = token_hash(plaintext)
    now = time.monotonic()
    cached = _state.tokens.get(digest)
    if cached is not None and cached[0] > now and _nothing_announced():
        return cached[1]
    token = ScimToken.objects.find(plaintext)
    if token is not None:
        if len(_state.tokens) >= MAX_ENTRIES:
            _state.tokens.clear()
        _state.tokens[digest] = (now + settings.SCIM_TOKEN_CACHE_SECONDS, token)
    return token


def clear() -> None:
    _state.tokens.clear()


def _usable() -> bool:
    """Whether this thread's cache may answer now; drops it when a change has been announced."""
    if settings.SCIM_TOKEN_CACHE_SECONDS <= 0 or connection.vendor != "postgresql":
        return False
    if connection.in_atomic_block or not connection.get_autocommit():
        return False
    connection.ensure_connection()
    raw: psycopg.Connection[Any] = connection.connection  # PostgreSQL's, as checked above
    if raw is not _state.listening_on:
        clear()
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        _state.listening_on = raw
        return True
    try:
        # What has arrived already (psycopg keeps aside what came with the previous request's
        # queries): acted on before a lookup, an old announcement cannot drop the token it reads.
        announced = list(raw.notifies(timeout=0))
    except psycopg.Error:  # a broken connection: the database lookup reports it
        clear()
        _state.listening_on = None
        return False
    if announced:
        clear()
    return True


def _nothing_announced() -> bool:
    """Whether no transaction that committed before now has announced a change; drops the cache
    when one has. Costs one round trip of an empty statement, no query."""
    pgconn = connection.connection.pgconn
    # The notifying backend signals every listening one before its COMMIT returns (SignalBackends
    # in commands/async.c), and a backend so signalled sends the notification before it reads its
    # client's next command (ProcessClientReadInterrupt in tcop/postgres.c), at the latest before it
    # answers it (PostgresMain, before ReadyForQuery) unless inside a transaction. So once this
    # statement is answered, outside a transaction, every such notification has been received.
    # libpq's own call, not a psycopg cursor: half the cost, and nothing here needs a cursor.
    try:
        answered = pgconn.exec_(b"").status == pq.ExecStatus.EMPTY_QUERY
    except psycopg.Error:
        answered = False
    if not answered or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        clear()  # broken, or in a transaction after all: the database lookup answers (or reports)
        _state.listening_on = None
        return False
    announced = False
    while pgconn.notifies() is not None:  # the statement took them in; psycopg has not seen them
        announced = True
    if announced:
        clear()
    return not announced


def changed(sender, **kwargs) -> None:
    """A token or tenant saved or deleted by this thread: its own changes, also inside a
    transaction (where NOTIFY waits for the commit). Connected in ``DirectoryConfig.ready()``."""
    clear()
