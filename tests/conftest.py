import pytest
from django.core.cache import cache
from django.db import connection

from directory.request_buffer import BUFFER
from directory.services.audit import Actor
from directory.services.tenants import tenant_create
from scim_api import traffic


def pytest_collection_modifyitems(config, items):
    """postgres_only tests test PostgreSQL itself (plans, trigram indexes); on SQLite they say so."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="PostgreSQL only: runs in the PostgreSQL pass of `dev.py test`")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    """What lives in the cache (rate-limit counters, the burst guard's count of a tenant's users)
    must not leak from one test into another, whose tenant may have the same id."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _request_log_kept(settings, monkeypatch):
    """The request log's rows and counts of a test's SCIM requests are kept in the process
    (directory/request_buffer.py) and written only when the test asks: a flush due in the middle of
    a later test would write there rows of tokens rolled back, and statements its query counts do
    not expect. Each test has the whole minute's allowance of tokenless rows (scim_api.traffic)."""
    settings.SCIM_REQUEST_LOG_FLUSH_SECONDS = 3600
    monkeypatch.setattr(traffic, "ANONYMOUS", traffic.AnonymousAllowance())
    BUFFER.take()
    yield
    BUFFER.take()


@pytest.fixture
def system_actor():
    return Actor.system("tests")


@pytest.fixture
def tenant(db, system_actor):
    return tenant_create(slug="acme", actor=system_actor)


@pytest.fixture
def other_tenant(db, system_actor):
    return tenant_create(slug="globex", actor=system_actor)
