"""Pages refuse a query string with a NUL character (400), before any view reads it: PostgreSQL
refuses NUL in text, so the admin's own list filters (``?state__exact=%00``) would otherwise answer
500. Forms already refuse NUL (Django's CharField); SCIM answers for itself (scim_api), and is left
alone."""

from django.http import HttpResponseBadRequest


class NulGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "%00" in request.META.get("QUERY_STRING", "")
            and not request.path.startswith("/scim/")
            and _nul(request)
        ):
            return HttpResponseBadRequest(
                "The address carries a NUL character, which no filter or search can hold; nothing was done.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _nul(request) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())
