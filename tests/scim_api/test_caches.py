"""What the server keeps between requests never lets a refused token in, nor gives a stale total.

- Tokens found are kept in process memory on PostgreSQL (directory/db/token_cache.py): a revocation,
  an expiry or a deactivated tenant must still refuse every request that starts after it committed,
  in every worker process of a real server, however the row was changed.
- List totals are kept in the cache while no write of the tenant has committed since they were
  counted (directory/db/query_memory.py, PostgreSQL; SQLite counts every time).

These run outside a test transaction (``transaction=True``), as requests do in production: inside
one, neither cache is used.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import psycopg
import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.utils import timezone

from directory.db import token_cache
from directory.models import AuditEvent, ScimToken, Tenant
from directory.services.audit import Actor
from directory.services.groups import MemberRef, group_create, group_update
from directory.services.tenants import tenant_update
from directory.services.tokens import token_create, token_revoke
from directory.services.users import user_create, user_delete, user_update
from tests.scim_api.conftest import body_of
from tests.support.live_server import live_servers
from tests.support.processes import direct_opener

WORKERS = 3
ADMIN = Actor.system("test")


def status_of(base: str, plaintext: str, path: str = "/Users?count=1") -> int:
    """The status of a GET; a refusal must be a SCIM error document saying the same status."""
    headers = {"Authorization": f"Bearer {plaintext}"}
    request = urllib.request.Request(f"{base}/scim/v2{path}", headers=headers)
    try:
        with direct_opener().open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        status, body = error.code, json.loads(error.read())
    assert body["status"] == str(status)
    return status


def statuses(servers: list[str], plaintext: str) -> set[int]:
    """One request to each worker, which keeps the token (or finds it refused) in its cache."""
    return {status_of(base, plaintext) for base in servers}


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    """WORKERS gunicorn servers of one single-threaded worker each: real worker processes, each with
    its own cache, and a test that knows which one answers (one server's several workers take
    requests in whatever order they accept them, so a test could not be sure to ask each)."""
    with live_servers(WORKERS, workers=1) as bases:
        yield bases


@pytest.fixture
def issued(tenant):
    token, plaintext = token_create(tenant=tenant, name="idp", actor=ADMIN)
    return token, plaintext


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "refuse",
    [
        pytest.param(lambda token: token_revoke(token=token, actor=ADMIN), id="revoked by the service"),
        pytest.param(
            lambda token: ScimToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now()),
            id="revoked by a bare UPDATE",
        ),
        pytest.param(
            lambda token: ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now()),
            id="expiry moved to now",
        ),
        pytest.param(lambda token: ScimToken.objects.filter(pk=token.pk).delete(), id="deleted"),
        pytest.param(
            lambda token: tenant_update(tenant=token.tenant, actor=ADMIN, is_active=False),
            id="tenant deactivated",
        ),
        pytest.param(
            lambda token: Tenant.objects.filter(pk=token.tenant_id).update(is_active=False),
            id="tenant deactivated by a bare UPDATE",
        ),
    ],
)
def test_a_cached_token_is_refused_by_every_worker_right_after_the_change(servers, issued, refuse):
    """``refuse`` returns once its transaction has committed, maybe before the notification has
    reached any worker: each must refuse the request that follows all the same."""
    token, plaintext = issued
    assert statuses(servers, plaintext) == {200}
    refuse(token)
    assert statuses(servers, plaintext) == {401}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_cached_token_is_refused_once_it_expires(servers, tenant):
    expires = timezone.now() + timedelta(seconds=3)
    _, plaintext = token_create(tenant=tenant, name="short-lived", actor=ADMIN, expires_at=expires)
    assert statuses(servers, plaintext) == {200}
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.2)
    assert statuses(servers, plaintext) == {401}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_other_tokens_and_last_use_are_unaffected(servers, issued, tenant):
    token, plaintext = issued
    _, other = token_create(tenant=tenant, name="other", actor=ADMIN)
    assert statuses(servers, plaintext) == statuses(servers, other) == {200}
    token_revoke(token=token, actor=ADMIN)
    assert statuses(servers, plaintext) == {401}
    assert statuses(servers, other) == {200}
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_found_token_costs_no_query_until_a_change_is_announced(
    issued, django_assert_num_queries, settings
):
    """A kept token costs no query (one empty statement, which Django does not see, asks the
    server for what it has to announce)."""
    settings.SCIM_TOKEN_CACHE_SECONDS = 60
    token, plaintext = issued
    token_cache.clear()
    assert token_cache.find(plaintext).pk == token.pk
    with django_assert_num_queries(0):
        assert token_cache.find(plaintext).pk == token.pk
    # Changed on another connection: this one hears of it from the server, not from a signal.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("UPDATE directory_scimtoken SET revoked_at = now() WHERE id = %s", [token.pk])
    with django_assert_num_queries(1):
        assert token_cache.find(plaintext).revoked_at is not None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_lookup_that_starts_after_a_commit_elsewhere_sees_it(issued, django_assert_num_queries, settings):
    """The notification reaches this connection some time after the other's COMMIT returned (up to
    milliseconds on a busy machine): the lookup that follows at once must see the change all the
    same. Many times over, as a lookup that only polled the socket lost that race a few times in a
    thousand, more under load."""
    settings.SCIM_TOKEN_CACHE_SECONDS = 60
    token, plaintext = issued
    token_cache.clear()
    revoked = False
    assert token_cache.find(plaintext).revoked_at is None
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        for _ in range(200):
            with django_assert_num_queries(0):  # kept, as it was last read
                assert (token_cache.find(plaintext).revoked_at is not None) == revoked
            revoked = not revoked
            other.execute(
                "UPDATE directory_scimtoken SET revoked_at = CASE WHEN %s THEN now() END WHERE id = %s",
                [revoked, token.pk],
            )
            assert (token_cache.find(plaintext).revoked_at is not None) == revoked


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_cache_can_be_turned_off(issued, django_assert_num_queries, settings):
    settings.SCIM_TOKEN_CACHE_SECONDS = 0
    _, plaintext = issued
    token_cache.find(plaintext)
    with django_assert_num_queries(1):
        token_cache.find(plaintext)


# Totals.


def total(scim, query: str = "") -> int:
    response = scim.get(f"/Users?count=1{query}")
    assert response.status_code == 200, response.content
    return body_of(response)["totalResults"]


# On PostgreSQL a remembered total costs the page and one statement (is it still current?), not
# the count; SQLite counts every time (and reads the token: it keeps none).
REMEMBERED = 3 if connection.vendor == "sqlite" else 2


@pytest.mark.django_db(transaction=True)
def test_totals_follow_every_committed_change(scim, django_assert_num_queries):
    for name in ("a", "b", "c"):
        scim.create_user(f"{name}@example.com", title="Engineer")
    assert total(scim) == 3
    with django_assert_num_queries(REMEMBERED):
        assert total(scim) == 3
    created = scim.create_user("d@example.com", title="Engineer")
    assert total(scim) == 4
    assert total(scim, '&filter=title eq "Engineer"') == 4
    scim.patch_ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "Manager"})
    assert total(scim, '&filter=title eq "Engineer"') == 3
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert total(scim) == 3
    group = scim.create_group("Team")
    assert total(scim, f'&filter=groups.value eq "{group["id"]}"') == 0
    user = body_of(scim.get("/Users?count=1"))["Resources"][0]["id"]
    scim.patch_ops(f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user}]})
    assert total(scim, f'&filter=groups.value eq "{group["id"]}"') == 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_keeps_the_remembered_total(scim, django_assert_num_queries):
    scim.create_user("a@example.com")
    scim.create_user("b@example.com")
    assert total(scim) == 2
    assert scim.post("/Users", {"userName": "a@example.com"}).status_code in (400, 409)
    with django_assert_num_queries(REMEMBERED):
        assert total(scim) == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_write_in_progress_when_a_total_is_remembered_counts_once_it_commits(
    scim, tenant, django_assert_num_queries
):
    """The write began before the total was counted and commits after a later write did: a
    marker taken in write order (a sequence, a timestamp, the newest transaction id) would be
    older than the total's and hide that write for good."""
    scim.create_user("a@example.com")
    written, release = threading.Event(), threading.Event()

    def write_and_wait():
        try:
            with transaction.atomic():
                user_create(tenant=tenant, actor=ADMIN, fields={"user_name": "early@example.com"})
                written.set()
                assert release.wait(timeout=30)
        finally:
            connection.close()

    writer = threading.Thread(target=write_and_wait)
    writer.start()
    try:
        assert written.wait(timeout=30)
        scim.create_user("later@example.com")  # begins after the writer's write, commits first
        assert total(scim) == 2
        with django_assert_num_queries(2):
            assert total(scim) == 2  # remembered, the first write still in progress
    finally:
        release.set()
        writer.join(timeout=30)
    assert total(scim) == 3


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_writes_make_no_cache_round_trip(tenant, monkeypatch):
    """What keeps totals exact is in the rows a write commits (its audit event's transaction
    id), so writes leave the shared cache alone: one round trip less per write."""
    calls = []
    cache = caches["default"]
    for method in ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr"):
        monkeypatch.setattr(cache, method, lambda *args, name=method, **kwargs: calls.append(name))
    user = user_create(tenant=tenant, actor=ADMIN, fields={"user_name": "a@example.com"})
    user_update(tenant=tenant, actor=ADMIN, user_id=user.pk, fields={"title": "Engineer"})
    group = group_create(tenant=tenant, actor=ADMIN, fields={"display_name": "Team"})
    group_update(tenant=tenant, actor=ADMIN, group_id=group.pk, add=[MemberRef(str(user.pk), "User")])
    user_delete(tenant=tenant, actor=ADMIN, user_id=user.pk)
    assert AuditEvent.objects.filter(tenant=tenant).count() >= 5
    assert calls == []


