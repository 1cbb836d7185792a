r"""Identifiers: resource ids as clients write them (``parse_id``), and identifiers that must not
look alike: the userName rule and the keys users are found by.

A userName is a PRECIS ``UsernameCaseMapped`` string (RFC 8265 section 3.3, over the
IdentifierClass of RFC 8264 section 4.2), enforced by precis-i18n: fullwidth and halfwidth forms
are mapped to their plain forms, the result is lowercased and put in NFC, and a name that holds a
space, a control or formatting character (U+200B, U+202E, ...), a symbol or a compatibility form
is refused, as is right-to-left text that breaks the Bidi Rule (RFC 5893). fullwidth ``ALICE@example.com``
(U+FF21...) and ``jose\u0301`` are then the users ``alice@example.com`` and ``josé``, not second accounts
beside them. RFC 8265 section 3.1 lets a username be several userparts separated by spaces; Roster
allows none (issue 16): every identity provider sends one token (an email address, a login), and a
space at either end is the look-alike this rule is for.

On top of the profile's lowercasing the key is casefolded (and put in NFC again), as RFC 7613
did before RFC 8265 and as every caseExact-false comparison in Roster is: two names that were one
account before this rule (``Straße``, ``STRASSE``) stay one, so that applying it could only find
new look-alikes, never split an identity in two.

- ``user_name_key``: the key a userName is stored under, for a name being written; raises
  ``InvalidIdentifier`` saying which character the rule refuses.
- ``lookup_key``: what a lookup compares with (filters, the emails' keys); never raises. A value
  the rule refuses only because of invisible characters, controls, or spaces at either end is read
  without them, so that a lookup of ``carol\u200b`` or ``alice@example.com `` finds the one
  account; any other value is keyed as well as it can be (width mapping, casefolding, NFC), and
  finds a user it looks like (``ﬁx`` casefolds to ``fix``), one stored before the rule, or nobody.

Both are on every write and every lookup: a plain printable-ASCII value, which the profile leaves
as it is but for case (its ASCII7 category, RFC 8264), is lowercased without the profile (under a
microsecond, where the profile takes 40 to 60; tests/directory/test_identifiers.py holds the two to
the same answer), and the keys of the other values seen last are kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
from collections.abc import Callable

from precis_i18n import get_profile

from directory.errors import InvalidIdentifier


def parse_id(value: object) -> uuid.UUID | None:
    """The resource id ``value`` names (any form ``uuid.UUID`` reads: upper case, braces,
    ``urn:uuid:``), or None when it names none; never raises, as ids come from clients."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


PROFILE = get_profile("UsernameCaseMapped")
_UCD = PROFILE.base.ucd
_PLAIN = re.compile(r"[!-~]+")  # printable ASCII without the space: PVALID throughout (ASCII7)

# What the profile's refusals (precis-i18n's reasons, "DISALLOWED/<kind>") are, for a person.
_KINDS = {
    "spaces": "a space",
    "controls": "a control character",
    "precis_ignorable_properties": "an invisible formatting character",
    "symbols": "a symbol",
    "punctuation": "punctuation other than ASCII's",
    "has_compat": "a compatibility form (write the plain character)",
    "other_letter_digits": "a letter or digit of no identifier class",
    "unassigned": "a code point Unicode does not assign",
    "old_hangul_jamo": "a conjoining Hangul jamo",
    "exceptions": "a character RFC 8264 excludes",
}
# The contextual rules of RFC 5892 appendix A (zero width joiners, middle dots, ...).
_CONTEXTUAL = "a character allowed only in certain contexts (RFC 5892), not in this one"
_CONTEXTUAL_KINDS = frozenset(
    {
        "zero_width_joiner",
        "zero_width_nonjoiner",
        "middle_dot",
        "greek_keraia",
        "hebrew_punctuation",
        "katakana_middle_dot",
        "arabic_indic",
        "extended_arabic_indic",
    }
)


def user_name_key(value: str) -> str:
    """The key ``value`` is stored under as a userName; ``InvalidIdentifier`` if RFC 8265 refuses it."""
    if _PLAIN.fullmatch(value):
        return value.lower()
    try:
        return _key(value)
    except UnicodeEncodeError as error:
        raise InvalidIdentifier(_refusal(error)) from None


def lookup_key(value: str) -> str:
    """The key of the user a lookup of ``value`` means (see the module's docstring); never raises."""
    if _PLAIN.fullmatch(value):
        return value.lower()
    try:
        return _key(value)
    except UnicodeEncodeError:
        pass
    cleaned = "".join(c for c in value if not _invisible(c)).strip()
    if cleaned and cleaned != value:
        try:
            return _key(cleaned)
        except UnicodeEncodeError:
            pass
    return unicodedata.normalize("NFC", _UCD.width_map(cleaned).casefold())


def key_function(field: str | None) -> Callable[[str], str]:
    """How lookups compare the caseExact-false values of ``field`` (a User field, or the attribute
    of a UserValue): userName and emails as identifiers, anything else casefolded."""
    return lookup_key if field in IDENTIFIERS else str.casefold  # models.casefold_key


# The fields compared as identifiers. Emails are not refused for what userName may not hold (they
# are contact data, and RFC 7643 leaves their form to the client): only keyed alike.
IDENTIFIERS = frozenset({"user_name", "emails"})


# A pure function of its argument, and looked up again with the same names (an identity provider
# reads a user by userName before each write): kept for the values seen last, bounded.
@functools.lru_cache(maxsize=4096)
def _key(value: str) -> str:
    return unicodedata.normalize("NFC", PROFILE.enforce(value).casefold())


def _invisible(char: str) -> bool:
    """Controls and default-ignorable code points (U+200B, U+202E, U+FEFF, U+00AD, ...): what can
    be in a string without being seen."""
    point = ord(char)
    return _UCD.control(point) or _UCD.default_ignorable(point)


def _refusal(error: UnicodeEncodeError) -> str:
    kind = error.reason.removeprefix("DISALLOWED/")
    if kind == "empty":
        return "userName is empty."
    if kind == "bidi_rule":
        return (
            "userName mixes right-to-left and left-to-right characters in a way the Bidi Rule "
            "(RFC 5893) does not allow (RFC 8265)."
        )
    if not 0 <= error.start < len(error.object):
        return f"userName is not allowed (RFC 8265: {kind})."
    char = error.object[error.start]
    name = unicodedata.name(char, "")
    shown = f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"
    why = _CONTEXTUAL if kind in _CONTEXTUAL_KINDS else _KINDS.get(kind, "a character of no identifier class")
    return f"userName contains {shown}, {why}, which is not allowed (RFC 8265)."
