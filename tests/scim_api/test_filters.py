"""SCIM filters over real HTTP (RFC 7644 section 3.4.2.2): every operator, the logical operators and
their precedence, value paths, sub-attributes, extension URNs, dateTimes, booleans, null, escaping,
case sensitivity as each attribute declares it, groups and members, POST .search, the errors, and
tenant isolation.

The matching rules these tests pin down (and that test_filter_properties.py checks at random):

- caseExact false attributes compare casefolded (``ÉLODIE`` eq ``élodie``); caseExact true ones
  (id, externalId) compare exactly, on SQLite too, whose LIKE ignores ASCII case;
- an unassigned attribute satisfies ``ne`` and nothing else; ``eq null`` is ``not pr``;
- a multi-valued attribute matches when any of its elements does; a value path ``emails[...]``
  needs one element satisfying all of its conditions.
"""

import json
import random
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.services.tokens import token_create

SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Api:
    """A SCIM client with one tenant's bearer token, through Django's whole request stack."""

    client: Client
    token: str

    def call(self, method: str, path: str, body=None):
        data = "" if body is None else json.dumps(body)
        return self.client.generic(
            method,
            f"/scim/v2{path}",
            data=data,
            content_type=SCIM_JSON,
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
        )

    def get(self, path: str, **params):
        return self.call("GET", f"{path}?{urlencode(params)}" if params else path)

    def post(self, path: str, body):
        return self.call("POST", path, body)

    def create(self, endpoint: str, body: dict) -> dict:
        response = self.post(endpoint, body)
        assert response.status_code == 201, response.content
        return json.loads(response.content)

    def user(self, user_name: str, **attributes) -> dict:
        schemas = [CORE_USER] + ([ENTERPRISE] if ENTERPRISE in attributes else [])
        return self.create("/Users", {"schemas": schemas, "userName": user_name, **attributes})

    def group(self, display_name: str, *members: dict) -> dict:
        body = {"schemas": [CORE_GROUP], "displayName": display_name}
        if members:
            body["members"] = [{"value": m["id"]} for m in members]
        return self.create("/Groups", body)


def _api(tenant, system_actor) -> Api:
    _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    return Api(Client(enforce_csrf_checks=True), plaintext)


@pytest.fixture
def api(tenant, system_actor) -> Api:
    return _api(tenant, system_actor)


@pytest.fixture
def other_api(other_tenant, system_actor) -> Api:
    return _api(other_tenant, system_actor)


def ok(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.content)
    assert response["Content-Type"] == SCIM_JSON
    body = json.loads(response.content)
    assert body["totalResults"] == len(body["Resources"]), "the tests' data fits one page"
    return body


def invalid_filter(response, *fragments: str) -> dict:
    """A 400 invalidFilter SCIM error whose detail names the problem."""
    assert response.status_code == 400, (response.status_code, response.content)
    body = json.loads(response.content)
    assert body["schemas"] == [ERROR]
    assert body["status"] == "400"
    assert body.get("scimType") == "invalidFilter", body
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body["detail"])
    assert "Traceback" not in body["detail"]
    return body


@dataclass
class People:
    """The users of one directory, by label, and what a filter matches among them, as labels."""

    api: Api
    users: dict[str, dict]

    def __getitem__(self, label: str) -> dict:
        return self.users[label]

    def labels(self, resources) -> set[str]:
        by_id = {u["id"]: label for label, u in self.users.items()}
        return {by_id[r["id"]] for r in resources}

    def who(self, text: str) -> set[str]:
        return self.labels(ok(self.api.get("/Users", filter=text, count=1000))["Resources"])

    def searched(self, text: str) -> set[str]:
        body = {"schemas": [SEARCH_REQUEST], "filter": text, "count": 1000}
        return self.labels(ok(self.api.post("/Users/.search", body))["Resources"])

    @property
    def everyone(self) -> set[str]:
        return set(self.users)


@pytest.fixture
def people(api) -> People:
    users: dict[str, dict] = {}
    users["alice"] = api.user(
        "alice@example.com",
        displayName="Alice Smith",
        name={"givenName": "Alice", "familyName": "Smith"},
        title="Engineer",
        externalId="Ab-1",
        emails=[
            {"value": "alice@x.com", "type": "work", "primary": True},
            {"value": "alice@home.org", "type": "home"},
        ],
        **{ENTERPRISE: {"department": "Sales"}},
    )
    # Bob's work email is not @x.com; his home email is.
    users["bob"] = api.user(
        "bob@example.com",
        displayName="Bob Jones",
        name={"givenName": "Bob", "familyName": "Jones"},
        title="Manager",
        externalId="aB-1",
        active=False,
        emails=[
            {"value": "bob@other.com", "type": "work", "primary": True},
            {"value": "bob@x.com", "type": "home"},
        ],
        **{ENTERPRISE: {"department": "Engineering", "manager": {"value": users["alice"]["id"]}}},
    )
    users["elodie"] = api.user(
        "ÉLODIE@example.fr",
        displayName="Élodie Durand",
        name={"givenName": "Élodie", "familyName": "Durand"},
        externalId="Ext-Élodie",
        emails=[{"value": "ÉLODIE@Example.FR", "type": "Work"}],
    )
    users["dave"] = api.user("dave@example.com", title="engineer", **{ENTERPRISE: {"department": "sales"}})
    users["quote"] = api.user('a"b')
    users["wild"] = api.user("x_y%z\\w")
    return People(api, users)


