"""One log record per request (logger ``roster.requests``, INFO): method, path, status, time, the
request id (SCIM's ``X-Request-ID``, as given or made), and who called: the SCIM token's name and
tenant, or the person signed in. Never a credential, a query string (a SCIM filter names people)
or a body. With LOG_FORMAT=json each is one JSON object with these as its fields."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("roster.requests")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra=request_fields(request, response, time.monotonic() - started),
            )
        return response


def request_fields(request, response, seconds: float) -> dict:
    token = getattr(request, "scim_token", None)  # set by scim_api.views.ScimView
    user = getattr(request, "user", None)
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "ms": round(seconds * 1000, 1),
        "request_id": response.get("X-Request-ID", ""),
    }
    if token is not None:
        fields |= {"tenant": token.tenant.slug, "token": token.name}
    elif user is not None and user.is_authenticated:
        fields["user"] = user.get_username()
    return fields
