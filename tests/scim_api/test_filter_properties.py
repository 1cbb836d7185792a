"""Property-based tests of the filter compiler: random directories, random filters, and the ids the
database returns compared with a slow reference evaluator over the same users' SCIM documents.

The reference evaluator is written here, in plain Python over the documents the users were
created from, rather than scim2-models' ``ScimFilter.match``: that evaluator reads ``ne`` on a
multi-valued attribute as "no element equals" (RFC 7644 says a filter on a multi-valued attribute
matches when any of its values does), and compares an empty string as a value; these are the
rules this server implements and states (RFC 7644 section 3.4.2.2, RFC 7643 section 2.5):

1. Attribute names, operators and ``and``/``or``/``not`` are case-insensitive.
2. Unassigned means absent, null or "" (a multi-valued attribute: no elements).
3. caseExact false strings (userName, displayName, title, names, emails.value and .type)
   compare casefolded (``str.casefold``); caseExact true ones (externalId) compare as they are.
   ``gt``/``ge``/``lt``/``le`` order strings by code point (SQLite's BINARY collation;
   PostgreSQL's C/C.UTF-8, which these tests check the database uses before ordering strings).
4. An unassigned value satisfies ``ne`` (with a non-null operand) and no other comparison:
   ``title lt "b"`` and ``title sw ""`` skip users without a title, ``title ne "x"`` keeps them.
5. ``X eq null`` holds exactly when ``X pr`` does not, and ``X ne null`` exactly when it does.
6. ``X pr``: X assigned; a complex attribute (name) when any sub-attribute is; a multi-valued
   attribute when it has an element; ``emails.value pr`` when some element has a value.
7. ``emails.<sub> <op> <v>`` holds when some element satisfies rule 4 for its sub-attribute
   (so ``emails.value ne "a"`` holds for a user with a second address; never without emails).
8. ``emails[f]`` holds when one element satisfies all of ``f``, each element's sub-attributes
   read as singular attributes.
9. ``primary`` is a boolean that is false when absent: always assigned, like ``active``.
10. Comparisons of booleans take ``eq``/``ne`` only; strings never compare with numbers.

Each example creates a few dozen users through the same services the API uses, evaluates a handful
of filters both ways (and each negated, whose result must be the exact complement), and rolls back.
"""

import json
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from directory.models import User
from directory.services.tokens import token_create
from directory.services.users import user_create
from scim_api.documents import normalize_resource
from scim_api.filters import compile_filter
from scim_api.schema import CORE_USER, USER
from scim_api.storage import fields_from_document

# Alphabets small enough that values collide, with mixed case, non-ASCII and LIKE's wildcards.
# ß casefolds to "ss": only for attributes stored casefolded (PostgreSQL's UPPER() keeps ß).
KEYED = "aAsSßéÉ_%"
FOLDED = "aAbéÉ_%"
EXACT = 'aAbéÉ_%"\\'
TYPES = ["work", "Work", "HOME", "home", "other"]
TYPE_OPERANDS = ["work", "WORK", "Home", "other", "o", "w", "", "x"]

STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


@dataclass(frozen=True)
class Attr:
    name: str  # as declared; rendered in random case
    alphabet: str
    case_exact: bool = False
    kind: str = "string"  # string, boolean, type


SINGULAR = [
    Attr("userName", KEYED),
    Attr("displayName", KEYED),
    Attr("title", FOLDED),
    Attr("name.familyName", FOLDED),
    Attr("name.givenName", FOLDED),
    Attr("externalId", EXACT, case_exact=True),
    Attr("active", "", kind="boolean"),
]
ELEMENT = [Attr("value", KEYED), Attr("type", "", kind="type"), Attr("primary", "", kind="boolean")]


def _ordering_collation_is_code_point() -> bool:
    if connection.vendor == "sqlite":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'B' < 'a' AND '_' > 'Z' AND 'é' > 'z' AND 'a' < 'ab'")
        return bool(cursor.fetchone()[0])


# --- users ------------------------------------------------------------------------------------------


def _text(alphabet: str, min_size: int = 1, max_size: int = 2):
    # Short strings from small alphabets: equal, prefix and substring values are frequent.
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def _email():
    # Never {}: an element with nothing in it is no element (the API drops it).
    optional = {"type": st.sampled_from(TYPES), "primary": st.just(True)}
    return st.one_of(
        st.fixed_dictionaries({"value": _text(KEYED)}, optional=optional),
        st.fixed_dictionaries({"type": st.sampled_from(TYPES)}, optional={"primary": st.just(True)}),
    )


def _one_primary(emails: list[dict]) -> list[dict]:
    """At most one element may be primary (the API refuses more): keep the first."""
    first = next((i for i, email in enumerate(emails) if email.get("primary")), None)
    return [
        email if i == first else {k: v for k, v in email.items() if k != "primary"} or {"type": "other"}
        for i, email in enumerate(emails)
    ]


