"""The SCIM request log (issue 21): every write and every failed request is a row, with its redacted
body and the audit events it caused; successful reads are only counted per token and day; old rows
are pruned; every /scim/ answer carries its request id. Through real SCIM requests (the whole
middleware and URL stack)."""

import json
import logging
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from directory.admin_requests import caused_events
from directory.models import AuditEvent, ScimRequest, ScimRequestDay
from directory.request_buffer import BUFFER
from directory.request_selectors import tenant_requests_by_day, token_requests_by_day
from directory.services.requests import DayCount, request_days_add, scim_requests_prune
from directory.services.tokens import token_create
from directory.tasks import scim_request_log_prune
from scim_api import traffic
from scim_api.redaction import BODY_LIMIT
from tests.scim_api.conftest import CORE_USER, PATCH_URN, Scim, assert_scim_error, body_of
from tests.support.parallel import at_once

SECRET = "Hunter2-Correct-Horse"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture(autouse=True)
def _written_at_once(_request_log_kept, settings):
    """Each request writes what it kept before answering, so that a test reads its rows at once
    (production writes them every few seconds: directory/request_buffer.py)."""
    settings.SCIM_REQUEST_LOG_FLUSH_SECONDS = 0
    BUFFER.take()


@pytest.fixture
def token_pair(tenant, system_actor):
    return token_create(tenant=tenant, name="okta", actor=system_actor)


@pytest.fixture
def scim(token_pair) -> Scim:
    token, plaintext = token_pair
    return Scim(Client(enforce_csrf_checks=True), plaintext, token)


def only_row(**filters) -> ScimRequest:
    [row] = ScimRequest.objects.filter(**filters)
    return row


def every_stored_text() -> str:
    """Every column of every log row, as one text to search for what must not be there."""
    return json.dumps(list(ScimRequest.objects.values()), default=str)


def test_a_post_patch_and_delete_are_logged_with_the_audit_events_they_caused(scim, token_pair, tenant):
    token, _ = token_pair
    created = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann@example.com"})
    user = body_of(created)
    patched = scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "Boss"})
    deleted = scim.delete(f"/Users/{user['id']}")
    rows = list(ScimRequest.objects.order_by("id"))
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("POST", "/scim/v2/Users", 201),
        ("PATCH", f"/scim/v2/Users/{user['id']}", patched.status_code),
        ("DELETE", f"/scim/v2/Users/{user['id']}", 204),
    ]
    for row, response in zip(rows, (created, patched, deleted), strict=True):
        assert (row.tenant_id, row.token_id) == (tenant.pk, token.pk)
        assert row.request_id == response["X-Request-ID"] and row.latency_ms > 0
        events = list(caused_events(row))
        assert events and all(e.request_id == row.request_id for e in events), row
    assert [e.action for e in caused_events(rows[0])] == ["user.created"]
    assert json.loads(rows[0].body) == {"schemas": [CORE_USER], "userName": "ann@example.com"}
    every_event = AuditEvent.objects.filter(tenant=tenant, actor_token=token)
    assert {e.pk for row in rows for e in caused_events(row)} == {e.pk for e in every_event}


def test_the_admin_shows_a_request_with_its_events_and_an_event_links_back(scim, admin_client):
    scim.create_user("ann@example.com")
    row = only_row(method="POST")
    [event] = caused_events(row)
    listing = admin_client.get(reverse("admin:directory_scimrequest_changelist"), {"status": "2xx"})
    assert reverse("admin:directory_scimrequest_change", args=[row.pk]) in listing.content.decode()
    page = admin_client.get(reverse("admin:directory_scimrequest_change", args=[row.pk])).content.decode()
    assert reverse("admin:directory_auditevent_change", args=[event.pk]) in page
    assert "ann@example.com" in page  # the body
    back = admin_client.get(reverse("admin:directory_auditevent_change", args=[event.pk])).content.decode()
    assert reverse("admin:directory_scimrequest_change", args=[row.pk]) in back
    searched = admin_client.get(reverse("admin:directory_scimrequest_changelist"), {"q": row.request_id})
    assert reverse("admin:directory_scimrequest_change", args=[row.pk]) in searched.content.decode()
    link = reverse("admin:directory_scimrequest_change", args=[row.pk])
    for query, shown in (
        ({"status": "4xx"}, False),
        ({"status": "201"}, True),
        ({"method": "POST", "token": str(row.token_id)}, True),
        ({"method": "DELETE"}, False),
        ({"token": str(row.token_id + 1)}, False),
    ):
        listed = admin_client.get(reverse("admin:directory_scimrequest_changelist"), query)
        assert listed.status_code == 200 and (link in listed.content.decode()) == shown, query


