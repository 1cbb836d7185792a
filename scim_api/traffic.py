"""What Roster keeps of each SCIM request once it is answered: the request log's row for a write or
a failure (directory.models.ScimRequest), the token's count for the day (a successful read is only
counted), both kept in the process and written every few seconds (directory/request_buffer.py),
and the metrics (directory/metrics.py).

A middleware rather than the view: it sits outside ``ScimErrorMiddleware`` (settings.MIDDLEWARE),
so it sees every answer under /scim/ as it is sent, those no SCIM view gave included: a 401
without a token, a 404 of an unknown URL, a 500 the error middleware made of an exception, a 400
from Django's own checks. Its rows are written apart from the request's transaction, so an error
rolled back is still logged; whatever it fails at is logged and never changes the answer.

``SCIM_REQUEST_LOG`` (the log and the counts) and ``METRICS_ENABLED`` turn its parts off; with
both off it is not in the chain at all.
"""

import json
import logging
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

from directory import metrics
from directory.models import ScimToken
from directory.request_buffer import BUFFER, ERROR, READ, WRITE
from scim_api.bindings import BY_ENDPOINT
from scim_api.errors import SCIM_CONTENT_TYPE
from scim_api.redaction import bulk_operations, never_returned, query_names, redacted_body
from scim_api.request_ids import request_id_of

logger = logging.getLogger(__name__)

READ_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
# The first path segment after the version, as the metrics' resource label; any other is
# "unknown", so that a client cannot mint label values (each one a series in every process).
RESOURCES = frozenset(
    (
        *BY_ENDPOINT,
        "ServiceProviderConfig",
        "ResourceTypes",
        "Schemas",
        "Bulk",
        ".search",
        "Me",
        "openapi.json",
    )
)


# The methods a label or a row may name; any other a client sends is "OTHER", so that it can
# neither mint metric series nor make a row the database refuses (the column holds 10 characters).
METHODS = frozenset(("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"))


def method_of(request) -> str:
    return request.method if request.method in METHODS else "OTHER"


def _text(value: str, limit: int) -> str:
    """``value`` as a column holds it: no NUL (PostgreSQL refuses one in text), at most ``limit``."""
    return value.replace("\x00", "\ufffd")[:limit]


def resource_of(path: str) -> str:
    """``/scim/v2/Users/...`` or ``/scim/<tenant>/v2/Users/...``: ``Users``."""
    parts = path.split("/", 6)
    for at in (2, 3):
        if len(parts) > at and parts[at] == "v2":
            name = parts[at + 1] if len(parts) > at + 1 else ""
            name = "ServiceProviderConfig" if name == "ServiceProviderConfigs" else name
            return name if name in RESOURCES else ("root" if name == "" else "unknown")
    return "unknown"


def is_search(path: str) -> bool:
    """POST .search (RFC 7644 section 3.4.3) reads, though it is a POST."""
    return path.rstrip("/").endswith("/.search")


# A request without a valid token (a scanner, a misconfigured client) can come at any rate, and
# nothing vouches for its tenant: each process logs at most this many such rows a minute and
# counts the rest in a warning (/metrics counts them all, under the empty tenant).
ANONYMOUS_ROWS_PER_MINUTE = 60


class AnonymousAllowance:
    """How many rows of tokenless requests this process may still log this minute."""

    def __init__(self) -> None:
        self.minute, self.used, self.skipped = 0, 0, 0
        self.lock = threading.Lock()

    def take(self, now: float) -> bool:
        minute = int(now // 60)
        with self.lock:
            if minute != self.minute:
                if self.skipped:
                    logger.warning(
                        "%d SCIM requests without a valid token not logged (over %d a minute here)",
                        self.skipped,
                        ANONYMOUS_ROWS_PER_MINUTE,
                    )
                self.minute, self.used, self.skipped = minute, 0, 0
            if self.used < ANONYMOUS_ROWS_PER_MINUTE:
                self.used += 1
                return True
            self.skipped += 1
            return False


ANONYMOUS = AnonymousAllowance()


class ScimTrafficMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.log = settings.SCIM_REQUEST_LOG
        self.metrics = settings.METRICS_ENABLED
        if not (self.log or self.metrics):
            raise MiddlewareNotUsed

    def __call__(self, request):
        if not request.path.startswith("/scim/"):
            return self.get_response(request)
        received_at, started = time.time(), time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        token = getattr(request, "scim_token", None)  # set by scim_api.views.ScimView
        if self.metrics:
            try:
                metrics.scim_request_observe(
                    tenant=token.tenant.slug if token is not None else "",
                    resource=resource_of(request.path),
                    method=method_of(request),
                    status=response.status_code,
                    seconds=seconds,
                )
            except Exception:
                logger.exception("SCIM request not measured (request id %s)", request_id_of(request))
        if self.log:
            try:
                self.record(request, response, token, received_at, seconds)
            except Exception:
                logger.exception("SCIM request not logged (request id %s)", request_id_of(request))
        return response

    def record(self, request, response, token: ScimToken | None, received_at: float, seconds: float) -> None:
        failed = response.status_code >= 400
        write = request.method not in READ_METHODS and not is_search(request.path)
        if token is not None:
            kind = ERROR if failed else WRITE if write else READ
            BUFFER.count(
                tenant_id=token.tenant_id,
                token_id=token.pk,
                at=received_at,
                kind=kind,
                ms=seconds * 1000,
            )
        if (write or failed) and (token is not None or ANONYMOUS.take(received_at)):
            self.log_row(request, response, token, received_at, seconds)
        BUFFER.flush_if_due()

    def log_row(self, request, response, token: ScimToken | None, received_at: float, seconds: float) -> None:
        failed = response.status_code >= 400
        answer = answered(response)
        scim_type = answer.get("scimType") if failed and isinstance(answer, dict) else None
        fields = {
            "received_at": datetime.fromtimestamp(received_at, UTC),
            "tenant_id": token.tenant_id if token is not None else None,
            "token": token,
            "method": method_of(request),
            "path": _text(request.path, 500),
            "query": _text(query_names(request.GET), 300),
            "status": response.status_code,
            "scim_type": str(scim_type or "")[:32],
            "latency_ms": round(seconds * 1000, 3),
            "request_id": _text(request_id_of(request), 64),
        }
        body = getattr(request, "scim_body", None)  # as scim_api.parsers read it, if it did
        if body is not None:
            never = never_returned(token.tenant if token is not None else None)
            fields["body"], fields["body_truncated"] = redacted_body(body, never)
        if resource_of(request.path) == "Bulk" and not failed:
            fields["operations"] = bulk_operations(answer)
        BUFFER.log(fields)


def answered(response):
    """The response's JSON body: a SCIM view's data as it was rendered, or an error document the
    middleware or Django's handlers wrote."""
    data = getattr(response, "data", None)
    if data is not None:
        return data
    if response.status_code >= 400 and response.get("Content-Type", "").startswith(SCIM_CONTENT_TYPE):
        try:
            return json.loads(response.content)
        except ValueError:
            return None
    return None
