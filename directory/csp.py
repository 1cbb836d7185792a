"""django-csp's middleware, made to pass the paths its policy excludes (SCIM) straight through.

django-csp builds the policy string for every response and only then looks at
``EXCLUDE_URL_PREFIXES``: about 110 µs per SCIM request for a header it then leaves out. A SCIM
response is JSON that no browser renders as a page, so there is nothing to protect there.
"""

from csp.middleware import CSPMiddleware as PolicyMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


def _excluded(request: HttpRequest) -> bool:
    prefixes = settings.CONTENT_SECURITY_POLICY.get("EXCLUDE_URL_PREFIXES", ())
    return request.path_info.startswith(tuple(prefixes))


class CSPMiddleware(PolicyMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not _excluded(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if _excluded(request):
            return response
        return super().process_response(request, response)