def test_a_password_or_a_token_never_reaches_the_log(scim, token_pair):
    _, plaintext = token_pair
    user = scim.create_user("ann@example.com", password=SECRET)
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "password", "value": SECRET + "2"})
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "value": {"password": SECRET + "3"}})
    scim.patch_ops(
        f"/Users/{user['id']}",
        {
            "op": "replace",
            "path": "urn:ietf:params:scim:schemas:core:2.0:User:password",
            "value": SECRET + "4",
        },
    )
    bulk = {
        "schemas": [BULK_URN],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "b1",
                "data": {"schemas": [CORE_USER], "userName": "bob@example.com", "password": SECRET + "5"},
            }
        ],
    }
    assert scim.post("/Bulk", bulk).status_code == 200
    refused = scim.post("/Users", {"schemas": [CORE_USER], "userName": 5, "password": SECRET + "6"})
    assert refused.status_code == 400
    assert ScimRequest.objects.count() == 6
    stored = every_stored_text()
    assert SECRET not in stored and plaintext not in stored
    assert stored.count("[redacted]") >= 6


def test_a_400_is_logged_with_its_scim_type_and_a_write_rolled_back_still_is(scim):
    user = scim.create_user("ann@example.com")
    bad_path = scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "nosuch[", "value": 1})
    assert_scim_error(bad_path, 400, "invalidPath")
    duplicate = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ANN@example.com"})
    assert_scim_error(duplicate, 409, "uniqueness")
    row = only_row(status=400)
    assert (row.method, row.scim_type, row.request_id) == ("PATCH", "invalidPath", bad_path["X-Request-ID"])
    assert only_row(status=409).scim_type == "uniqueness"


def test_a_401_and_an_unknown_url_are_logged_without_a_token(scim, tenant):
    anonymous = Client()
    assert anonymous.get("/scim/v2/Users").status_code == 401
    assert scim.get("/NoSuchThing").status_code == 404
    assert scim.get("/Users", token="roster_not-a-token").status_code == 401
    assert [(r.path, r.status, r.token_id, r.tenant_id) for r in ScimRequest.objects.order_by("id")] == [
        ("/scim/v2/Users", 401, None, None),
        ("/scim/v2/NoSuchThing", 404, None, None),
        ("/scim/v2/Users", 401, None, None),
    ]


def test_a_500_is_logged_and_answered_with_its_request_id(scim, monkeypatch):
    from scim_api import resources

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(resources.RESOURCES["Users"], "get", broken)
    response = scim.get("/Users/0190a3c4-0000-7000-8000-000000000000", headers={"X-Request-ID": "bug-1"})
    body = assert_scim_error(response, 500)
    assert response["X-Request-ID"] == "bug-1" and body["detail"].endswith("(request id bug-1)")
    row = only_row(status=500)
    assert row.request_id == "bug-1" and row.token_id == scim.token.pk  # who called, though it failed


