"""The userName rule (RFC 8265, UsernameCaseMapped) and the keys names are compared by
(directory.identifiers), without a database."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.errors import InvalidIdentifier
from directory.identifiers import PROFILE, key_function, lookup_key, user_name_key

# Names that look like another and were, before RFC 8265 applied, a second account beside it.
LOOK_ALIKES = [
    ("\uff21\uff2c\uff29\uff23\uff25@example.com", "alice@example.com"),  # fullwidth ALICE
    ("jose\u0301", "jos\u00e9"),  # NFD beside NFC
    ("\uff76\uff9e", "\u30ac"),  # halfwidth katakana GA, as two code points
    ("\u212aevin", "kevin"),  # KELVIN SIGN
]
# Which the rule refuses, and the character the refusal names.
REFUSED = [
    ("alice@example.com ", "U+0020 SPACE, a space"),
    (" alice", "U+0020 SPACE, a space"),
    ("alice smith", "U+0020 SPACE, a space"),
    ("car\u200bol", "U+200B ZERO WIDTH SPACE, an invisible formatting character"),
    ("bob\n", "U+000A, a control character"),
    ("bo\x07b", "U+0007, a control character"),
    ("\u202eevil", "U+202E RIGHT-TO-LEFT OVERRIDE, an invisible formatting character"),
    ("\ufeffbom", "U+FEFF ZERO WIDTH NO-BREAK SPACE, an invisible formatting character"),
    ("so\u00adft", "U+00AD SOFT HYPHEN, an invisible formatting character"),
    ("nb\u00a0sp", "U+00A0 NO-BREAK SPACE, a compatibility form"),
    ("\ufb01x", "U+FB01 LATIN SMALL LIGATURE FI, a compatibility form"),
    ("party\U0001f389", "U+1F389 PARTY POPPER, a symbol"),
    ("o\u2019brien", "U+2019 RIGHT SINGLE QUOTATION MARK, punctuation other than ASCII's"),
    ("car\u200dol", "U+200D ZERO WIDTH JOINER, a character allowed only in certain contexts"),
]


@pytest.mark.parametrize(("name", "plain"), LOOK_ALIKES)
def test_a_look_alike_has_the_key_of_the_plain_name(name, plain):
    assert user_name_key(name) == user_name_key(plain) == lookup_key(name) == lookup_key(plain)


def test_case_is_folded_as_before_the_rule_so_no_account_is_split():
    """Casefolding on top of the profile's lowercasing: what was one account stays one."""
    assert user_name_key("Stra\u00dfe") == user_name_key("STRASSE") == "strasse"
    assert user_name_key("\u03a3\u0391\u03a3") == user_name_key("\u03c3\u03b1\u03c2")  # final sigma
    assert user_name_key("\u00c9LODIE@Example.FR") == "\u00e9lodie@example.fr"


@pytest.mark.parametrize(("name", "named"), REFUSED)
def test_the_rule_refuses_and_says_which_character(name, named):
    with pytest.raises(InvalidIdentifier) as refused:
        user_name_key(name)
    assert refused.value.message.startswith(f"userName contains {named}")
    assert refused.value.message.endswith("which is not allowed (RFC 8265).")


def test_right_to_left_text_must_keep_the_bidi_rule():
    assert user_name_key("\u05e9\u05dc\u05d5\u05dd") == "\u05e9\u05dc\u05d5\u05dd"
    with pytest.raises(InvalidIdentifier, match="Bidi Rule"):
        user_name_key("\u05e9\u05dc\u05d5\u05dd1a")


def test_an_empty_user_name_is_refused():
    with pytest.raises(InvalidIdentifier, match="empty"):
        user_name_key("")


@pytest.mark.parametrize(
    "lookup",
    [
        "alice@example.com ",
        "\talice@example.com",
        "ali\u200bce@example.com",
        "\u202ealice@example.com",
        "alice@example.com\n",
        "\uff21\uff2c\uff29\uff23\uff25@example.com\u200b ",
    ],
)
def test_a_lookup_reads_a_name_without_what_cannot_be_seen(lookup):
    assert lookup_key(lookup) == "alice@example.com"


@pytest.mark.parametrize("lookup", ["jo hn", "party\U0001f389", "\u200b", "  ", "\n"])
def test_a_lookup_no_name_can_match_is_keyed_without_error(lookup):
    key = lookup_key(lookup)
    assert isinstance(key, str)
    with pytest.raises(InvalidIdentifier):
        user_name_key(key or " ")


def test_emails_are_keyed_as_identifiers_and_other_values_casefolded():
    assert key_function("emails")("\uff21@example.com ") == "a@example.com"
    assert key_function("user_name") is lookup_key
    assert key_function("phone_numbers")("\uff11 ABC") == "\uff11 abc"


def test_every_printable_ascii_character_is_keyed_as_the_profile_keys_it():
    """The shortcut for plain ASCII (under a microsecond) answers as precis-i18n does."""
    for point in range(0x21, 0x7F):
        name = f"a{chr(point)}Z"
        assert user_name_key(name) == PROFILE.enforce(name).casefold() == lookup_key(name)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12))
def test_the_ascii_shortcut_refuses_what_the_profile_refuses(name):
    try:
        expected = PROFILE.enforce(name).casefold()
    except UnicodeEncodeError:
        with pytest.raises(InvalidIdentifier):
            user_name_key(name)
    else:
        assert user_name_key(name) == expected


# Characters that map, fold, combine, hide or break the rule, mixed with plain letters.
TRICKY = list(
    "aAz\u00df\u1e9e\u03c3\u03c2\u03a3\u0345\u0301\u0307\u0130\u0131iI\u01f0\u030c\u13e3\uabb3"
    "\ufb01\uff21\uff41\uff76\uff9e\u200b\u200c\u200d\u094d\u0915 \n\u202e\u00a0\u05d0\u0661\u06f1"
    "\u00b7l\u0375@."
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=16), st.text(alphabet=st.sampled_from(TRICKY), max_size=12)))
def test_a_lookup_never_raises_and_agrees_with_the_rule_where_it_accepts(value):
    key = lookup_key(value)
    assert lookup_key(key) == key  # a key looked up is itself
    try:
        stored = user_name_key(value)
    except InvalidIdentifier:
        return
    assert stored == key
