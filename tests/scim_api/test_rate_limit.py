"""Per-token rate limiting: over the limit, a SCIM 429 with Retry-After; other tokens unaffected."""

import time

import pytest

from directory.services.tokens import token_create
from tests.scim_api.conftest import CORE_USER, assert_scim_error, body_of, snapshot


@pytest.fixture
def limit_of_three(settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 3
    # The window is a calendar minute: start well inside one so the four requests share it.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_the_fourth_request_in_a_minute_is_a_429(scim, limit_of_three):
    for _ in range(3):
        assert scim.get("/Users").status_code == 200
    response = scim.get("/Users")
    assert_scim_error(response, 429)
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60


def test_a_refused_write_changes_nothing(scim, limit_of_three):
    for _ in range(3):
        assert scim.get("/Users").status_code == 200
    before = snapshot()
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "late@example.com"})
    assert_scim_error(response, 429)
    assert response.has_header("Retry-After")
    assert snapshot() == before


def test_other_tokens_are_counted_apart(scim, other_scim, tenant, system_actor, limit_of_three):
    _, second = token_create(tenant=tenant, name="second", actor=system_actor)
    for _ in range(3):
        assert scim.get("/Users").status_code == 200
    assert_scim_error(scim.get("/Users"), 429)
    # Another token of the same tenant, and a token of another tenant, still have their quota.
    for _ in range(3):
        assert scim.get("/Users", token=second).status_code == 200
        assert other_scim.get("/Users").status_code == 200
    assert_scim_error(scim.get("/Users", token=second), 429)
    assert_scim_error(other_scim.get("/Users"), 429)


def test_every_kind_of_request_counts(scim, limit_of_three):
    created = scim.post("/Users", {"schemas": [CORE_USER], "userName": "a@example.com"})
    assert created.status_code == 201
    user_id = body_of(created)["id"]
    assert (
        scim.patch_ops(f"/Users/{user_id}", {"op": "add", "path": "title", "value": "x"}).status_code == 200
    )
    assert scim.get(f"/Users/{user_id}").status_code == 200
    assert_scim_error(scim.delete(f"/Users/{user_id}"), 429)
    assert scim.get("/Users", token=None).status_code == 401  # no token, no quota used or checked
