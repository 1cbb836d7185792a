"""Property test: no request to any SCIM endpoint gets a 5xx, and every refusal is a SCIM error.

Schemathesis generates requests from the project's own OpenAPI description (scim_api/openapi.py):
bodies, query parameters and headers that fit it and that do not (its positive and negative
modes), for every operation it lists: Users, Groups, each resource, the .search endpoints,
/.search, /Bulk, discovery and /Me. Hypothesis then bends each request the ways hostile clients
do: another tenant's URL or token, a token that is no token or none, ids of real and deleted
resources, entity tags of any length, odd Content-Types, numbers no attribute can hold anywhere
in the body, huge digit strings in paging parameters.

Each request runs against the same seeded directory (a tenant with users, a manager, groups
nested in groups, a deleted user), in a savepoint rolled back afterwards, and Hypothesis is
derandomized: a run is the same run every time, on SQLite and on PostgreSQL, and a failure
reproduces. Run with FUZZ_EXAMPLES=<n> for a longer search than the suite's.
"""

import json
import os
import re
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet

from directory.services.tokens import token_create, token_revoke
from scim_api.openapi import openapi_document
from tests.scim_api.conftest import ERROR_URN, SCIM_JSON

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

schema = schemathesis.openapi.from_dict(openapi_document("http://testserver/scim/v2"))
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)

# Numbers JSON allows that no attribute, int() or float can hold (the 5,000 digits broke
# json.loads; 1e999 became "inf").
HOSTILE_NUMBERS = ["9" * 5000, "-" + "9" * 4400, "1e999", "-1e400", "1" + "0" * 400 + ".5", "0.0", "-0"]
_HOSTILE = "\u0000hostile\u0000"
CONTENT_TYPES = [
    "application/json; charset=utf-8",
    "application/scim+json; charset=UTF-8",
    "text/plain",
    "",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
]


# Each request is a valid one (the generated case, a valid token, a real id) bent in at most
# MAX_MUTATIONS of these ways, so that each way is tried often and alone.
MUTATIONS = (
    "If-Match: a known tag",
    "If-Match: a huge tag",
    "If-None-Match: a known tag",
    "If-None-Match: a huge tag",
    "another tenant's token",
    "a revoked token",
    "no token",
    "an odd Authorization",
    "the tenant's URL",
    "another tenant's URL",
    "another id",
    "a number no attribute can hold",
    "a huge paging parameter",
    "an odd Content-Type",
    "an X-Request-ID",
)
MAX_MUTATIONS = 2