def test_a_query_keeps_its_parameter_names_never_a_filter_value(scim):
    refused = scim.get('/Users?filter=userName eq "zed@example.com" and (&count=5')
    assert_scim_error(refused, 400, "invalidFilter")
    searched = scim.post("/Users/.search", {"filter": 'userName eq "zed@example.com" and', "count": 5})
    assert searched.status_code == 400
    first, second = ScimRequest.objects.order_by("id")
    assert (first.path, first.query) == ("/scim/v2/Users", "filter&count")
    assert json.loads(second.body) == {"filter": "[redacted]", "count": 5}
    assert "zed" not in every_stored_text()


def test_a_bulk_request_is_one_row_with_its_operations(scim):
    bulk = {
        "schemas": [BULK_URN],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "a",
                "data": {"schemas": [CORE_USER], "userName": "a@x.io"},
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "b",
                "data": {"schemas": [CORE_USER], "userName": "A@x.io"},
            },
        ],
    }
    response = scim.post("/Bulk", bulk)
    assert response.status_code == 200
    row = only_row()
    operations = row.operations
    assert [(o["method"], o["bulkId"], o["status"], o["scimType"]) for o in operations] == [
        ("POST", "a", 201, None),
        ("POST", "b", 409, "uniqueness"),
    ]
    assert operations[0]["path"].startswith("/scim/v2/Users/") and operations[1]["path"] is None
    assert {e.action for e in caused_events(row)} == {"user.created"}


def test_a_body_is_cut_at_16_kb_and_says_so(scim):
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann@x.io", "title": "t" * 40_000})
    row = only_row()
    assert row.status == response.status_code
    assert row.body_truncated and len(row.body.encode()) <= BODY_LIMIT


def test_a_successful_read_is_counted_not_logged_and_counts_flush(scim, token_pair, tenant, settings):
    token, _ = token_pair
    settings.SCIM_REQUEST_LOG_FLUSH_SECONDS = 3600
    BUFFER.take()
    user = scim.create_user("ann@example.com")
    for _ in range(3):
        assert scim.get(f"/Users/{user['id']}").status_code == 200
    assert scim.post("/Users/.search", {"filter": 'userName eq "ann@example.com"'}).status_code == 200
    assert scim.get("/Users/0190a3c4-0000-7000-8000-000000000000").status_code == 404
    assert not ScimRequest.objects.exists() and not ScimRequestDay.objects.exists()  # kept, not written
    BUFFER.flush()
    assert [r.method for r in ScimRequest.objects.order_by("id")] == ["POST", "GET"]  # the write, the 404
    day = ScimRequestDay.objects.get(token=token)
    assert (day.tenant_id, day.day, day.reads, day.writes, day.errors) == (
        tenant.pk,
        timezone.now().date(),
        4,
        1,
        1,
    )
    settings.SCIM_REQUEST_LOG_FLUSH_SECONDS = 0  # now every request's own flush is due
    BUFFER.take()
    assert scim.get(f"/Users/{user['id']}").status_code == 200
    day.refresh_from_db()
    assert (day.reads, day.writes, day.errors) == (5, 1, 1) and day.latency_ms > 0
    assert ScimRequest.objects.count() == 2


def test_a_hundred_rows_waiting_are_written_at_once(scim, settings):
    settings.SCIM_REQUEST_LOG_FLUSH_SECONDS = 3600
    BUFFER.take()
    missing = "/Users/00000000-0000-0000-0000-000000000000"  # a 404 of the token's: logged
    for _ in range(99):
        scim.get(missing)
    assert not ScimRequest.objects.exists()
    scim.get(missing)
    assert ScimRequest.objects.count() == 100


def test_rows_the_database_could_not_take_are_kept_for_the_next_flush(scim, monkeypatch, caplog):
    from directory import request_buffer

    written = request_buffer.scim_requests_add

    def unavailable(**kwargs):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(request_buffer, "scim_requests_add", unavailable)
    with caplog.at_level(logging.WARNING, logger="directory.request_buffer"):
        assert scim.get("/NoSuchThing").status_code == 404
    assert not ScimRequest.objects.exists() and "kept for the next flush" in caplog.text
    monkeypatch.setattr(request_buffer, "scim_requests_add", written)
    assert scim.get("/NoSuchThing").status_code == 404
    assert ScimRequest.objects.count() == 2


