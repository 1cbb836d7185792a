"""Requests Roster makes to addresses others chose (webhook endpoints, issue 22), safe from being
turned against the server's own network (SSRF, OWASP's cheat sheet):

- requests-hardened (Saleor's) resolves the host once, refuses a private, loopback, link-local
  (169.254.169.254: a cloud's metadata service), multicast, carrier-NAT or IPv4-mapped address, and
  connects to the very address it checked (``Host``, SNI and the certificate keep the name), so a
  DNS answer that changes between check and connection (rebinding) gains nothing;
- no redirect is followed (a 3xx is the answer), no proxy from the environment is used;
- ``https`` only in production (``WEBHOOK_ALLOW_HTTP``); a receiver on this host or on the
  server's private networks only where an administrator allowed it (``WEBHOOK_ALLOW_LOOPBACK``,
  ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``);
- a connect and a read timeout (each bounds one wait for the network), and a deadline on the
  answer's body: requests has none of its own, and a receiver that sends a byte a second would
  hold a worker; of the body, only the first ``ANSWER_KEPT`` bytes are read.

``outbound_post`` never raises for what the receiver or the network does: the ``Answer`` says it.
"""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress

ANSWER_KEPT = 4096  # bytes of a receiver's answer kept, for the attempt's log
USER_AGENT = "Roster-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (a refused address, a timeout, a broken connection)
    ms: float
    error: str = ""  # why there is no (complete) answer
    body: str = ""  # the first ANSWER_KEPT bytes of the answer's body

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def outbound_url_problem(url: str) -> str:
    """Why ``url`` cannot be an endpoint, in words (empty when it can): checked when an endpoint
    is saved, for an early answer; the address itself is checked at each connection."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError as error:
        return f"This is not a URL: {error}."
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        return f"The address must start with {' or '.join(s + '://' for s in allowed)}."
    if not parts.hostname:
        return "The address has no host."
    if parts.username or parts.password:
        return "Put no user or password in the address; the signature authenticates each delivery."
    return ""


def outbound_session() -> requests.Session:
    """A session for several POSTs in a row (one delivery run): its connections are kept alive
    between them, each still checked as the module says. Close it (``with``) when done."""
    session = _manager().get_session()
    session.trust_env = False  # no proxy, no .netrc from the environment
    # No cookies kept: a receiver's would go with the next POST to its host, another tenant's.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def outbound_post(
    url: str, body: bytes, headers: Mapping[str, str], session: requests.Session | None = None
) -> Answer:
    """POST ``body`` to ``url`` as the module says (on ``session``, an ``outbound_session``, or a
    session of its own); what happened, never an exception for the receiver's or the network's
    doing."""
    started = time.monotonic()
    problem = outbound_url_problem(url)
    if problem:
        return Answer(None, 0.0, error=problem)
    deadline = started + settings.WEBHOOK_DEADLINE_SECONDS
    try:
        context = outbound_session() if session is None else _kept(session)
        with context as used, used.post(url, data=body, headers=dict(headers), stream=True) as response:
            kept = _read_until(response, deadline)
            return Answer(response.status_code, _ms(started), body=kept.decode("utf-8", "replace"))
    except InvalidIPAddress as refused:
        return Answer(None, _ms(started), error=f"refused: {refused} is on a network Roster does not call")
    except _Deadline:
        return Answer(
            None, _ms(started), error=f"no complete answer within {settings.WEBHOOK_DEADLINE_SECONDS} s"
        )
    except requests.Timeout:
        return Answer(None, _ms(started), error="timed out")
    except requests.RequestException as error:
        return Answer(None, _ms(started), error=f"{type(error).__name__}: {error}"[:500])


@contextmanager
def _kept(session: requests.Session) -> Iterator[requests.Session]:
    yield session  # the caller's: not closed here


class _Deadline(Exception):
    pass


def _read_until(response: requests.Response, deadline: float) -> bytes:
    """The answer's first ANSWER_KEPT bytes, read before ``deadline``: ``read1`` returns what one
    receive brings, so that the deadline is checked however slowly the bytes come."""
    kept = b""
    while len(kept) < ANSWER_KEPT:
        if time.monotonic() > deadline:
            raise _Deadline
        chunk = response.raw.read1(ANSWER_KEPT - len(kept), decode_content=True)
        if not chunk:
            break
        kept += chunk
    return kept


def _manager() -> Manager:
    return Manager(
        Config(
            ip_filter_enable=not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
            ip_filter_allow_loopback_ips=settings.WEBHOOK_ALLOW_LOOPBACK,
            never_redirect=True,
            default_timeout=(settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS, settings.WEBHOOK_READ_TIMEOUT_SECONDS),
            user_agent_override=USER_AGENT,
        )
    )


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
