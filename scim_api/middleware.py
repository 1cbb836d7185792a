"""Under /scim/, every failure is a SCIM error document: never an HTML page or a stack trace,
even with DEBUG on.

It sits first in MIDDLEWARE, so it also sees what Django's own middleware answers before any view
runs (a Host not in ALLOWED_HOSTS, a CSRF refusal): such a response is replaced by a SCIM error
with the same status. An exception a view raises is logged with the request id for the operator
and answered as a SCIM 500; one the database raised (it is down, or aborted the transaction) as a
503 with Retry-After.

It gives each request its id (scim_api/request_ids.py) before anything below runs, and every
answer under /scim/ carries it: in ``X-Request-ID``, and in an error's ``detail``.
"""

import logging
from http import HTTPStatus

from django.db import InterfaceError, OperationalError

from scim_api.errors import SCIM_CONTENT_TYPE, database_unavailable, scim_json_response
from scim_api.request_ids import answering, request_id_of

logger = logging.getLogger("scim_api")


class ScimErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/scim/"):
            return self.get_response(request)
        request_id = request_id_of(request)
        with answering(request_id):
            response = self.get_response(request)
            if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
                SCIM_CONTENT_TYPE
            ):
                status = HTTPStatus(response.status_code)
                response = scim_json_response(status.value, f"{status.phrase}: {status.description}.")
        response["X-Request-ID"] = request_id
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith("/scim/"):
            return None
        if isinstance(exception, OperationalError | InterfaceError):
            error = database_unavailable(exception, f"{request.method} {request.path}")
            response = scim_json_response(error.status_code, error.detail)
            for name, value in error.headers.items():
                response[name] = value
            return response
        logger.exception(
            "Unhandled error on %s %s (request id %s)", request.method, request.path, request_id_of(request)
        )
        return scim_json_response(500, "The server failed to process the request; the error has been logged.")
