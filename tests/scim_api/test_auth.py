"""Bearer-token authentication (RFC 7644 section 2, RFC 6750): the token alone selects the tenant;
every refusal is a SCIM 401 with a Bearer challenge, never a redirect, a cookie or a session."""

import base64
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.models import ScimToken
from directory.services.audit import Actor
from directory.services.tenants import tenant_update
from directory.services.tokens import token_create, token_revoke
from tests.scim_api.conftest import CORE_USER, LIST_URN, assert_scim_error, body_of, snapshot

CHALLENGE = 'Bearer realm="scim"'
NEW_USER = {"schemas": [CORE_USER], "userName": "intruder@example.com"}


def assert_unauthorized(response) -> dict:
    body = assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == CHALLENGE
    assert not response.has_header("Location")
    assert not response.cookies, response.cookies
    return body


@pytest.mark.parametrize("base", ["/scim/v2", "/scim/acme/v2"])
def test_a_valid_token_is_accepted_on_both_base_urls(scim, base):
    scim.create_user("alice@example.com")
    response = scim.at(base).get("/Users")
    assert response.status_code == 200
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    assert [r["userName"] for r in body["Resources"]] == ["alice@example.com"]
    assert not response.cookies


def test_the_scheme_name_is_case_insensitive(scim):
    response = scim.get("/Users", token=None, headers={"Authorization": f"bearer {scim.plaintext}"})
    assert response.status_code == 200


def test_a_token_of_another_tenant_is_refused_on_the_tenant_url(scim, other_scim):
    scim.create_user("alice@example.com")
    before = snapshot()
    assert_unauthorized(other_scim.at("/scim/acme/v2").get("/Users"))
    assert_unauthorized(other_scim.at("/scim/acme/v2").post("/Users", NEW_USER))
    assert snapshot() == before
    # ... while its own tenant's URL serves it.
    assert other_scim.at("/scim/globex/v2").get("/Users").status_code == 200


def test_a_tenant_url_naming_no_tenant_is_refused(scim):
    assert_unauthorized(scim.at("/scim/no-such-tenant/v2").get("/Users"))


def _refused_authorization(kind, tenant, plaintext, system_actor):
    """The Authorization header (None: none at all) for each kind of refused credential."""
    if kind == "missing":
        return None
    if kind == "basic":
        return "Basic " + base64.b64encode(f"okta:{plaintext}".encode()).decode()
    if kind == "other scheme":
        return f"Token {plaintext}"
    if kind == "no credential":
        return "Bearer "
    if kind == "bare token":
        return plaintext
    if kind == "unknown":
        return "Bearer roster_" + "x" * 43
    if kind == "truncated":
        return f"Bearer {plaintext[:-1]}"
    if kind == "expired":
        _, expired = token_create(
            tenant=tenant, name="old", actor=system_actor, expires_at=timezone.now() - timedelta(seconds=1)
        )
        return f"Bearer {expired}"
    if kind == "revoked":
        token = ScimToken.objects.get(tenant=tenant, name="okta")
        token_revoke(token=token, actor=system_actor)
        return f"Bearer {plaintext}"
    if kind == "inactive tenant":
        tenant_update(tenant=tenant, actor=Actor.system("tests"), is_active=False)
        return f"Bearer {plaintext}"
    raise AssertionError(kind)


REFUSED = [
    "missing",
    "basic",
    "other scheme",
    "no credential",
    "bare token",
    "unknown",
    "truncated",
    "expired",
    "revoked",
    "inactive tenant",
]


@pytest.mark.parametrize("base", ["/scim/v2", "/scim/acme/v2"])
@pytest.mark.parametrize("kind", REFUSED)
def test_refused_credentials_get_a_scim_401_and_change_nothing(
    scim, tenant, plaintext, system_actor, kind, base
):
    scim.create_user("alice@example.com")
    authorization = _refused_authorization(kind, tenant, plaintext, system_actor)
    headers = {} if authorization is None else {"Authorization": authorization}
    client = scim.at(base)
    before = snapshot()

    assert_unauthorized(client.get("/Users", token=None, headers=headers))
    assert_unauthorized(client.post("/Users", NEW_USER, token=None, headers=headers))
    assert_unauthorized(client.delete("/Users/" + "0" * 32, token=None, headers=headers))

    assert snapshot() == before


@pytest.mark.parametrize("kind", ["expired", "revoked", "inactive tenant", "unknown"])
def test_a_refused_token_is_not_recorded_as_used(scim, token, tenant, plaintext, system_actor, kind):
    authorization = _refused_authorization(kind, tenant, plaintext, system_actor)
    assert_unauthorized(scim.get("/Users", token=None, headers={"Authorization": authorization}))
    assert not ScimToken.objects.exclude(last_used_at=None).exists()


def test_a_token_about_to_expire_still_works(scim, tenant, system_actor):
    _, soon = token_create(
        tenant=tenant, name="soon", actor=system_actor, expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert scim.get("/Users", token=soon).status_code == 200


def test_a_session_never_authenticates_a_scim_request(anonymous, scim, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-not-used-123")
    anonymous.client.force_login(admin)
    assert_unauthorized(anonymous.get("/Users"))
    assert_unauthorized(anonymous.post("/Users", NEW_USER))


def test_success_sets_no_cookie_and_never_redirects(scim):
    for response in (
        scim.post("/Users", NEW_USER),
        scim.get("/Users"),
        scim.get("/Users/"),  # trailing slash: served, not redirected
        scim.get("/ServiceProviderConfig"),
    ):
        assert response.status_code in (200, 201), response.content
        assert not response.cookies
        assert response.status_code not in (301, 302, 307, 308)


def _stamp(token) -> object:
    return ScimToken.objects.values_list("last_used_at", flat=True).get(pk=token.pk)


def _token_updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "directory_scimtoken" in q["sql"]]


def test_last_used_at_is_stamped_on_first_use_and_not_rewritten_within_a_minute(scim, token):
    assert _stamp(token) is None

    before = timezone.now()
    assert scim.get("/Users").status_code == 200
    first = _stamp(token)
    assert first is not None and before <= first <= timezone.now()

    # 30 seconds ago: within the minute, so the next request does not write it.
    recent = timezone.now() - timedelta(seconds=30)
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    with CaptureQueriesContext(connection) as queries:
        assert scim.get("/Users").status_code == 200
    assert _token_updates(queries.captured_queries) == []
    assert _stamp(token) == recent

    # 61 seconds ago: stale, so the next request stamps it again, with one UPDATE.
    stale = timezone.now() - timedelta(seconds=61)
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert scim.get("/Users").status_code == 200
    assert len(_token_updates(queries.captured_queries)) == 1
    assert before <= _stamp(token) <= timezone.now()


def test_discovery_with_a_valid_token_also_stamps_it(scim, token):
    assert scim.get("/ServiceProviderConfig").status_code == 200
    assert _stamp(token) is not None