_user = st.fixed_dictionaries(
    {"userName": _text(KEYED, max_size=3), "active": st.booleans()},
    optional={
        "displayName": _text(KEYED),
        "title": _text(FOLDED),
        "externalId": _text(EXACT),
        "name": st.fixed_dictionaries({}, optional={"familyName": _text(FOLDED), "givenName": _text(FOLDED)}),
        "emails": st.lists(_email(), max_size=3).map(_one_primary),
    },
)
users_strategy = st.lists(_user, min_size=8, max_size=40, unique_by=lambda u: u["userName"].casefold())


# --- filters: a small syntax tree, rendered with the fewest parentheses precedence allows ------------


def _case(word: str, style: int) -> str:
    return [word, word.upper(), word.lower()][style]


def _comparisons(attrs: list[Attr], ordering: bool):
    def operand(attr: Attr):
        if attr.kind == "boolean":
            return st.sampled_from([True, False, None])
        if attr.kind == "type":
            return st.one_of(st.sampled_from(TYPE_OPERANDS), st.none())
        return st.one_of(_text(attr.alphabet, min_size=0), st.none())

    def build(attr: Attr):
        def ops(value):
            if value is None or attr.kind == "boolean":
                return ["eq", "ne"]
            return STRING_OPS if ordering else ["eq", "ne", "co", "sw", "ew"]

        return operand(attr).flatmap(
            lambda value: st.tuples(
                st.just("cmp"), st.just(attr), st.sampled_from(ops(value)), st.just(value)
            )
        )

    comparisons = st.sampled_from(attrs).flatmap(build)
    present = st.tuples(st.just("pr"), st.sampled_from(attrs))
    return st.one_of(comparisons, comparisons, present)


def _logic(leaves):
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.just("and"), inner, inner),
            st.tuples(st.just("or"), inner, inner),
            st.tuples(st.just("not"), inner),
        ),
        max_leaves=5,
    )


def filters_strategy(ordering: bool):
    multi = [Attr(f"emails.{a.name}", a.alphabet, a.case_exact, a.kind) for a in ELEMENT]
    singular = _comparisons(SINGULAR + multi, ordering)
    whole = st.sampled_from([("pr", Attr("emails", "")), ("pr", Attr("name", ""))])
    value_path = st.tuples(st.just("path"), _logic(_comparisons(ELEMENT, ordering)))
    return _logic(st.one_of(singular, singular, whole, value_path))


# Built once: hypothesis needs the same strategy objects from one example to the next.
FILTERS = {ordering: filters_strategy(ordering) for ordering in (True, False)}


@st.composite
def rendered(draw, tree):
    """The filter text of ``tree``, in random case, with redundant parentheses now and then."""

    def render(node, context: str) -> str:
        kind = node[0]
        if kind in ("and", "or"):
            text = f"{render(node[1], kind)} {_case(kind, draw(st.integers(0, 2)))} {render(node[2], kind)}"
            # "and" binds tighter than "or": only an "or" inside an "and" needs parentheses.
            needed = kind == "or" and context == "and"
        elif kind == "not":
            text, needed = f"{_case('not', draw(st.integers(0, 2)))} ({render(node[1], 'not')})", False
        elif kind == "path":
            text, needed = f"{_case('emails', draw(st.integers(0, 2)))}[{render(node[1], 'path')}]", False
        elif kind == "pr":
            text, needed = f"{_case(node[1].name, draw(st.integers(0, 2)))} pr", False
        else:
            _, attr, op, value = node
            literal = json.dumps(value, ensure_ascii=draw(st.booleans()))
            name = _case(attr.name, draw(st.integers(0, 2)))
            text, needed = f"{name} {_case(op, draw(st.integers(0, 2)))} {literal}", False
        return f"({text})" if needed or draw(st.integers(0, 9)) == 0 else text

    return render(tree, "top")


# --- the reference evaluator ---------------------------------------------------------------------


def _assigned(value) -> bool:
    return value is not None and value != ""


def _compare(actual, op: str, expected, case_exact: bool) -> bool:
    """Rule 4 and 5 for one value (``actual``; None when unassigned)."""
    if expected is None:
        return _assigned(actual) == (op == "ne")
    if not _assigned(actual):
        return op == "ne"
    if isinstance(expected, bool) or isinstance(actual, bool):
        return (actual == expected) == (op == "eq")
    a, e = (actual, expected) if case_exact else (actual.casefold(), expected.casefold())
    return {
        "eq": a == e,
        "ne": a != e,
        "co": e in a,
        "sw": a.startswith(e),
        "ew": a.endswith(e),
        "gt": a > e,
        "ge": a >= e,
        "lt": a < e,
        "le": a <= e,
    }[op]


def _element_value(element: dict, sub: str):
    if sub == "primary":
        return element.get("primary") is True  # rule 9
    return element.get(sub)


def _singular_value(doc: dict, name: str):
    head, _, sub = name.partition(".")
    value = doc.get(head)
    return (value or {}).get(sub) if sub else value


