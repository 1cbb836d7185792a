"""SCIM errors (RFC 7644 section 3.12, RFC 9865 section 2.1): one exception class per
status/scimType, the mapping from the directory services' refusals, and the handler that renders
every failure under /scim/ (DRF's and Django's own included) as an Error document. Every scimType
the server sends is declared here."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from directory.errors import (
    AlreadyExists,
    DoesNotExist,
    InvalidIdentifier,
    InvalidReference,
    SchemaChanged,
    ServiceError,
    VersionMismatch,
)
from scim_api.request_ids import with_request_id
from scim_api.schema import ERROR

logger = logging.getLogger(__name__)

SCIM_CONTENT_TYPE = "application/scim+json"


class ScimError(drf.APIException):
    """A refusal as RFC 7644 section 3.12 describes it: an HTTP status (``status_code``), a
    ``scimType`` where the RFC defines one for it, and a detail a person can act on. A DRF
    ``APIException``, so that DRF's own handling (and ``exception_handler`` below) renders it."""

    status_code = 400
    scim_type: str | None = None
    # One string, sent as it is: never DRF's list or dict of details (its stubs allow those).
    detail: str  # type: ignore[assignment]

    def __init__(self, detail: str, *, scim_type: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if scim_type is not None:
            self.scim_type = scim_type
        self.headers = headers or {}


# RFC 7644 section 3.12, Table 9: the scimTypes of a 400.


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class Mutability(ScimError):
    scim_type = "mutability"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


# RFC 9865 section 2.1, Table 3: the scimTypes of cursor paging.


class InvalidCursor(ScimError):
    """400, "Cursor value is invalid"."""

    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    """400, "Cursor has expired"."""

    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    """400, "Count value is invalid"."""

    scim_type = "invalidCount"


# The other statuses of RFC 7644 section 3.12.


class NotFound(ScimError):
    status_code = 404


class Uniqueness(ScimError):
    status_code = 409
    scim_type = "uniqueness"


class PreconditionFailed(ScimError):
    status_code = 412


class PayloadTooLarge(ScimError):
    status_code = 413


class NotImplementedScim(ScimError):
    status_code = 501


class ServiceUnavailable(ScimError):
    status_code = 503


# What directory services refuse (directory/errors.py), as SCIM errors.
class SchemaBusy(ServiceUnavailable):
    """The tenant's extension schemas kept changing while a write was worked out (503, retried
    by identity providers; see ``scim_api.resources.with_current_schemas``)."""

    def __init__(self, detail: str, **kwargs):
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


SERVICE_ERRORS: dict[type[ServiceError], type[ScimError]] = {
    SchemaChanged: SchemaBusy,
    DoesNotExist: NotFound,
    AlreadyExists: Uniqueness,
    InvalidReference: InvalidValue,
    InvalidIdentifier: InvalidValue,
    VersionMismatch: PreconditionFailed,
}


def scim_error_of(error: ServiceError) -> ScimError:
    """The SCIM error a service's refusal answers with (any other refusal: 400 invalidValue)."""
    for service_error, scim_error in SERVICE_ERRORS.items():
        if isinstance(error, service_error):
            return scim_error(error.message)
    return InvalidValue(error.message)


# Seconds an identity provider is asked to wait before retrying a request the database could not
# serve (RFC 9110 section 10.2.3): long enough for a failover or restart, short enough not to
# delay provisioning.
RETRY_AFTER_SECONDS = 5


def database_unavailable(error: Exception, where: str) -> ServiceUnavailable:
    """The answer to a request the database failed (down, restarting, unreachable, or it aborted
    the transaction): 503 with Retry-After, so that identity providers retry it later (RFC 7644
    section 3.12 leaves 5xx to HTTP) instead of recording a failed provisioning. Logged for the
    operator, without a traceback: an outage fails every request the same way."""
    logger.error("Database unavailable for %s: %s", where, " ".join(str(error).split()))
    return ServiceUnavailable(
        "The directory's database is unavailable, so the request was not completed. Retry it later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` for an error's detail, cut in the middle when longer than ``limit``: a
    client's 5,000-digit count need not come back whole."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...{text[-(limit // 4) :]} ({len(text)} characters)"


def error_document(status: int, detail: str, scim_type: str | None = None) -> dict:
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


# DRF's exceptions, as SCIM statuses: the status and detail carry over; a few gain a scimType.
_DRF_SCIM_TYPES = {drf.ParseError: "invalidSyntax"}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER for the SCIM views: every error is an Error document, a service's
    refusal included (``SERVICE_ERRORS``), its detail ending with the request's id. (A Bulk
    operation's error, inside a 200, does not repeat it: the response's header has it.)"""
    if isinstance(exc, ServiceError):
        exc = scim_error_of(exc)
    elif isinstance(exc, OperationalError | InterfaceError):
        request = context.get("request")
        exc = database_unavailable(exc, f"{request.method} {request.path}" if request else "a request")
    if isinstance(exc, ScimError):
        return Response(
            error_document(exc.status_code, with_request_id(exc.detail), exc.scim_type),
            status=exc.status_code,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.APIException):
        headers = {}
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            exc.status_code = 401
            headers["WWW-Authenticate"] = 'Bearer realm="scim"'
        wait = getattr(exc, "wait", None)  # drf.Throttled's seconds
        if wait:
            headers["Retry-After"] = str(int(wait + 0.999))
        detail = exc.detail if isinstance(exc.detail, str) else _flatten(exc.detail)
        scim_type = next((t for cls, t in _DRF_SCIM_TYPES.items() if isinstance(exc, cls)), None)
        return Response(
            error_document(exc.status_code, with_request_id(str(detail)), scim_type),
            status=exc.status_code,
            headers=headers,
        )
    return None  # anything else is a bug: Django's 500 handler answers (see server_error)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def scim_json_response(status: int, detail: str, scim_type: str | None = None) -> JsonResponse:
    return JsonResponse(
        error_document(status, with_request_id(detail), scim_type),
        status=status,
        content_type=SCIM_CONTENT_TYPE,
        json_dumps_params={"separators": (",", ":"), "ensure_ascii": False},
    )


def _django_handler(status: int, detail: str, default):
    """Django's own error views, answering in SCIM under /scim/ (used when DEBUG is off)."""

    def handler(request, exception=None):
        if request.path.startswith("/scim/"):
            return scim_json_response(status, detail)
        return default(request, exception) if exception is not None else default(request)

    return handler


def _defaults():
    from django.views import defaults

    return defaults


handler400 = _django_handler(
    400, "The request could not be read.", lambda r, e: _defaults().bad_request(r, e)
)
handler404 = _django_handler(404, "No such SCIM endpoint.", lambda r, e: _defaults().page_not_found(r, e))
handler500 = _django_handler(
    500,
    "The server failed to process the request; the error has been logged.",
    lambda r: _defaults().server_error(r),
)