@pytest.fixture
def directory(scim, other_scim, tenant, system_actor) -> dict:
    """What the requests aim at: ids of real, nested and deleted resources, and the tokens."""
    alice = scim.create_user("alice@example.com", title="Engineer", emails=[{"value": "a@example.com"}])
    bob = scim.create_user(
        "bob@example.com",
        **{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": alice["id"]}}},
    )
    gone = scim.create_user("gone@example.com")
    scim.delete(f"/Users/{gone['id']}")
    inner = scim.create_group("Inner", members=[alice["id"]])
    outer = scim.create_group("Outer", members=[bob["id"], inner["id"]])
    other = other_scim.create_group("Other tenant's")
    revoked_token, revoked = token_create(tenant=tenant, name="revoked", actor=system_actor)
    token_revoke(token=revoked_token, actor=system_actor)
    return {
        "/Users": [alice["id"], bob["id"]],
        "/Groups": [inner["id"], outer["id"]],
        "other ids": [gone["id"], other["id"], "not-an-id", alice["id"] + "x"],
        "token": scim.plaintext,
        "other token": other_scim.plaintext,
        "revoked token": revoked,
        "versions": ['W/"1"', 'W/"2"', '"3"', "*", 'W/"1", W/"2"'],
    }


def _tag(digits: int) -> str:
    return f'W/"{"9" * digits}"'


def _headers(case, data, directory, mutations) -> dict[str, str]:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for name in ("If-Match", "If-None-Match"):
        if f"{name}: a known tag" in mutations:
            headers[name] = data.draw(st.sampled_from(directory["versions"]))
        elif f"{name}: a huge tag" in mutations:
            headers[name] = _tag(data.draw(st.sampled_from([5000, 20, 4301])))
    token = directory["token"]
    if "another tenant's token" in mutations:
        token = directory["other token"]
    elif "a revoked token" in mutations:
        token = directory["revoked token"]
    authorization = f"Bearer {token}"
    if "an odd Authorization" in mutations:
        authorization = data.draw(
            st.sampled_from([f"bearer  {token} ", f"Basic {token}", "Bearer", token, "Bearer " + "x" * 300])
        )
    if "no token" not in mutations:
        headers["Authorization"] = authorization
    if "an X-Request-ID" in mutations:
        headers["X-Request-ID"] = data.draw(st.text(max_size=80))
    # What HTTP can carry: header values are bytes, read as Latin-1, without line breaks.
    return {
        name: re.sub(r"[\r\n\x00]", "", str(value).encode("utf-8", "replace").decode("latin-1"))
        for name, value in headers.items()
        if re.fullmatch(r"[A-Za-z0-9-]+", name)
    }


def _objects(value) -> list[dict]:
    """Every JSON object inside ``value``, itself first."""
    found = [value] if isinstance(value, dict) else []
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found += _objects(child)
    return found


def _body(case, data, mutations) -> bytes | None:
    if isinstance(case.body, NotSet):
        return None
    body = case.body
    if isinstance(body, bytes | str):  # negative mode: a body that is no JSON at all
        return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    targets = _objects(body)
    if targets and "a number no attribute can hold" in mutations:
        target = data.draw(st.sampled_from(targets))
        keys = [*target, "title", "count", "startIndex", "failOnErrors", "version", "value"]
        target[data.draw(st.sampled_from(keys))] = _HOSTILE
        number = data.draw(st.sampled_from(HOSTILE_NUMBERS))
        return json.dumps(body).replace(json.dumps(_HOSTILE), number, 1).encode()
    return json.dumps(body).encode()


def _query(case, data, mutations) -> str:
    query = dict(case.query or {})
    if "a huge paging parameter" in mutations:
        name = data.draw(st.sampled_from(["startIndex", "count", "cursor"]))
        query[name] = data.draw(st.sampled_from(["9" * 5000, "-" + "9" * 30, "٣", "1e999", " 7 ", ""]))
    return urlencode({k: v if isinstance(v, list) else str(v) for k, v in query.items()}, doseq=True)


def _path(case, data, directory, mutations) -> str:
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        if name == "id":
            endpoint = path.split("/{")[0]
            choices = (
                directory["other ids"] + [str(value)] if "another id" in mutations else directory[endpoint]
            )
            value = data.draw(st.sampled_from(choices))
        path = path.replace(f"{{{name}}}", quote(str(value), safe=""))
    base = "/scim/v2"
    if "the tenant's URL" in mutations:
        base = "/scim/acme/v2"
    elif "another tenant's URL" in mutations:
        base = "/scim/globex/v2"
    return base + path


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case, data, directory):
    mutations = data.draw(st.sets(st.sampled_from(MUTATIONS), max_size=MAX_MUTATIONS), label="mutations")
    headers = _headers(case, data, directory, mutations)
    body = _body(case, data, mutations)
    content_type = case.media_type or SCIM_JSON
    if "an odd Content-Type" in mutations:
        content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    query = _query(case, data, mutations)
    url = _path(case, data, directory, mutations) + (f"?{query}" if query else "")

    client = Client(raise_request_exception=False)
    cache.clear()  # rate-limit counters and remembered totals: each request meets the same state
    with transaction.atomic():
        response = client.generic(
            case.method, url, data=body or b"", content_type=content_type, headers=headers
        )
        transaction.set_rollback(True)

    sent = f"{case.method} {url[:300]}\nheaders: {headers}\nbody: {(body or b'')[:300]!r}"
    expected = 501 if case.path == "/Me" else None  # not implemented, as RFC 7644 section 3.11 has it
    assert response.status_code < 500 or response.status_code == expected, (
        f"{response.status_code} for\n{sent}\n{response.content[:500]!r}"
    )
    if response.status_code >= 400 and case.method != "HEAD":
        assert response["Content-Type"] == SCIM_JSON, sent
        error = json.loads(response.content)
        assert error["schemas"] == [ERROR_URN] and error["status"] == str(response.status_code), sent
