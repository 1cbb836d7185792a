"""Responses are application/scim+json (RFC 7644 section 3.1), UTF-8, compact."""

from rest_framework.renderers import JSONRenderer


class ScimJSONRenderer(JSONRenderer):
    media_type = "application/scim+json"
    format = "scim"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter
    ensure_ascii = False
    compact = True