@pytest.mark.django_db(transaction=True)
def test_deep_pages_start_from_remembered_positions_of_the_current_data(scim, monkeypatch):
    """Page starts are remembered (POSITION_STRIDE-th pks) and dropped with every write: pages
    read from them are the pages OFFSET reads, before and after users come and go."""
    monkeypatch.setattr("scim_api.paging.POSITION_STRIDE", 3)
    users = [scim.create_user(f"user{n:02}@example.com")["id"] for n in range(14)]

    def walk() -> list[str]:
        ids = []
        for start in (1, 5, 9, 13, 3, 7, 11):  # forward, then again between remembered positions
            body = body_of(scim.get(f"/Users?startIndex={start}&count=4"))
            ids += [r["id"] for r in body.get("Resources", [])]
        return ids

    def offset_walk(present: list[str]) -> list[str]:
        return [pk for start in (1, 5, 9, 13, 3, 7, 11) for pk in present[start - 1 : start + 3]]

    assert walk() == offset_walk(users)
    assert walk() == offset_walk(users)  # now from what the first walk remembered
    for gone in (users[4], users[10]):
        assert scim.delete(f"/Users/{gone}").status_code == 204
    users = [u for u in users if u not in (users[4], users[10])]
    users += [scim.create_user("late@example.com")["id"]]
    assert walk() == offset_walk(users)