def test_the_selectors_give_every_day_of_the_period_zeros_included(tenant, other_tenant, system_actor):
    okta, _ = token_create(tenant=tenant, name="okta", actor=system_actor)
    entra, _ = token_create(tenant=tenant, name="entra", actor=system_actor)
    other, _ = token_create(tenant=other_tenant, name="okta", actor=system_actor)
    today = timezone.now().date()
    request_days_add(
        counts=[
            DayCount(tenant.pk, okta.pk, today, reads=10, writes=2, errors=1, latency_ms=26.0),
            DayCount(tenant.pk, entra.pk, today, reads=5),
            DayCount(tenant.pk, okta.pk, today - timedelta(days=29), errors=4),
            DayCount(tenant.pk, okta.pk, today - timedelta(days=30), reads=99),  # out of the 30 days
            DayCount(other_tenant.pk, other.pk, today, writes=7),
        ]
    )
    by_token = token_requests_by_day(token=okta, days=30)
    assert len(by_token) == 30 and [d.day for d in by_token] == [
        today - timedelta(days=29 - n) for n in range(30)
    ]
    assert (by_token[0].errors, by_token[-1].reads, by_token[-1].mean_ms) == (4, 10, 2.0)
    assert all(d.requests == 0 and d.mean_ms is None for d in by_token[1:-1])
    acme = tenant_requests_by_day(tenant=tenant, days=30)
    assert (acme[-1].reads, acme[-1].writes, acme[0].errors) == (15, 2, 4)
    overall = tenant_requests_by_day(days=30)
    assert (overall[-1].reads, overall[-1].writes) == (15, 9)


def test_counts_of_one_token_and_day_add_up(tenant, system_actor):
    token, _ = token_create(tenant=tenant, name="okta", actor=system_actor)
    today = timezone.now().date()
    for _ in range(3):
        request_days_add(
            counts=[DayCount(tenant.pk, token.pk, today, reads=2, writes=1, errors=1, latency_ms=1.5)]
        )
    row = ScimRequestDay.objects.get()
    assert (row.reads, row.writes, row.errors, row.latency_ms) == (6, 3, 3, 4.5)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_processes_flushing_at_once_lose_no_count(tenant, system_actor):
    okta, _ = token_create(tenant=tenant, name="okta", actor=system_actor)
    entra, _ = token_create(tenant=tenant, name="entra", actor=system_actor)
    today = timezone.now().date()

    def flush(i):
        try:
            for n in range(10):
                # Both tokens' rows in each statement, in either order: the statement sorts them.
                counts = [
                    DayCount(tenant.pk, okta.pk, today, reads=1),
                    DayCount(tenant.pk, entra.pk, today, errors=1),
                ]
                request_days_add(counts=counts if (i + n) % 2 else counts[::-1])
        finally:
            connections.close_all()

    at_once(6, flush)
    assert ScimRequestDay.objects.get(token=okta).reads == 60
    assert ScimRequestDay.objects.get(token=entra).errors == 60


def test_prune_deletes_only_the_rows_older_than_the_retention(scim, settings):
    settings.SCIM_REQUEST_LOG_DAYS = 30
    for _ in range(5):
        assert scim.get("/NoSuchThing").status_code == 404
    now = timezone.now()
    old = list(ScimRequest.objects.order_by("id").values_list("pk", flat=True)[:3])
    ScimRequest.objects.filter(pk__in=old[:2]).update(received_at=now - timedelta(days=31))
    ScimRequest.objects.filter(pk=old[2]).update(received_at=now - timedelta(days=29, hours=23))
    assert scim_request_log_prune.apply().get() == 2
    assert not ScimRequest.objects.filter(pk__in=old[:2]).exists() and ScimRequest.objects.count() == 3
    assert scim_request_log_prune.apply().get() == 0  # idempotent
    ScimRequest.objects.update(received_at=now - timedelta(days=40))
    assert scim_requests_prune(before=now - timedelta(days=30), batch=2) == 3  # in batches, to the end
    assert not ScimRequest.objects.exists()


