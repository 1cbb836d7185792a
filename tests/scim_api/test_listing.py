"""Listing and index paging (RFC 7644 sections 3.4.2 and 3.4.2.4): 1-based startIndex, count,
the advertised maximum page size, and a stable order across pages."""

import pytest

from tests.scim_api.conftest import LIST_URN, assert_scim_error, body_of


@pytest.fixture
def users(scim):
    return [scim.create_user(f"user{n}@example.com") for n in range(7)]


def _ids(body) -> list[str]:
    return [r["id"] for r in body.get("Resources", [])]


def page(scim, query: str, endpoint: str = "/Users") -> dict:
    response = scim.get(f"{endpoint}?{query}")
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    assert body["itemsPerPage"] == len(body.get("Resources", []))
    return body


def test_an_unpaged_list_has_every_user_once(scim, users):
    body = page(scim, "")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (7, 1, 7)
    assert sorted(_ids(body)) == sorted(u["id"] for u in users)


def test_an_empty_list(scim):
    body = page(scim, "")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (0, 1, 0)
    assert body.get("Resources", []) == []


def test_start_index_and_count_select_a_window(scim, users):
    everything = _ids(page(scim, ""))
    body = page(scim, "startIndex=3&count=2")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (7, 3, 2)
    assert _ids(body) == everything[2:4]
    body = page(scim, "startIndex=6&count=10")
    assert (body["startIndex"], body["itemsPerPage"]) == (6, 2)
    assert _ids(body) == everything[5:]


def test_walking_the_pages_returns_every_user_exactly_once_in_a_stable_order(scim, users):
    everything = _ids(page(scim, ""))
    seen = []
    start = 1
    while True:
        body = page(scim, f"startIndex={start}&count=3")
        assert body["totalResults"] == 7 and body["startIndex"] == start
        if not body.get("Resources"):
            break
        seen += _ids(body)
        start += body["itemsPerPage"]
    assert seen == everything
    assert sorted(seen) == sorted(u["id"] for u in users)
    assert start == 8


@pytest.mark.parametrize("count", ["0", "-1", "-1000"])
def test_count_zero_or_negative_gives_only_the_total(scim, users, count):
    body = page(scim, f"count={count}")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (7, 1, 0)
    assert body.get("Resources", []) == []


@pytest.mark.parametrize("start", ["0", "-5"])
def test_a_start_index_below_one_is_one(scim, users, start):
    body = page(scim, f"startIndex={start}&count=2")
    assert (body["startIndex"], body["itemsPerPage"]) == (1, 2)
    assert _ids(body) == _ids(page(scim, ""))[:2]


def test_a_start_index_past_the_end_gives_no_resources(scim, users):
    body = page(scim, "startIndex=8")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (7, 8, 0)
    assert body.get("Resources", []) == []


def test_count_is_capped_at_the_advertised_maximum_page_size(scim, users, settings):
    settings.SCIM_MAX_PAGE_SIZE = 3
    advertised = body_of(scim.get("/ServiceProviderConfig"))["pagination"]["maxPageSize"]
    assert advertised == 3
    for query in ("count=5", "count=1000000", ""):
        body = page(scim, query)
        assert (body["totalResults"], body["itemsPerPage"]) == (7, 3), query
    assert page(scim, "startIndex=4&count=500")["itemsPerPage"] == 3


@pytest.mark.parametrize(
    "query",
    ["count=abc", "count=1.5", "count=1e3", "startIndex=abc", "startIndex=2.0", "startIndex=one&count=1"],
)
def test_a_non_integer_start_index_or_count_is_refused(scim, users, query):
    name = query.split("=")[0]
    body = assert_scim_error(scim.get(f"/Users?{query}"), 400, "invalidValue")
    assert name in body["detail"]


def test_groups_are_paged_the_same_way(scim):
    groups = [scim.create_group(f"Group {n}") for n in range(5)]
    everything = _ids(page(scim, "", "/Groups"))
    assert sorted(everything) == sorted(g["id"] for g in groups)
    body = page(scim, "startIndex=2&count=2", "/Groups")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert _ids(body) == everything[1:3]
    assert page(scim, "count=0", "/Groups")["totalResults"] == 5


def test_deleted_users_are_neither_listed_nor_counted(scim, users):
    assert scim.delete(f"/Users/{users[0]['id']}").status_code == 204
    body = page(scim, "")
    assert body["totalResults"] == 6
    assert users[0]["id"] not in _ids(body)


def test_pages_from_remembered_positions_are_the_pages_offset_reads(scim, monkeypatch):
    """Past POSITION_STRIDE a page in pk order starts from a remembered position: same users,
    same order (a sorted query pages by offset)."""
    for n in range(12):
        scim.create_user(f"user{n:02}@example.com", title="Engineer" if n % 2 else None)
    queries = [
        "/Users?startIndex={}&count=4",
        "/Users?startIndex={}&count=4&sortBy=title&sortOrder=descending",
    ]
    expected = {
        q: [[r["id"] for r in body_of(scim.get(q.format(i)))["Resources"]] for i in (1, 5, 9)]
        for q in queries
    }
    monkeypatch.setattr("scim_api.paging.POSITION_STRIDE", 3)  # pages start from found positions
    for query in queries:
        pages = [[r["id"] for r in body_of(scim.get(query.format(i)))["Resources"]] for i in (1, 5, 9)]
        assert pages == expected[query]
        seen = [user_id for page in pages for user_id in page]
        assert len(seen) == len(set(seen)) == 12


@pytest.mark.parametrize(
    "query",
    [
        'filter=userName eq "Alice@Example.com"',
        'filter=USERNAME eq "alice@example.com"&attributes=userName',
        'filter=userName eq "alice@example.com"&excludedAttributes=groups',
        'filter=externalId eq "shared"',
        'filter=externalId eq "shared"&count=2',
        'filter=externalId eq "shared"&count=3',
        'filter=externalId eq "SHARED"',  # caseExact: no match
        'filter=externalId eq "shared"&startIndex=2',
        'filter=userName eq "gone@example.com"',
        'filter=userName eq "nobody@example.com"',
        "filter=externalId eq shared",  # Entra's bare word
        'filter=displayName eq "Alice"',  # no prepared lookup for it
    ],
)
def test_prepared_column_lookups_answer_as_the_general_path(scim, monkeypatch, query):
    """``userName eq``/``externalId eq`` are read by a prepared query (listing._column_lookup): the
    same resources, totals and rendering as the general filter path."""
    alice = scim.create_user("alice@example.com", externalId="shared", displayName="Alice")
    scim.create_user("bob@example.com", externalId="shared")
    scim.create_user("carol@example.com", externalId="shared")
    gone = scim.create_user("gone@example.com")
    assert scim.delete(f"/Users/{gone['id']}").status_code == 204
    scim.create_group("Team", members=[alice["id"]])
    prepared = body_of(scim.get(f"/Users?{query}"))
    monkeypatch.setattr("scim_api.listing.column_equality", lambda *args: None)
    general = body_of(scim.get(f"/Users?{query}"))
    assert prepared == general
