"""Reading SCIM request bodies defensively: bounded size, strict UTF-8 and JSON, bounded nesting,
and numbers that every attribute and the database can hold."""

import json
import math
import re

from django.conf import settings
from rest_framework.parsers import BaseParser

from scim_api.errors import InvalidSyntax, InvalidValue, PayloadTooLarge

MAX_DEPTH = 32  # SCIM documents nest a handful of levels; deeper is an attack or a bug
# Python's own bound on turning digits into an int (sys.int_info.default_max_str_digits): beyond it
# int() raises ValueError, and str() of such an int would raise it again later. Fixed here rather
# than read from sys, which a process may change.
MAX_INTEGER_DIGITS = 4300


def _reject_constant(name: str):
    raise InvalidSyntax(f"{name} is not valid JSON.")


def _integer(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INTEGER_DIGITS:
        raise InvalidValue(
            f"The request body has an integer of {digits} digits; at most {MAX_INTEGER_DIGITS} are read."
        )
    return int(text)


def _decimal(text: str) -> float:
    # JSON has no infinity, but 1e999 overflows a float to one: stored, it read back as "inf".
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
        raise InvalidValue(f"The request body has the number {shown}, which is not a finite decimal.")
    return value


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise InvalidSyntax(f"The key {key!r} appears twice in one JSON object.")
        result[key] = value
    return result


def _check_depth(value, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidSyntax(f"The JSON document is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def max_payload_bytes(view) -> int:
    return getattr(view, "max_payload_bytes", settings.SCIM_MAX_PAYLOAD_BYTES)


def parse_json_bytes(raw: bytes):
    """Bytes to a JSON value, or InvalidSyntax saying what is wrong with them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSyntax(f"The request body is not valid UTF-8 (byte {error.start}).") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_integer,
            parse_float=_decimal,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as error:
        raise InvalidSyntax(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        ) from None
    except RecursionError:
        raise InvalidSyntax(f"The JSON document is nested more than {MAX_DEPTH} levels deep.") from None
    _check_depth(value)
    if _SURROGATE_ESCAPE.search(text):
        _check_unicode(value)
    return value


# A \uD800-\uDFFF escape: JSON's only way to a surrogate, since the body decoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _check_unicode(value) -> None:
    """RFC 8259 section 8.2 lets JSON escape a lone UTF-16 surrogate (``"\\ud800"``), which is no
    Unicode character: nothing can store or send it as UTF-8 (PostgreSQL refused it at insert, a
    500). Escaped pairs (an emoji as ``"\\ud83d\\ude00"``) are one character and pass."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        surrogate = f"\\u{ord(error.object[error.start]):04x}"
        raise InvalidSyntax(
            f"The request body has a string with a lone UTF-16 surrogate ({surrogate}), which is not "
            "a Unicode character."
        ) from None


class ScimJSONParser(BaseParser):
    media_type = "application/scim+json"

    def parse(self, stream, media_type=None, parser_context=None):
        view = (parser_context or {}).get("view")
        limit = max_payload_bytes(view)
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        if not raw.strip():
            raise InvalidSyntax("The request body is empty; a JSON object was expected.")
        value = parse_json_bytes(raw)
        if request is not None:
            # For the request log (scim_api/traffic.py), which keeps it redacted once answered.
            request._request.scim_body = value
        return value