def test_the_prune_schedule_is_installed(db):
    """By migration 0026, run here as ``migrate`` runs it (a transactional test's flush before this
    one may have emptied the table), twice: the second time changes nothing."""
    import importlib

    from django.db.migrations.loader import MigrationLoader
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("directory.migrations.0026_request_log_prune_schedule")
    state = MigrationLoader(connection).project_state(("directory", "0026_request_log_prune_schedule"))
    migration.install(state.apps, None)
    migration.install(state.apps, None)
    task = PeriodicTask.objects.get(name="scim-request-log-prune")
    assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
        "directory.tasks.scim_request_log_prune",
        3600,
        "seconds",
        True,
    )


@pytest.mark.parametrize(
    ("path", "status", "kwargs"),
    [
        ("/Users", 401, {"token": None}),
        ("/Users?filter=userName%20zz", 400, {}),
        ("/NoSuchThing", 404, {}),
        ("/scim/elsewhere", 404, {}),
        ("/Me", 501, {}),
        ("/ServiceProviderConfig", 405, {"method": "DELETE"}),
        ("/Users", 400, {"headers": {"Host": "evil.example"}}),  # Django's DisallowedHost
        ("/Users", 415, {"method": "POST", "content_type": "text/plain"}),
    ],
)
def test_every_scim_error_carries_its_request_id_in_the_header_and_the_detail(scim, path, status, kwargs):
    method = kwargs.pop("method", "GET")
    body = {"schemas": [CORE_USER], "userName": "x@y.z"} if method == "POST" else None
    if body is not None:
        kwargs["raw"] = json.dumps(body)
    response = scim.request(method, path, **kwargs)
    error = assert_scim_error(
        response, status, None if status != 400 or "Host" in str(kwargs) else "invalidFilter"
    )
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and error["detail"].endswith(f"(request id {request_id})"), error
    assert ScimRequest.objects.get().request_id == request_id


def test_a_request_id_given_is_kept_and_a_success_carries_it_too(scim):
    response = scim.get("/Users", headers={"X-Request-ID": "okta-abc.123"})
    assert response.status_code == 200 and response["X-Request-ID"] == "okta-abc.123"
    odd = scim.get("/Nope", headers={"X-Request-ID": "not ok!"})
    assert odd["X-Request-ID"] != "not ok!" and body_of(odd)["detail"].endswith(
        f"(request id {odd['X-Request-ID']})"
    )


def test_a_failure_to_log_never_fails_the_request(scim, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the log's table is gone")

    monkeypatch.setattr("scim_api.traffic.redacted_body", broken)  # making the row fails
    with caplog.at_level(logging.ERROR):
        created = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ann@example.com"})
    assert created.status_code == 201 and not ScimRequest.objects.exists()
    [record] = [r for r in caplog.records if r.name == "scim_api.traffic"]
    assert created["X-Request-ID"] in record.getMessage() and "the log's table is gone" in record.exc_text
    monkeypatch.undo()
    monkeypatch.setattr("directory.request_buffer.scim_requests_add", broken)  # writing it fails
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        created = scim.post("/Users", {"schemas": [CORE_USER], "userName": "bob@example.com"})
    assert created.status_code == 201 and not ScimRequest.objects.exists()
    [record] = [r for r in caplog.records if r.name == "directory.request_buffer"]
    assert "dropped" in record.getMessage() and "the log's table is gone" in record.exc_text


def test_with_the_log_off_nothing_is_logged_or_counted(scim, settings):
    settings.SCIM_REQUEST_LOG = False
    settings.METRICS_ENABLED = False
    scim.create_user("ann@example.com")
    assert scim.get("/Nope").status_code == 404
    BUFFER.flush()
    assert not ScimRequest.objects.exists() and not ScimRequestDay.objects.exists()


def test_a_patch_op_keeps_its_path_and_loses_only_secret_values(scim):
    user = scim.create_user("ann@example.com")
    scim.patch(
        f"/Users/{user['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "path": "title", "value": "Boss"},
                {"op": "replace", "path": "password", "value": SECRET},
            ],
        },
    )
    row = only_row(method="PATCH")
    assert json.loads(row.body)["Operations"] == [
        {"op": "replace", "path": "title", "value": "Boss"},
        {"op": "replace", "path": "password", "value": "[redacted]"},
    ]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_prunes_at_once_delete_each_old_row_once(scim):
    for _ in range(30):
        assert scim.get("/NoSuchThing").status_code == 404
    ScimRequest.objects.update(received_at=timezone.now() - timedelta(days=40))
    kept = scim.get("/NoSuchThing")

    def prune(i):
        try:
            return scim_requests_prune(before=timezone.now() - timedelta(days=30), batch=4)
        finally:
            connections.close_all()

    assert sum(at_once(3, prune)) == 30
    assert list(ScimRequest.objects.values_list("request_id", flat=True)) == [kept["X-Request-ID"]]


