"""A SCIM request's id: the client's ``X-Request-ID`` when it is a plausible one, else a new one.
It is sent back in the ``X-Request-ID`` header of every /scim/ response and at the end of every
error's ``detail`` ("... (request id abc)"), so that a customer pasting an error gives us the key
to the logs (directory/request_log.py), the request log (directory.models.ScimRequest) and the
audit events the request caused. ``scim_api.middleware`` assigns it before anything else runs."""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest

_GIVEN = re.compile(r"^[\w.:-]{1,64}$")
# The id of the request this thread is answering, for error documents built where no request is
# at hand (Django's own error handlers, the middleware's).
_current: ContextVar[str] = ContextVar("scim_request_id", default="")


def request_id_of(request: HttpRequest) -> str:
    """The request's id, chosen on first asking and kept on the request."""
    chosen = getattr(request, "scim_request_id", None)
    if chosen is None:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        chosen = given if _GIVEN.match(given) else uuid.uuid4().hex
        request.scim_request_id = chosen  # type: ignore[attr-defined]
    return chosen


@contextmanager
def answering(request_id: str) -> Iterator[None]:
    """While a request is answered: error documents name ``request_id``."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def with_request_id(detail: str) -> str:
    request_id = _current.get()
    return f"{detail} (request id {request_id})" if request_id else detail
