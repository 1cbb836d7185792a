"""Entity tags (RFC 7644 section 3.14; RFC 9110 section 8.8.3): a resource's version as the weak
tag ``W/"<version>"``, and the tags clients send back in If-Match, If-None-Match and a bulk
operation's ``version``.

A tag is read as a version only when it is one this server could have issued: ASCII digits (not
any Unicode digit ``\\d`` and ``int()`` accept) that fit ``meta.version``'s column. Any other tag
names no version and so matches none: If-Match answers 412 for it, If-None-Match reads the
resource, and no digit string is ever handed to ``int()`` unbounded or to the database as a
number it cannot hold.
"""

import re

# meta.version is a PositiveBigIntegerField: a signed 64-bit column on every database.
MAX_VERSION = 2**63 - 1
_TAG = re.compile(r'\s*(?:W/)?"(?P<version>[0-9]+)"\s*', re.ASCII)

# The version of a tag that names no version this server issues: matches no resource.
NO_VERSION = -1


def is_version_tag(tag: str) -> bool:
    """Whether ``tag`` has the form of the tags this server issues, ``W/"<digits>"`` (or strong)."""
    return _TAG.fullmatch(tag) is not None


def version_of(tag: str) -> int:
    """The version a single entity tag names, or NO_VERSION."""
    match = _TAG.fullmatch(tag)
    digits = match.group("version") if match else ""
    if not digits or len(digits) > len(str(MAX_VERSION)):  # int() of 5,000 digits raises
        return NO_VERSION
    version = int(digits)
    return version if version <= MAX_VERSION else NO_VERSION


def expected_version(header: str | None) -> int | None:
    """The version an If-Match header (or a bulk operation's ``version``) demands: None when any
    version will do (absent, or ``*``), NO_VERSION for a tag this server never issued (412 once
    the resource is found: a missing one is 404 first)."""
    if header is None or header.strip() == "*":
        return None
    return version_of(header.split(",")[0])


def matches(header: str | None, version: int) -> bool:
    """Whether an If-None-Match header names ``version`` (or is ``*``)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(version_of(tag) == version for tag in header.split(","))
