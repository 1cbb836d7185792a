"""GET /api/events (issue 22): API-key authentication, parameters, and a cursor that never skips or
repeats, also while transactions commit out of the order they wrote in."""

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from directory.models import Event, EventFeedState, EventSource
from directory.services.audit import Actor
from directory.services.events import events_after, events_prune, events_sequence
from directory.services.tokens import api_key_create, api_key_revoke, token_create
from tests.support.parallel import Step, at_once, until

ACTOR = Actor.system("tests")


def feed(key: str, **params):
    response = Client().get("/api/events", params, HTTP_AUTHORIZATION=f"Bearer {key}")
    return response.status_code, response.json()


def published_all(tenant) -> None:
    """Sequence until no source of the tenant is left: the horizon is the PostgreSQL server's, and
    another database's transaction (another test run on this server) may hold it back a moment."""

    def done() -> bool:
        events_sequence()
        return not EventSource.objects.filter(tenant_id=tenant.pk).exists()

    until(done, timeout=60)


def tokens(tenant, n: int) -> None:
    for i in range(n):
        token_create(tenant=tenant, name=f"t{i}", actor=ACTOR)


@pytest.mark.django_db
def test_pages_through_the_events_with_the_cursor(tenant):
    _, key = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    tokens(tenant, 5)
    status, page = feed(key, limit=2)
    assert status == 200 and page["has_more"] is True
    assert [e["data"]["token"]["label"].split(" ")[0] for e in page["data"]] == ["t0", "t1"]
    seen = [e["id"] for e in page["data"]]
    cursor = page["next_cursor"]
    while True:
        status, page = feed(key, after=cursor, limit=2)
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 5
    status, page = feed(key, after=cursor)
    assert page["data"] == [] and page["next_cursor"] == cursor


@pytest.mark.django_db
def test_a_key_reads_its_own_tenant_and_a_key_of_every_tenant_chooses(tenant, other_tenant):
    _, mine = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    _, everyone = api_key_create(tenant=None, name="warehouse", actor=ACTOR)
    tokens(tenant, 1)
    tokens(other_tenant, 2)
    assert {e["tenant"]["slug"] for e in feed(mine)[1]["data"]} == {"acme"}
    assert len(feed(everyone)[1]["data"]) == 3
    assert {e["tenant"]["slug"] for e in feed(everyone, tenant="globex")[1]["data"]} == {"globex"}
    status, body = feed(mine, tenant="globex")
    assert status == 403 and "acme" in body["detail"]
    assert feed(everyone, tenant="nope")[0] == 404


@pytest.mark.django_db
def test_types_filter_and_the_cursor_passes_what_it_skipped(tenant):
    _, key = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    tokens(tenant, 3)
    status, page = feed(key, types="user.created,token.revoked")
    assert status == 200 and page["data"] == []
    assert page["next_cursor"] == str(Event.objects.order_by("-pk").first().pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"after": "x"}, 400, "not a cursor"),
        ({"after": "-1"}, 400, "not a cursor"),
        ({"after": "9" * 30}, 400, "not a cursor"),
        ({"limit": "0"}, 400, "1 to 1000"),
        ({"limit": "1001"}, 400, "1 to 1000"),
        ({"limit": "ten"}, 400, "1 to 1000"),
        ({"limit": "9" * 5000}, 400, "1 to 1000"),
        ({"types": "user.created,user.exploded"}, 400, "user.exploded"),
    ],
)
def test_bad_parameters_are_told_precisely(tenant, params, status, words):
    _, key = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    got, body = feed(key, **params)
    assert got == status and words in body["detail"]


@pytest.mark.django_db
def test_only_a_usable_api_key_reads(tenant):
    key, plaintext = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    _, scim_plaintext = token_create(tenant=tenant, name="okta", actor=ACTOR)
    assert Client().get("/api/events").status_code == 401
    status, body = feed(scim_plaintext)
    assert status == 401 and "SCIM tokens are not API keys" in body["detail"]
    assert feed("roster_ak_" + "x" * 43)[0] == 401
    assert feed(plaintext)[0] == 200
    api_key_revoke(key=key, actor=ACTOR)
    assert feed(plaintext)[0] == 401
    response = Client().get("/api/events", HTTP_AUTHORIZATION="Basic abc")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert Client().post("/api/events", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 405


@pytest.mark.django_db
def test_a_cursor_older_than_the_retention_is_gone(tenant):
    _, key = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    tokens(tenant, 3)
    events_sequence()
    Event.objects.update(published_at=timezone.now() - timedelta(days=91))
    assert events_prune(before=timezone.now() - timedelta(days=90)) == 3
    status, body = feed(key, after="0")
    assert status == 410 and "deleted" in body["detail"]
    assert body["oldest_cursor"] == str(EventFeedState.objects.get().pruned_through)
    assert feed(key, after=body["oldest_cursor"])[0] == 200
    tokens(tenant, 1)
    status, body = feed(key)  # omitted: from the oldest kept, as the 410 says to do
    assert status == 200 and [e["type"] for e in body["data"]] == ["token.created"]


@pytest.mark.django_db
def test_a_cursor_past_the_last_event_is_refused(tenant):
    _, key = api_key_create(tenant=tenant, name="billing", actor=ACTOR)
    tokens(tenant, 2)
    status, body = feed(key, after="999999")
    assert status == 400 and "not one this server gave" in body["detail"]


# Commit order ------------------------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_transaction_that_commits_late_is_neither_skipped_nor_repeated(tenant):
    """T1 writes first (the lower audit id) and commits last; T2 writes and commits in between. A
    reader after T2's commit must not be handed T2's event with a cursor past T1's."""
    written, release = threading.Event(), threading.Event()

    def slow():
        with transaction.atomic():
            token_create(tenant=tenant, name="slow", actor=ACTOR)
            written.set()
            release.wait(30)

    step = Step(slow)
    until(written.is_set)
    token_create(tenant=tenant, name="quick", actor=ACTOR)
    events_sequence()
    page, cursor = events_after(after=0, tenant=tenant, types=None, limit=100)
    assert page == []  # T2's waits: T1, which may precede it, is still running

    release.set()
    step.finish()
    published_all(tenant)
    page, cursor = events_after(after=cursor, tenant=tenant, types=None, limit=100)
    assert [e.payload["data"]["token"]["label"].split(" ")[0] for e in page] == ["slow", "quick"]
    assert events_after(after=cursor, tenant=tenant, types=None, limit=100)[0] == []


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("run", range(20))
def test_readers_during_concurrent_writers_see_every_event_once_in_order(tenant, run):
    """Eight writers (each a few transactions, some held open) and a reader polling all along,
    sequencing as it goes, as the feed does: every event once, ids rising."""
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        cursor = 0
        while True:
            done = stop.is_set() and not EventSource.objects.filter(tenant_id=tenant.pk).exists()
            events_sequence()
            page, cursor = events_after(after=cursor, tenant=tenant, types=None, limit=7)
            seen.extend(e.pk for e in page)
            if done and not page:
                return

    reading = Step(reader)

    def writer(i):
        try:
            for n in range(3):
                with transaction.atomic():
                    token_create(tenant=tenant, name=f"w{i}-{n}", actor=ACTOR)
                    if (i + n) % 3 == 0:
                        threading.Event().wait(0.01)  # held open while others commit
        finally:
            connections.close_all()

    at_once(8, writer)
    stop.set()
    reading.finish(timeout=120)
    assert len(seen) == len(set(seen)) == 24
    assert seen == sorted(seen)
    assert set(seen) == set(Event.objects.filter(tenant=tenant).values_list("pk", flat=True))
