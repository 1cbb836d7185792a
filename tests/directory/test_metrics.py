"""/metrics (issue 21): Prometheus's text format, read with prometheus_client's own parser; SCIM
requests by tenant, resource, method and status with their latency, Celery tasks' outcomes, open
offboarding cases and bursts; who may read it (METRICS_TOKEN, else loopback only)."""

import pytest
from celery import shared_task
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from directory.metrics import metrics_files_clear
from directory.services.tokens import token_create
from directory.tasks import heartbeat
from lifecycle.models import Burst
from tests.scim_api.conftest import Scim


@pytest.fixture
def scim(tenant, system_actor) -> Scim:
    token, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    return Scim(Client(), plaintext, token)


def scrape(client=None, **headers) -> dict:
    """{(name, labels as a sorted tuple): value} of every sample /metrics gives now."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_scim_requests_are_counted_by_tenant_resource_method_and_status(scim):
    user = scim.create_user("ann@example.com")
    before = scrape()
    for _ in range(3):
        assert scim.get(f"/Users/{user['id']}").status_code == 200
    assert scim.post("/Groups", {"displayName": 5}).status_code == 400
    assert Client().get("/scim/v2/Users").status_code == 401
    assert scim.get("/whatever-a-client-invents").status_code == 404
    after = scrape()

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "roster_scim_requests_total"
    assert grew(requests, tenant="acme", resource="Users", method="GET", status="200") == 3
    assert grew(requests, tenant="acme", resource="Groups", method="POST", status="400") == 1
    assert grew(requests, tenant="", resource="Users", method="GET", status="401") == 1
    assert grew(requests, tenant="", resource="unknown", method="GET", status="404") == 1
    latency = "roster_scim_request_duration_seconds"
    assert grew(f"{latency}_count", resource="Users", method="GET") == 4
    assert grew(f"{latency}_bucket", resource="Users", method="GET", le="+Inf") == 4
    assert grew(f"{latency}_sum", resource="Users", method="GET") > 0


@shared_task(name="tests.metrics.fails")
def fails():
    raise ValueError("no")


@shared_task(bind=True, name="tests.metrics.retries", max_retries=1)
def retries(self):
    if self.request.retries == 0:
        raise self.retry(countdown=0)


def test_celery_task_outcomes_are_counted_by_task(db):
    before = scrape()
    heartbeat.apply()
    fails.apply()
    retries.apply()
    after = scrape()

    def grew(task, outcome):
        labels = {"task": task, "outcome": outcome}
        return value(after, "roster_celery_tasks_total", **labels) - value(
            before, "roster_celery_tasks_total", **labels
        )

    assert grew("directory.tasks.heartbeat", "success") == 1
    assert grew("tests.metrics.fails", "failure") == 1
    assert grew("tests.metrics.retries", "retry") == 1
    assert grew("tests.metrics.retries", "success") == 1


def test_open_cases_and_bursts_are_read_at_scrape_time(scim, tenant, other_tenant):
    assert value(scrape(), "roster_offboarding_cases_open", tenant="acme", state="pending_review") == 0
    for name in ("ann", "bob"):
        user = scim.create_user(f"{name}@example.com")
        assert scim.delete(f"/Users/{user['id']}").status_code == 204
    Burst.objects.create(tenant=other_tenant, window_start=timezone.now(), deprovisions=60, rule="count > 50")
    samples = scrape()
    open_cases = {
        labels: v for (name, labels), v in samples.items() if name == "roster_offboarding_cases_open"
    }
    assert sum(open_cases.values()) == 2 and all(dict(labels)["tenant"] == "acme" for labels in open_cases)
    assert value(samples, "roster_bursts_open", tenant="globex") == 1
    assert value(samples, "roster_bursts_open", tenant="acme") == 0


def test_without_a_token_only_loopback_may_read(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    for address in ("10.0.0.5", "192.168.1.1", "2001:db8::1", ""):
        assert Client().get("/metrics", REMOTE_ADDR=address).status_code == 403, address
    # A reverse proxy on this host makes every client loopback: a forwarded request needs the token.
    forwarded = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forwarded.status_code == 403


def test_a_method_a_client_invents_mints_no_series(db):
    for method in ("FOOBAR1", "PROPFINDX", "GETX"):
        Client().generic(method, "/scim/v2/Users")
    methods = {
        dict(labels).get("method") for name, labels in scrape() if name == "roster_scim_requests_total"
    }
    assert "OTHER" in methods and not methods & {"FOOBAR1", "PROPFINDX", "GETX"}


def test_with_a_token_the_bearer_is_required_from_anywhere(db, settings):
    settings.METRICS_TOKEN = "s3cr3t-metrics"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "Basic s3cr3t-metrics"},
    ):
        refused = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
        assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    allowed = Client().get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer s3cr3t-metrics")
    assert allowed.status_code == 200 and b"roster_scim_requests" in allowed.content


def test_metrics_turned_off_are_not_served_nor_counted(scim, settings):
    settings.METRICS_ENABLED = False
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_ENABLED = True
    before = scrape()
    settings.METRICS_ENABLED = False
    off = Scim(Client(), scim.plaintext, scim.token)  # its middleware chain built with metrics off
    assert off.get("/Users").status_code == 200
    settings.METRICS_ENABLED = True
    after = scrape()
    labels = {"tenant": "acme", "resource": "Users", "method": "GET", "status": "200"}
    assert value(after, "roster_scim_requests_total", **labels) == value(
        before, "roster_scim_requests_total", **labels
    )


def test_another_process_samples_are_in_the_scrape(db, tmp_path, settings):
    """Multiprocess mode: what a worker process wrote to the directory is summed into the scrape."""
    import subprocess
    import sys

    before = scrape()
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'directory.settings'; django.setup(); "
        "from directory import metrics; metrics.CELERY_TASKS.labels('tests.elsewhere', 'success').inc(2)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    labels = {"task": "tests.elsewhere", "outcome": "success"}
    assert (
        value(scrape(), "roster_celery_tasks_total", **labels)
        - value(before, "roster_celery_tasks_total", **labels)
        == 2
    )


def test_production_does_not_redirect_a_scrape_to_https(db):
    """Under ROSTER_ENV=production (SECURE_SSL_REDIRECT), a loopback scrape over plain HTTP is
    answered, while the admin is still redirected."""
    import subprocess
    import sys

    script = (
        "import django, os; django.setup(); from django.test import Client; "
        "c = Client(); print(c.get('/metrics').status_code, c.get('/admin/').status_code)"
    )
    env = {
        **__import__("os").environ,
        "DJANGO_SETTINGS_MODULE": "directory.settings",
        "ROSTER_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_NAME": connection.settings_dict["NAME"],  # the test database, migrated
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split()[-2:] == ["200", "301"], result.stderr[-2000:]


def test_a_starting_service_empties_the_samples_of_earlier_processes(db, tmp_path, settings):
    """What processes of an earlier run left would be summed into every scrape: serve (and a
    production unit, README) empties the directory first."""
    settings.METRICS_DIR = tmp_path
    (tmp_path / "counter_123.db").write_bytes(b"old samples")
    (tmp_path / "histogram_456.db").write_bytes(b"old samples")
    (tmp_path / "keep.txt").write_text("not a sample file")
    assert metrics_files_clear() == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
