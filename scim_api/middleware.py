"""Under /scim/, an unexpected exception is a SCIM 500 document, never a page or a stack trace,
even with DEBUG on. The exception is logged with the request id for the operator."""

import logging

from scim_api.errors import scim_json_response

logger = logging.getLogger("scim_api")


class ScimErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/scim/"):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return scim_json_response(500, "The server failed to process the request; the error has been logged.")