# --- operators ---------------------------------------------------------------------------------

USER_NAME = [
    ('userName eq "ALICE@EXAMPLE.COM"', {"alice"}),
    ('userName ne "ALICE@EXAMPLE.COM"', {"bob", "elodie", "dave", "quote", "wild"}),
    ('userName co "EXAMPLE.COM"', {"alice", "bob", "dave"}),
    ('userName co "Example"', {"alice", "bob", "elodie", "dave"}),
    ('userName sw "B"', {"bob"}),
    ('userName ew ".FR"', {"elodie"}),
    ('userName gt "c"', {"dave", "elodie", "wild"}),
    ('userName ge "DAVE@example.com"', {"dave", "elodie", "wild"}),
    ('userName lt "b"', {"alice", "quote"}),
    ('userName le "bob@example.com"', {"alice", "bob", "quote"}),
    ("userName pr", {"alice", "bob", "elodie", "dave", "quote", "wild"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), USER_NAME, ids=[t for t, _ in USER_NAME])
def test_every_operator_on_user_name(people, text, expected):
    assert people.who(text) == expected


# title has no casefolded column: the case-insensitive lookups are the database's (PostgreSQL) or
# CaseFold (SQLite). Users without a title match ne and nothing else.
TITLE = [
    ('title eq "ENGINEER"', {"alice", "dave"}),
    ('title ne "engineer"', {"bob", "elodie", "quote", "wild"}),
    ('title co "GIN"', {"alice", "dave"}),
    ('title sw "m"', {"bob"}),
    ('title ew "EER"', {"alice", "dave"}),
    ('title gt "a"', {"alice", "bob", "dave"}),
    ('title ge "MANAGER"', {"bob"}),
    ('title lt "f"', {"alice", "dave"}),
    ('title le "manager"', {"alice", "bob", "dave"}),
    ('title sw ""', {"alice", "bob", "dave"}),
    ('title co ""', {"alice", "bob", "dave"}),
    ('title ew ""', {"alice", "bob", "dave"}),
    ("title pr", {"alice", "bob", "dave"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), TITLE, ids=[t for t, _ in TITLE])
def test_every_operator_on_an_optional_attribute(people, text, expected):
    assert people.who(text) == expected


# externalId is caseExact: no operator may ignore case, on SQLite either.
EXTERNAL_ID = [
    ('externalId eq "Ab-1"', {"alice"}),
    ('externalId eq "ab-1"', set()),
    ('externalId ne "Ab-1"', {"bob", "elodie", "dave", "quote", "wild"}),
    ('externalId co "B-"', {"bob"}),
    ('externalId co "b-"', {"alice"}),
    ('externalId co "É"', {"elodie"}),
    ('externalId co "é"', set()),
    ('externalId sw "a"', {"bob"}),
    ('externalId sw "A"', {"alice"}),
    ('externalId ew "b-1"', {"alice"}),
    ('externalId ew "B-1"', {"bob"}),
    ('externalId ew ""', {"alice", "bob", "elodie"}),
    ('externalId gt "a"', {"bob"}),
    ('externalId lt "B"', {"alice"}),
    ('externalId le "Ext-Élodie"', {"alice", "elodie"}),
    ("externalId pr", {"alice", "bob", "elodie"}),
    # NULL externalIds must not vanish under not (SQL's NOT NULL is NULL).
    ('not (externalId co "B-")', {"alice", "elodie", "dave", "quote", "wild"}),
    ('not (externalId sw "a")', {"alice", "elodie", "dave", "quote", "wild"}),
    ('not (externalId lt "B")', {"bob", "elodie", "dave", "quote", "wild"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), EXTERNAL_ID, ids=[t for t, _ in EXTERNAL_ID])
def test_case_exact_external_id(people, text, expected):
    assert people.who(text) == expected


@pytest.mark.django_db
def test_id_is_case_exact(people):
    alice = people["alice"]["id"]
    assert people.who(f'id eq "{alice}"') == {"alice"}
    assert people.who(f'id eq "{alice.upper()}"') == set()
    assert people.who(f'id eq "{alice.replace("-", "")}"') == set()
    assert people.who(f'id eq "urn:uuid:{alice}"') == set()
    assert people.who(f'id ne "{alice}"') == people.everyone - {"alice"}
    assert people.who("id pr") == people.everyone
    assert people.who('id eq "not-a-uuid"') == set()


# --- case-insensitive matching, non-ASCII included ------------------------------------------------

CASE_INSENSITIVE = [
    ('userName eq "élodie@EXAMPLE.FR"', {"elodie"}),
    ('userName sw "ÉLO"', {"elodie"}),
    ('displayName eq "alice SMITH"', {"alice"}),
    ('displayName sw "é"', {"elodie"}),
    ('emails.value eq "élodie@example.fr"', {"elodie"}),
    ('emails.value co "ÉLODIE"', {"elodie"}),
    ('emails.value eq "ALICE@X.COM"', {"alice"}),
    # No casefolded column for these: SQLite's LIKE alone would not match é with É.
    ('name.givenName eq "élodie"', {"elodie"}),
    ('name.givenName sw "é"', {"elodie"}),
    ('name.givenName co "LOD"', {"elodie"}),
    ('name.givenName gt "éa"', {"elodie"}),
    ('name.familyName eq "durand"', {"elodie"}),
    ('emails.type eq "WORK"', {"alice", "bob", "elodie"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), CASE_INSENSITIVE, ids=[t for t, _ in CASE_INSENSITIVE])
def test_case_insensitive_attributes_ignore_case_beyond_ascii(people, text, expected):
    assert people.who(text) == expected


# --- escaping: JSON string escapes in the filter, LIKE wildcards in the value -------------------------

ESCAPES = [
    (r'userName eq "a\"b"', {"quote"}),
    (r'userName co "\""', {"quote"}),
    (r'userName eq "x_y%z\\w"', {"wild"}),
    (r'userName eq "x_y%z\u005cw"', {"wild"}),
    ('userName co "_"', {"wild"}),
    ('userName co "%"', {"wild"}),
    ('userName sw "x_"', {"wild"}),
    ('userName ew "\\\\w"', {"wild"}),
    ('userName eq "x%"', set()),
    ('userName sw "%"', set()),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), ESCAPES, ids=[t for t, _ in ESCAPES])
def test_escaped_strings_and_like_wildcards(people, text, expected):
    assert people.who(text) == expected


# --- logical operators and precedence ---------------------------------------------------------------

LOGIC = [
    ('title eq "Manager" or title eq "Engineer" and active eq true', {"alice", "bob", "dave"}),
    ('(title eq "Manager" or title eq "Engineer") and active eq true', {"alice", "dave"}),
    ('title eq "Engineer" and active eq true or active eq false', {"alice", "bob", "dave"}),
    ('title eq "Engineer" and (active eq true or active eq false)', {"alice", "dave"}),
    ('userName sw "a" or userName sw "b" or userName sw "d"', {"alice", "bob", "dave", "quote"}),
    ('userName sw "a" and userName ew "b"', {"quote"}),
    ("not (title pr)", {"elodie", "quote", "wild"}),
    ("not(title pr)", {"elodie", "quote", "wild"}),
    ("not (title pr) or active eq false", {"bob", "elodie", "quote", "wild"}),
    ("not (title pr or active eq false)", {"elodie", "quote", "wild"}),
    ("not (not (title pr))", {"alice", "bob", "dave"}),
    ('not (title eq "engineer") and title pr', {"bob"}),
    ('((userName eq "bob@example.com"))', {"bob"}),
    ("(" * 1000 + "userName pr" + ")" * 1000, {"alice", "bob", "elodie", "dave", "quote", "wild"}),
    ('USERNAME EQ "bob@example.com" OR Title Eq "ENGINEER"', {"alice", "bob", "dave"}),
    ('userName eq "nobody" or id pr', {"alice", "bob", "elodie", "dave", "quote", "wild"}),
    (
        'userName eq "nobody" or meta.resourceType eq "User"',
        {"alice", "bob", "elodie", "dave", "quote", "wild"},
    ),
    ("not (id pr)", set()),
    ('not (meta.resourceType eq "User")', set()),
    ('title pr and not (userName eq "nobody")', {"alice", "bob", "dave"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), LOGIC, ids=[t[:60] for t, _ in LOGIC])
def test_logical_operators_and_precedence(people, text, expected):
    assert people.who(text) == expected


# --- multi-valued attributes and value paths -------------------------------------------------------

MULTI_VALUED = [
    # Both conditions on the same element: Bob's work email is @other.com, his home email @x.com.
    ('emails[type eq "work" and value co "@x.com"]', {"alice"}),
    ('emails[type eq "home" and value co "@x.com"]', {"bob"}),
    # Without brackets each condition may hold on a different element.
    ('emails.type eq "work" and emails.value co "@x.com"', {"alice", "bob"}),
    # The form Microsoft Entra ID sends.
    ('emails[type eq "work"].value co "@x.com"', {"alice"}),
    ('emails[type eq "work" or type eq "home"]', {"alice", "bob", "elodie"}),
    ('emails[not (type eq "work")]', {"alice", "bob"}),
    ('emails[primary eq true and value co "other"]', {"bob"}),
    ("emails[primary eq true]", {"alice", "bob"}),
    ('emails[value ew ".org"]', {"alice"}),
    ('emails[type eq "work"] and not (emails[type eq "home"])', {"elodie"}),
    ('emails.value co "@x.com"', {"alice", "bob"}),
    # A comparison on the attribute itself compares its value sub-attribute.
    ('emails co "@X.COM"', {"alice", "bob"}),
    # Any element: Alice has an address other than alice@x.com.
    ('emails.value ne "alice@x.com"', {"alice", "bob", "elodie"}),
    ('emails.value gt "b"', {"bob", "elodie"}),
    ("emails pr", {"alice", "bob", "elodie"}),
    ("emails.value pr", {"alice", "bob", "elodie"}),
    ("emails.value eq null", {"dave", "quote", "wild"}),
    ("emails.value ne null", {"alice", "bob", "elodie"}),
    ("not (emails pr)", {"dave", "quote", "wild"}),
    ("phoneNumbers pr", set()),
    ('phoneNumbers.value eq "555"', set()),
    ("name pr", {"alice", "bob", "elodie"}),
    ("not (name pr)", {"dave", "quote", "wild"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), MULTI_VALUED, ids=[t for t, _ in MULTI_VALUED])
def test_multi_valued_attributes_and_value_paths(people, text, expected):
    assert people.who(text) == expected


SUB_ATTRIBUTES = [
    ('name.familyName eq "smith"', {"alice"}),
    ('name.familyName ew "S"', {"bob"}),
    ('name.givenName sw "b"', {"bob"}),
    ("name.familyName pr", {"alice", "bob", "elodie"}),
    ("name.familyName eq null", {"dave", "quote", "wild"}),
    ("name.middleName pr", set()),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), SUB_ATTRIBUTES, ids=[t for t, _ in SUB_ATTRIBUTES])
def test_sub_attributes(people, text, expected):
    assert people.who(text) == expected


@pytest.mark.django_db
def test_enterprise_extension_attributes_by_urn(people):
    alice = people["alice"]["id"]
    assert people.who(f'{ENTERPRISE}:department eq "Sales"') == {"alice", "dave"}
    assert people.who(f'{ENTERPRISE.upper()}:DEPARTMENT eq "sales"') == {"alice", "dave"}
    assert people.who(f"{ENTERPRISE}:department pr") == {"alice", "bob", "dave"}
    assert people.who(f'{ENTERPRISE}:manager.value eq "{alice}"') == {"bob"}
    assert people.who(f'{ENTERPRISE}:manager.value eq "{alice.upper()}"') == set()
    assert people.who(f'{ENTERPRISE}:manager.value ne "{alice}"') == people.everyone - {"bob"}
    assert people.who(f"{ENTERPRISE}:manager pr") == {"bob"}
    assert people.who(f"{ENTERPRISE}:manager.value pr") == {"bob"}
    assert people.who(f'{ENTERPRISE}:manager.displayName eq "alice smith"') == {"bob"}
    assert people.who(f'{ENTERPRISE}:manager.displayName ne "alice smith"') == people.everyone - {"bob"}
    assert people.who(f'{CORE_USER}:userName eq "bob@example.com"') == {"bob"}
    assert people.who(f'{CORE_USER}:name.familyName eq "Jones"') == {"bob"}


# --- dateTimes, booleans, null, numbers ----------------------------------------------------------------


@pytest.mark.django_db
def test_meta_created_and_last_modified_compare_as_date_times(people):
    created = people["alice"]["meta"]["created"]
    assert created.endswith("Z")
    assert people.who(f'meta.created eq "{created}"') == {"alice"}
    assert people.who(f'meta.created eq "{created.replace("Z", "+00:00")}"') == {"alice"}
    assert people.who(f'meta.created gt "{created}"') == people.everyone - {"alice"}
    assert people.who(f'meta.created ge "{created}"') == people.everyone
    assert people.who(f'meta.created le "{created}"') == {"alice"}
    assert people.who(f'meta.created lt "{created}"') == set()
    dave = people["dave"]["meta"]["lastModified"]
    assert people.who(f'meta.lastModified ge "{dave}"') == {"dave", "quote", "wild"}
    assert people.who(f'meta.lastModified lt "{dave}"') == {"alice", "bob", "elodie"}
    # Another offset, the same instant.
    assert people.who('meta.created gt "2000-01-01T01:00:00+01:00"') == people.everyone
    assert people.who('meta.created lt "2000-01-01T00:00:00Z"') == set()
    assert people.who('meta.lastModified gt "2000-01-01T00:00:00"') == people.everyone
    assert people.who("meta.created pr") == people.everyone


BOOLEANS_AND_NULL = [
    ("active eq false", {"bob"}),
    ("active eq true", {"alice", "elodie", "dave", "quote", "wild"}),
    ("active ne true", {"bob"}),
    ("active ne false", {"alice", "elodie", "dave", "quote", "wild"}),
    ("active pr", {"alice", "bob", "elodie", "dave", "quote", "wild"}),
    ("active eq null", set()),
    ("title eq null", {"elodie", "quote", "wild"}),
    ("title ne null", {"alice", "bob", "dave"}),
    ("externalId eq null", {"dave", "quote", "wild"}),
    ("emails[primary eq false]", {"alice", "bob", "elodie"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), BOOLEANS_AND_NULL, ids=[t for t, _ in BOOLEANS_AND_NULL])
def test_booleans_and_null(people, text, expected):
    assert people.who(text) == expected


# --- deleted users, groups and members ------------------------------------------------------------


@pytest.mark.django_db
def test_deleted_users_match_no_filter(people, api):
    assert api.call("DELETE", f"/Users/{people['bob']['id']}").status_code == 204
    assert people.who('userName eq "bob@example.com"') == set()
    assert people.who("active eq false") == set()
    assert people.who('emails.value co "@x.com"') == {"alice"}


@pytest.fixture
def groups(api, people) -> dict[str, dict]:
    """All ⊃ Engineering ⊃ {alice, Platform ⊃ {dave}}."""
    platform = api.group("Platform", people["dave"])
    engineering = api.group("Engineering", people["alice"], platform)
    everyone = api.group("All", engineering)
    return {"platform": platform, "engineering": engineering, "all": everyone}


@pytest.mark.django_db
def test_users_by_group_including_nested_groups(people, groups):
    assert people.who(f'groups.value eq "{groups["platform"]["id"]}"') == {"dave"}
    assert people.who(f'groups.value eq "{groups["engineering"]["id"]}"') == {"alice", "dave"}
    assert people.who(f'groups.value eq "{groups["all"]["id"]}"') == {"alice", "dave"}
    assert people.who(f'groups[value eq "{groups["all"]["id"]}"]') == {"alice", "dave"}
    assert people.who(f'groups.value eq "{groups["all"]["id"].upper()}"') == set()
    assert people.who("groups pr") == {"alice", "dave"}
    assert people.who('groups.display eq "platform"') == {"dave"}
    assert people.who('groups[display sw "Eng" and type eq "direct"]') == {"alice"}
    assert people.who("not (groups pr)") == {"bob", "elodie", "quote", "wild"}


@pytest.mark.django_db
def test_a_repeated_search_sees_what_changed_since(people, groups, api):
    """A filter is kept compiled per tenant and text (filters.filtered), but for one whose
    compiling read data: a group nested into another after a search shows in that search again."""
    everyone, engineer = f'groups.value eq "{groups["all"]["id"]}"', 'title eq "Engineer"'
    assert people.who(everyone) == {"alice", "dave"}
    assert people.who(engineer) == {"alice", "dave"}
    newcomers = api.group("Newcomers", people["bob"])
    nest = {"op": "add", "path": "members", "value": [{"value": newcomers["id"]}]}
    promote = {"op": "replace", "path": "title", "value": "Engineer"}
    for path, operation in (
        (f"/Groups/{groups['all']['id']}", nest),
        (f"/Users/{people['bob']['id']}", promote),
    ):
        response = api.call("PATCH", path, {"schemas": [PATCH_URN], "Operations": [operation]})
        assert response.status_code in (200, 204), response.content
    assert people.who(everyone) == {"alice", "dave", "bob"}
    assert people.who(engineer) == {"alice", "dave", "bob"}


@pytest.mark.django_db
def test_groups_by_member(api, people, groups):
    def which(text: str) -> set[str]:
        body = ok(api.get("/Groups", filter=text))
        by_id = {g["id"]: label for label, g in groups.items()}
        return {by_id[r["id"]] for r in body["Resources"]}

    assert which(f'members.value eq "{people["alice"]["id"]}"') == {"engineering"}
    assert which(f'members.value eq "{people["dave"]["id"]}"') == {"platform"}
    assert which(f'members.value eq "{groups["platform"]["id"]}"') == {"engineering"}
    assert which(f'members[value eq "{people["alice"]["id"]}" and type eq "User"]') == {"engineering"}
    assert which('members[type eq "Group"]') == {"engineering", "all"}
    assert which('members.type eq "User"') == {"engineering", "platform"}
    assert which("members pr") == {"engineering", "platform", "all"}
    assert which("not (members pr)") == set()
    assert which('displayName eq "ENGINEERING"') == {"engineering"}
    assert which('displayName sw "p" or displayName ew "L"') == {"platform", "all"}
    assert which('members.display eq "alice smith"') == {"engineering"}
    # Any member whose display differs: Engineering's other member, Platform, does.
    assert which('members.display ne "alice smith"') == {"engineering", "platform", "all"}
    assert which('members[display ne "alice smith" and type eq "User"]') == {"platform"}
    invalid_filter(api.get("/Groups", filter='userName eq "x"'), "userName")
    invalid_filter(api.get("/Groups", filter='members.value gt "x"'), "members.value")


# --- POST .search -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_filter_in_post_search(people):
    text = 'emails[type eq "work" and value co "@x.com"]'
    assert people.searched(text) == people.who(text) == {"alice"}
    assert people.searched('title eq "Manager" or title eq "Engineer" and active eq true') == {
        "alice",
        "bob",
        "dave",
    }
    body = {"schemas": [SEARCH_REQUEST], "filter": "userName eq"}
    invalid_filter(people.api.post("/Users/.search", body), "not valid")
    body = {"schemas": [SEARCH_REQUEST], "filter": 42}
    invalid_filter(people.api.post("/Users/.search", body))


@pytest.mark.django_db
def test_filter_in_root_search_applies_to_every_resource_type(api, people, groups):
    def found(text: str) -> set[str]:
        body = ok(api.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": text}))
        by_id = {r["id"]: label for label, r in (people.users | groups).items()}
        return {by_id[r["id"]] for r in body["Resources"]}

    # userName is not a Group attribute: Groups simply do not match.
    assert found('userName eq "bob@example.com"') == {"bob"}
    assert found('displayName sw "Eng"') == {"engineering"}
    assert found('displayName sw "A"') == {"alice", "all"}
    assert found('externalId eq "Ab-1"') == {"alice"}
    invalid_filter(api.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": "displayName eq"}))
    invalid_filter(api.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": "active gt true"}), "active")


# --- errors: 400 invalidFilter, never "match all", never a 500 -------------------------------------------

ERRORS = [
    # syntax
    ("userName eq", "not valid"),
    ('userName eq "x" and', "not valid"),
    ('(userName eq "x"', "not valid"),
    ('userName eq "x")', "not valid"),
    ("userName eq 'x'", "not valid"),
    ('userName equals "x"', "not valid"),
    ('userName eq "unterminated', "not valid"),
    (r'userName eq "bad \q escape"', "not valid"),
    ('emails[type eq "work"', "not valid"),
    ('emails[type eq "work" and emails[value pr]]', "not valid"),
    ('emails.value[type eq "work"]', "not valid"),
    ('userName eq "a" userName eq "b"', "not valid"),
    ("not userName pr", "not valid"),
    ("and", "not valid"),
    (" ", "not valid"),
    ("()", "not valid"),
    # attributes
    ('foo eq "x"', "'foo'"),
    ('name.nope eq "x"', "name.nope"),
    ('urn:example:custom:2.0:User:foo eq "x"', "urn:example:custom:2.0:User:foo"),
    ('emails[nope eq "x"]', "'nope'"),
    ('emails[value.x eq "x"]', "sub-attributes"),
    ('title[value eq "x"]', "multi-valued"),
    ('name eq "x"', "complex"),
    ('password eq "secret"', "password"),
    ("password pr", "password"),
    ('meta.location eq "x"', "meta.location"),
    # operators and values that do not fit the attribute's type
    ("active gt true", "gt"),
    ("active le false", "le"),
    ('active co "t"', "co"),
    ('active eq "true"', "boolean"),
    ("active eq 1", "boolean"),
    ("title eq 5", "string"),
    ("userName gt 1.5e3", "string"),
    ("title eq true", "string"),
    ("title co null", "null"),
    ("title gt null", "null"),
    ('id co "x"', "id"),
    ('meta.created co "2020"', "co"),
    ('meta.created sw "2020-01-01T00:00:00Z"', "sw"),
    ('meta.created gt "yesterday"', "yesterday"),
    ("meta.created gt true", "dateTime"),
    ('meta.resourceType co "Us"', "meta.resourceType"),
    ('groups.value gt "x"', "groups.value"),
    ('groups.type co "dir"', "groups.type"),
    ('x509Certificates.value gt "x"', "binary"),
    ("emails[primary gt true]", "primary"),
    ('userName eq "\\u0000"', "NUL"),
    # limits
    (" or ".join(f'userName eq "u{i}"' for i in range(70)), "limit"),
    ('userName eq "' + "a" * 5000 + '"', "limit"),
    ('userName eq "' + "a" * 1100 + '"', "longer than"),
    ("not (" * 40 + "userName pr" + ")" * 40, "nests more than"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "fragment"), ERRORS, ids=[t[:60] for t, _ in ERRORS])
def test_bad_filters_are_invalid_filter_errors(api, text, fragment):
    invalid_filter(api.get("/Users", filter=text), *([fragment] if fragment else []))
    invalid_filter(api.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": text}))


@pytest.mark.django_db
def test_no_filter_and_an_empty_filter_list_everyone(people):
    assert people.labels(ok(people.api.get("/Users"))["Resources"]) == people.everyone
    assert people.who("") == people.everyone


TOKENS = [
    "addresses.locality", "emails.primary", "x509Certificates.value", "meta.version", "name.givenName",
    "userName", "USERNAME", "title", "name.familyName", "name", "emails", "emails.value", "emails.type",
    "active", "id", "externalId", "meta.created", "meta", "groups.value", "members", "password", "foo",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "urn:x:y",
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "and", "or", "not", "AND",
    "(", ")", "[", "]", ".", '"', "\\", "'", ",", ";", "--", "%", "_", "*", "null", "true", "false",
    "0", "-1", "1.5", "1e999", "9" * 30, '"x"', '"ALICE@EXAMPLE.COM"', '"@x.com"', '""', '"\\""',
    '"\\u00e9"', '"\\ud800"', '"2024-01-31T12:00:00Z"', '"0190a0b0-0000-7000-8000-000000000000"',
    '"é"', "É", "\u0000", "\t", "\n", " ", "' OR 1=1 --", '"; DROP TABLE directory_user; --"',
]  # fmt: skip


@pytest.mark.django_db
def test_fuzzed_filters_answer_200_or_invalid_filter_never_500(people):
    rng = random.Random(7644)  # noqa: S311 - a reproducible fuzz, not a secret
    for n in range(400):
        text = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        if n % 2:
            text = text.replace(" . ", ".").replace("[ ", "[").replace(" ]", "]")
        if n % 4 == 3:
            body = {"schemas": [SEARCH_REQUEST], "filter": text}
            response = people.api.post("/Users/.search", body)
        else:
            response = people.api.get("/Users", filter=text)
        assert response.status_code in (200, 400), (text, response.status_code, response.content)
        if response.status_code == 400:
            invalid_filter(response)
        else:
            ok(response)


# --- tenant isolation ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_filters_never_match_another_tenants_resources(api, other_api, people, groups):
    theirs = other_api.user(
        "alice@example.com",
        title="Engineer",
        externalId="Ab-1",
        emails=[{"value": "alice@x.com", "type": "work"}],
    )
    their_group = other_api.group("Engineering", theirs)
    ours = people["alice"]["id"]
    assert people.who('userName eq "alice@example.com"') == {"alice"}
    assert people.who('externalId eq "Ab-1"') == {"alice"}
    assert people.who('emails[type eq "work" and value eq "alice@x.com"]') == {"alice"}
    assert people.who(f'id eq "{theirs["id"]}"') == set()
    assert people.who(f'groups.value eq "{their_group["id"]}"') == set()
    assert people.who(f'{ENTERPRISE}:manager.value eq "{theirs["id"]}"') == set()
    assert ok(api.get("/Groups", filter=f'members.value eq "{theirs["id"]}"'))["Resources"] == []
    assert len(ok(api.get("/Users", filter="userName pr"))["Resources"]) == len(people.users)

    def their_ids(text: str, endpoint: str = "/Users") -> set[str]:
        return {r["id"] for r in ok(other_api.get(endpoint, filter=text))["Resources"]}

    assert their_ids('userName eq "alice@example.com"') == {theirs["id"]}
    assert their_ids(f'id eq "{ours}"') == set()
    assert their_ids("userName pr") == {theirs["id"]}
    assert their_ids(f'groups.value eq "{groups["engineering"]["id"]}"') == set()
    assert their_ids('displayName eq "Engineering"', "/Groups") == {their_group["id"]}
    assert their_ids(f'members.value eq "{ours}"', "/Groups") == set()


@pytest.mark.django_db
def test_sub_attributes_without_a_column_of_their_own(api):
    """addresses' sub-attributes are read from each element's JSON."""
    paris = api.user(
        "paris@example.com",
        addresses=[
            {"type": "work", "locality": "Paris", "country": "FR"},
            {"type": "home", "locality": "Lyon", "country": "FR", "region": "ARA"},
        ],
    )
    boston = api.user(
        "boston@example.com", addresses=[{"type": "work", "locality": "Boston", "country": "US"}]
    )
    nowhere = api.user("nowhere@example.com")
    people = People(api, {"paris": paris, "boston": boston, "nowhere": nowhere})
    assert people.who('addresses[type eq "work" and country eq "fr"]') == {"paris"}
    assert people.who('addresses[type eq "work" and locality eq "lyon"]') == set()
    assert people.who('addresses.locality co "YO"') == {"paris"}
    assert people.who('addresses.locality sw "b"') == {"boston"}
    assert people.who("addresses.region pr") == {"paris"}
    assert people.who("addresses.region eq null") == {"boston", "nowhere"}
    assert people.who("addresses[not (region pr)]") == {"paris", "boston"}
    assert people.who('addresses[not (country eq "US")]') == {"paris"}
    assert people.who('addresses.country ne "FR"') == {"boston"}
    assert people.who('addresses.postalCode lt "9"') == set()
    assert people.who('addresses.locality gt "m"') == {"paris"}
    assert people.who('addresses.locality le "BOSTON"') == {"boston"}
    assert people.who('not (addresses.locality lt "z")') == {"nowhere"}


def _paths(resource_type) -> list[str]:
    """Every attribute and sub-attribute path of a resource type (extensions' by URN), and a value
    path over every sub-attribute of each multi-valued attribute."""
    from scim_api.schema import COMMON

    paths = []
    for schema in (*resource_type.schemas, COMMON):
        prefix = f"{schema.id}:" if schema in resource_type.extensions else ""
        for attribute in schema.attributes:
            names = [attribute.name] + [f"{attribute.name}.{sub.name}" for sub in attribute.sub_attributes]
            paths += [f"{prefix}{name}" for name in names]
            if attribute.multi_valued:
                paths += [
                    f"{attribute.name}[{sub.name} {{op}} {{value}}]" for sub in attribute.sub_attributes
                ]
    return paths


VALUES = ['"X%_"', '""', "-1.5", "true", "null", '"2024-01-31T12:00:00Z"',
          '"0190a0b0-0000-7000-8000-000000000000"']  # fmt: skip
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


@pytest.mark.django_db
@pytest.mark.parametrize("resource", ["User", "Group"])
def test_every_attribute_operator_and_value_runs_or_is_refused(people, groups, tenant, resource):
    """Each attribute of the schema registry with each operator and each kind of value, negated
    too: the compiled query runs on the database, or the filter is refused with invalidFilter.
    Never another exception (a 500). One query per attribute, then one per filter if it fails."""
    from directory.models import Group
    from directory.selectors import users_visible
    from scim_api.errors import InvalidFilter
    from scim_api.filters import MATCH_NONE, compile_filter
    from scim_api.schema import RESOURCE_TYPES

    resource_type = RESOURCE_TYPES[resource]
    queryset = users_visible(tenant=tenant) if resource == "User" else Group.objects.filter(tenant=tenant)
    refused = ran = 0
    for path in _paths(resource_type):
        if "{op}" in path:
            texts = [path.replace("{op}", "pr").replace(" {value}", "")]
            texts += [path.format(op=op, value=value) for op in OPERATORS for value in VALUES]
        else:
            texts = [f"{path} pr"] + [f"{path} {op} {value}" for op in OPERATORS for value in VALUES]
        compiled = {}
        for text in texts:
            try:
                compiled[text] = compile_filter(resource_type, text)
            except InvalidFilter:
                refused += 1
                continue
            compiled[f"not ({text})"] = compile_filter(resource_type, f"not ({text})")
        ran += len(compiled)
        condition = MATCH_NONE
        for q in compiled.values():
            condition |= q
        try:
            list(queryset.filter(condition).values_list("pk", flat=True))
        except Exception:
            for text, q in compiled.items():  # name the filter that fails
                try:
                    list(queryset.filter(q).values_list("pk", flat=True))
                except Exception as error:
                    raise AssertionError(f"{text!r} fails on the database: {error!r}") from error
            raise
    assert ran > 200 and refused > 200, (ran, refused)


def test_root_search_on_an_attribute_no_resource_type_has_is_invalid_filter(scim):
    response = scim.post(
        "/.search",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'nosuch eq "x"'},
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert "nosuch" in response.json()["detail"]


# The lookup sent before every create skips the parser (filters._simple_equality): whatever it
# reads, the parser reads the same way.

_SPACES = st.sampled_from(["", " ", "  ", "\t", "\n ", "\u00a0", "\r", "\x0b"])
_PATHS = st.sampled_from(
    [
        "userName",
        "USERNAME",
        "externalId",
        "name.givenName",
        "emails.value",
        "$ref",
        "a-b_c$",
        "x.y.z",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "1abc",
        "é",
        "user Name",
        "userName.",
    ]
)
_OPERATORS = st.sampled_from(["eq", "EQ", "Eq", "eqx", "eq-", "ne", "co", "pr", "e q"])
_VALUES = st.one_of(
    st.sampled_from(['"alice@example.com"', '""', '"a\\"b"', '"\\u00e9"', '"\\u00"', '"\\x41"',
                     '"a\tb"', '"\x01"', '"é"', "'x'", "1", "true", "null", '"a" and x pr', '"a"]']),
    st.text(max_size=6).map(lambda t: json.dumps(t)[:-1] + '"'),
)  # fmt: skip
_FILTERS = st.tuples(_SPACES, _PATHS, _SPACES, _OPERATORS, _SPACES, _VALUES, _SPACES).map("".join)


@given(_FILTERS)
@settings(max_examples=800, deadline=None)
def test_the_simple_equality_reads_what_the_parser_reads(text):
    from scim2_models.path import CompareOperator, Comparison

    from scim_api.filters import InvalidFilter, _name, _parse, _simple_equality

    found = _simple_equality(text)
    if found is None:
        return
    try:
        tree = _parse(text)
    except InvalidFilter as error:
        raise AssertionError(f"{text!r} read as {found}, but the parser refuses it: {error}") from None
    assert isinstance(tree, Comparison) and tree.op == CompareOperator.eq, text
    assert (_name(tree.attr_path), tree.value) == found


@pytest.mark.parametrize(
    "text",
    ['userName eq "alice@example.com"', ' externalId  EQ "a\\"b\\u00e9" ', 'name.givenName eq"x"'],
)
def test_the_simple_equality_serves_the_usual_lookups(text):
    from scim_api.filters import _simple_equality

    assert _simple_equality(text) is not None