def test_requests_without_a_token_are_logged_up_to_a_rate_then_counted(scim, monkeypatch, caplog):
    """A scanner's flood of 401s fills no table: each process logs 60 a minute and counts the rest
    in a warning when the minute turns; requests with a token are all logged."""
    monkeypatch.setattr(traffic, "ANONYMOUS_ROWS_PER_MINUTE", 3)
    anonymous = Client()
    for _ in range(5):
        assert anonymous.get("/scim/v2/Users").status_code == 401
    assert scim.post("/Users", {"schemas": [CORE_USER], "userName": "x@example.com"}).status_code == 201
    assert ScimRequest.objects.filter(token__isnull=True).count() == 3
    assert ScimRequest.objects.filter(token__isnull=False).count() == 1
    traffic.ANONYMOUS.take(time.time() + 60)  # the next minute
    assert "2 SCIM requests without a valid token not logged" in caplog.text


def test_a_hostile_method_or_a_nul_cannot_stop_the_log(scim):
    """A method the column cannot hold, or a NUL PostgreSQL refuses in text, is made safe; and one
    row the database refuses is dropped alone, never the others of the same flush."""
    anonymous = Client()
    anonymous.generic("FOOBAR12345", "/scim/v2/Users")
    anonymous.get("/scim/v2/Users/a%00b")
    assert scim.post("/Users", {"schemas": [CORE_USER], "userName": "kept@example.com"}).status_code == 201
    rows = {(r.method, r.path) for r in ScimRequest.objects.all()}
    assert ("OTHER", "/scim/v2/Users") in rows and ("POST", "/scim/v2/Users") in rows
    assert ("GET", "/scim/v2/Users/a\ufffdb") in rows


def test_one_row_the_database_refuses_is_dropped_alone(scim, monkeypatch, caplog):
    from directory.services import requests as request_services

    real = request_services.scim_requests_add

    def picky(*, rows):
        if any(row["path"].endswith("/refused") for row in rows):
            raise ValueError("refused")
        real(rows=rows)

    monkeypatch.setattr("directory.request_buffer.scim_requests_add", picky)
    BUFFER.log({**_row(), "path": "/scim/v2/Users/refused"})
    BUFFER.log(_row())
    BUFFER.flush()
    assert list(ScimRequest.objects.values_list("path", flat=True)) == ["/scim/v2/Users"]
    assert "dropped: the database refused it" in caplog.text


def _row() -> dict:
    return {
        "received_at": timezone.now(),
        "tenant_id": None,
        "token": None,
        "method": "GET",
        "path": "/scim/v2/Users",
        "query": "",
        "status": 401,
        "scim_type": "",
        "latency_ms": 1.0,
        "request_id": "r1",
    }
