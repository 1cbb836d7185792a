"""A database that fails under a request: the answer is 503 with Retry-After and a SCIM error, so
that identity providers retry instead of recording a failed provisioning (Okta and Entra retry
5xx answers; a 500 reads as a bug), and the server recovers by itself once the database is back."""

import pytest
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper

from directory.models import User
from tests.scim_api.conftest import CORE_GROUP, CORE_USER, PATCH_URN, assert_scim_error
from tests.support.live_server import live_server
from tests.support.parallel import Api
from tests.support.proxy import tcp_proxy

BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def resources(scim):
    return {"user": scim.create_user()["id"], "group": scim.create_group()["id"]}


def requests(resources) -> list[tuple[str, str, dict | None]]:
    """One request of each kind a client sends: (method, path, body)."""
    user, group = resources["user"], resources["group"]
    patch = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": "X"}]}
    bulk = {
        "schemas": [BULK_URN],
        "Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "bulk@example.com"}}],
    }
    return [
        ("GET", "/Users", None),
        ("GET", f"/Users/{user}", None),
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": "new@example.com"}),
        ("PATCH", f"/Users/{user}", patch),
        ("PUT", f"/Users/{user}", {"schemas": [CORE_USER], "userName": "alice@example.com"}),
        ("DELETE", f"/Users/{user}", None),
        ("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "New"}),
        ("DELETE", f"/Groups/{group}", None),
        ("POST", "/Users/.search", {"filter": 'userName eq "alice@example.com"'}),
        ("POST", "/.search", {}),
        ("POST", "/Bulk", bulk),
    ]


def test_a_database_error_is_a_503_with_retry_after(scim, resources, monkeypatch):
    """Every statement fails, as on a connection the database dropped."""

    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    for method, path, body in requests(resources):
        with monkeypatch.context() as patched:
            patched.setattr(CursorWrapper, "execute", lost)
            patched.setattr(CursorWrapper, "executemany", lost)
            response = scim.request(method, path, body)
        assert_scim_error(response, 503, detail_contains="Retry it later")
        assert response["Retry-After"] == "5", (method, path)
    assert list(User.objects.values_list("user_name", flat=True)) == ["alice@example.com"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_server_cut_off_from_postgresql_answers_503_and_recovers(plaintext, tenant):
    """A real server whose database connection is cut (a crash, a failover, a network partition)
    and then restored: 503s with Retry-After while it is gone, nothing half-written, and service
    again once it is back, without a restart."""
    settings = connection.settings_dict
    with tcp_proxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))) as proxy:
        user, name = settings["USER"] or "postgres", settings["NAME"]
        database_url = f"postgres://{user}@127.0.0.1:{proxy.port}/{name}"
        with live_server(workers=2, env={"DATABASE_URL": database_url}) as base:
            api = Api(base, plaintext)
            user = api.create("Users", {"schemas": [CORE_USER], "userName": "alice@example.com"})
            resources = {"user": user["id"], "group": api.create("Groups", {"displayName": "G"})["id"]}

            proxy.cut()
            for method, path, body in requests(resources):
                status, answer = api(method, path, body)
                assert status == 503, (method, path, status, answer)
                assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
                assert api.last_headers["Retry-After"] == "5"

            proxy.restore()
            assert api("GET", f"/Users/{user['id']}")[0] == 200
            assert api("POST", "/Users", {"schemas": [CORE_USER], "userName": "bob@example.com"})[0] == 201
    names = sorted(User.objects.values_list("user_name", flat=True))
    assert names == ["alice@example.com", "bob@example.com"]
