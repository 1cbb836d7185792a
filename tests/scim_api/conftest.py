"""Fixtures for the SCIM protocol tests: bearer tokens, a client that speaks SCIM over Django's test
client (real requests through the whole middleware and URL stack), and helpers to check SCIM error
documents and that a refused request left the database exactly as it was."""

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from directory.models import AuditEvent, Group, Membership, ScimToken, User, UserValue
from directory.services.tokens import token_create
from tests.support.live_server import live_server
from tests.support.parallel import Api

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BASE = "/scim/v2"
ABSOLUTE_BASE = "http://testserver/scim/v2"

_DEFAULT = object()


@dataclass
class Scim:
    """A SCIM client for one bearer token, over Django's test client (CSRF checks enforced, as for
    an identity provider that never holds a CSRF cookie)."""

    client: Client
    plaintext: str | None
    token: ScimToken | None = None
    base: str = BASE

    def request(
        self,
        method: str,
        path: str,
        body: Any = _DEFAULT,
        *,
        raw: bytes | str | None = None,
        content_type: str = SCIM_JSON,
        token: Any = _DEFAULT,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ):
        url = path if path.startswith("/scim") else f"{base or self.base}{path}"
        extra = {}
        plaintext = self.plaintext if token is _DEFAULT else token
        if plaintext is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {plaintext}"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        if raw is not None:
            data = raw
        elif body is _DEFAULT:
            data = ""
        else:
            data = json.dumps(body)
        return self.client.generic(method, url, data=data, content_type=content_type, **extra)

    def at(self, base: str) -> "Scim":
        """The same client and token, on another SCIM base path (e.g. /scim/<tenant>/v2)."""
        return Scim(self.client, self.plaintext, self.token, base)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=_DEFAULT, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=_DEFAULT, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=_DEFAULT, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def patch_ops(self, path, *operations, **kwargs):
        return self.patch(path, {"schemas": [PATCH_URN], "Operations": list(operations)}, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    # Resources made through the API itself, so that they are exactly what a client would create.
    def create_user(self, user_name: str = "alice@example.com", **attributes) -> dict:
        body = {"schemas": [CORE_USER], "userName": user_name, **attributes}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.content
        return body_of(response)

    def create_group(self, display_name: str = "Engineering", members=(), **attributes) -> dict:
        body = {"schemas": [CORE_GROUP], "displayName": display_name, **attributes}
        if members:
            body["members"] = [{"value": m} for m in members]
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.content
        return body_of(response)


def body_of(response) -> Any:
    """The response's JSON body, after checking it is SCIM JSON (RFC 7644 section 3.1)."""
    assert response["Content-Type"] == SCIM_JSON, response["Content-Type"]
    return json.loads(response.content)


def read(scim, kind: str, resource_id: str, query: str = "") -> dict:
    """The resource as a GET returns it, without meta (checked by version())."""
    response = scim.get(f"/{kind}/{resource_id}{query}")
    assert response.status_code == 200, response.content
    return {k: v for k, v in body_of(response).items() if k != "meta"}


def version(scim, kind: str, resource_id: str) -> int:
    response = scim.get(f"/{kind}/{resource_id}")
    return int(body_of(response)["meta"]["version"].removeprefix('W/"').removesuffix('"'))


def member_ids(scim, group_id: str) -> set[str]:
    return {m["value"] for m in read(scim, "Groups", group_id).get("members", [])}


def assert_scim_error(response, status: int, scim_type: str | None = None, *, detail_contains=None) -> dict:
    """The response is a SCIM Error document (RFC 7644 section 3.12) with this status and scimType,
    in SCIM JSON, with no trace of a Python traceback."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].split(";")[0] == SCIM_JSON, response["Content-Type"]
    body = json.loads(response.content)
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    if scim_type is None:
        assert "scimType" not in body, body
    else:
        assert body.get("scimType") == scim_type, body
    if detail_contains is not None:
        assert detail_contains in body["detail"], body["detail"]
    text = response.content.decode()
    assert "Traceback" not in text and 'File "' not in text, text
    assert set(body) <= {"schemas", "status", "scimType", "detail"}, body
    return body


def without_request_id(detail: str) -> str:
    """An error's detail less the request id every error ends with (scim_api/request_ids.py), to
    compare the details of two requests."""
    return re.sub(r" \(request id [\w.:-]+\)$", "", detail)


def snapshot() -> dict:
    """Every row a SCIM request could write, to compare before and after a refused request."""

    def rows(model):
        return sorted(
            (tuple(sorted((k, repr(v)) for k, v in row.items())) for row in model.objects.values()),
        )

    return {
        "users": rows(User),
        "values": rows(UserValue),
        "groups": rows(Group),
        "memberships": rows(Membership),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def token_pair(tenant, system_actor):
    return token_create(tenant=tenant, name="okta", actor=system_actor)


@pytest.fixture
def token(token_pair):
    return token_pair[0]


@pytest.fixture
def plaintext(token_pair):
    return token_pair[1]


@pytest.fixture
def scim(token_pair) -> Scim:
    token, plaintext = token_pair
    return Scim(Client(enforce_csrf_checks=True), plaintext, token)


@pytest.fixture
def other_token_pair(other_tenant, system_actor):
    return token_create(tenant=other_tenant, name="entra", actor=system_actor)


@pytest.fixture
def other_scim(other_token_pair) -> Scim:
    token, plaintext = other_token_pair
    return Scim(Client(enforce_csrf_checks=True), plaintext, token)


@pytest.fixture
def anonymous(db) -> Scim:
    return Scim(Client(enforce_csrf_checks=True), None)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """A real server (gunicorn, 8 worker processes) for a module of parallel-request tests; it
    reads the test database, so each test commits its own data (``django_db(transaction=True)``)."""
    with live_server(workers=8) as base:
        yield base


@pytest.fixture
def api(server, plaintext) -> Api:
    """SCIM over HTTP to ``server`` with the tenant's token."""
    return Api(server, plaintext)
