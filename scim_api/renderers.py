"""Responses are application/scim+json (RFC 7644 section 3.1), UTF-8, compact.

Encoded with orjson: several times faster than the standard library's encoder on a page of 100
users, and it embeds ``orjson.Fragment`` values as they are, so JSON a row read as text (a user's
emails, say) goes out without being decoded and encoded again.
"""

import orjson
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()


def _default(value):
    # What orjson does not know (lazy translations, Decimal, ...) as DRF's encoder writes it.
    return _fallback.default(value)


class ScimJSONRenderer(BaseRenderer):
    media_type = "application/scim+json"
    format = "scim"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)
