"""Content negotiation for SCIM: always answer application/scim+json, read any JSON media type.

Identity providers send ``application/json``, ``application/scim+json`` (with or without a
charset) and sometimes no Content-Type; the answer is the same SCIM JSON whatever they Accept,
rather than a 406 that no IdP would handle.
"""

from rest_framework.negotiation import BaseContentNegotiation


class ScimContentNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        media_type = request.content_type.split(";", 1)[0].strip().lower()
        if media_type in (
            "",
            "application/json",
            "application/scim+json",
            "text/json",
        ) or media_type.endswith("+json"):
            return parsers[0]
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