def evaluate(node, doc: dict) -> bool:
    kind = node[0]
    if kind == "and":
        return evaluate(node[1], doc) and evaluate(node[2], doc)
    if kind == "or":
        return evaluate(node[1], doc) or evaluate(node[2], doc)
    if kind == "not":
        return not evaluate(node[1], doc)
    emails = doc.get("emails") or []
    if kind == "path":
        return any(_evaluate_element(node[1], element) for element in emails)
    attr: Attr = node[1]
    if attr.name.startswith("emails."):
        sub = attr.name.split(".", 1)[1]
        if kind == "pr" or node[3] is None:
            present = any(_assigned(_element_value(e, sub)) for e in emails)
            return present if kind == "pr" or node[2] == "ne" else not present
        _, _, op, value = node
        return any(_compare(_element_value(e, sub), op, value, attr.case_exact) for e in emails)
    if kind == "pr":
        if attr.name == "emails":
            return bool(emails)
        if attr.name == "name":
            return any(_assigned(v) for v in (doc.get("name") or {}).values())
        return _assigned(_singular_value(doc, attr.name))
    _, _, op, value = node
    return _compare(_singular_value(doc, attr.name), op, value, attr.case_exact)


def _evaluate_element(node, element: dict) -> bool:
    kind = node[0]
    if kind == "and":
        return _evaluate_element(node[1], element) and _evaluate_element(node[2], element)
    if kind == "or":
        return _evaluate_element(node[1], element) or _evaluate_element(node[2], element)
    if kind == "not":
        return not _evaluate_element(node[1], element)
    attr: Attr = node[1]
    actual = _element_value(element, attr.name)
    if kind == "pr":
        return _assigned(actual)
    _, _, op, value = node
    return _compare(actual, op, value, attr.case_exact)


# --- the properties ---------------------------------------------------------------------------------


def _create(tenant, actor, documents: list[dict]) -> dict:
    """The users, through the services the SCIM endpoint uses: {id: document}."""
    created = {}
    for document in documents:
        body = {"schemas": [CORE_USER], **document}
        fields = fields_from_document(USER, normalize_resource(USER, body), replace=True)
        created[user_create(tenant=tenant, actor=actor, fields=fields).pk] = document
    return created


def _matched(tenant, text: str) -> set:
    return set(
        User.objects.filter(tenant=tenant).filter(compile_filter(USER, text)).values_list("pk", flat=True)
    )


def _explain(text, docs, expected, got) -> str:
    wrong = {pk: docs[pk] for pk in expected ^ got}
    return f"\nfilter: {text}\nonly expected: {expected - got}\nonly got: {got - expected}\nusers: {wrong}"


PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@pytest.mark.timeout(900)  # room to shrink a failure to its smallest example
@PROPERTY_SETTINGS
@given(data=st.data(), documents=users_strategy)
def test_compiled_filters_select_what_the_reference_evaluator_selects(tenant, system_actor, data, documents):
    trees = data.draw(st.lists(FILTERS[_ordering_collation_is_code_point()], min_size=1, max_size=6))
    with transaction.atomic():
        docs = _create(tenant, system_actor, documents)
        everyone = set(docs)
        for tree in trees:
            text = data.draw(rendered(tree))
            expected = {pk for pk, doc in docs.items() if evaluate(tree, doc)}
            event("matches " + ("none" if not expected else "all" if expected == everyone else "some"))
            got = _matched(tenant, text)
            assert got == expected, _explain(text, docs, expected, got)
            negated = _matched(tenant, f"not ({text})")
            assert negated == everyone - expected, _explain(
                f"not ({text})", docs, everyone - expected, negated
            )
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), documents=users_strategy)
def test_the_http_endpoint_returns_what_the_reference_evaluator_selects(
    tenant, system_actor, data, documents
):
    """The same property end to end, through GET /Users?filter= with a bearer token."""
    trees = data.draw(st.lists(FILTERS[_ordering_collation_is_code_point()], min_size=1, max_size=3))
    with transaction.atomic():
        _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        docs = {str(pk): doc for pk, doc in _create(tenant, system_actor, documents).items()}
        for tree in trees:
            text = data.draw(rendered(tree))
            response = client.get("/scim/v2/Users", {"filter": text, "count": 1000})
            assert response.status_code == 200, (text, response.content)
            got = {r["id"] for r in json.loads(response.content)["Resources"]}
            expected = {pk for pk, doc in docs.items() if evaluate(tree, doc)}
            assert got == expected, _explain(text, docs, expected, got)
        transaction.set_rollback(True)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data(), documents=users_strategy)
def test_eq_null_and_pr_partition_the_users(tenant, system_actor, data, documents):
    attr = data.draw(st.sampled_from([*SINGULAR, Attr("emails.value", KEYED), Attr("emails.type", "")]))
    with transaction.atomic():
        docs = _create(tenant, system_actor, documents)
        present = _matched(tenant, f"{attr.name} pr")
        assert _matched(tenant, f"{attr.name} ne null") == present
        assert _matched(tenant, f"{attr.name} eq null") == set(docs) - present
        transaction.set_rollback(True)
