"""Google Workspace's automatic user provisioning, replayed over HTTP as Google sends it.

Google documents no request it sends to a SCIM endpoint. The literal requests in
tests/fixtures/idp/google/ are THIRD-PARTY captures: the Snipe-IT SCIM trace (scim.log) pasted in
grokability/snipe-it#12642, with Google's autoprovisioning configured on its catalog app "Keeper"
and pointed at Snipe-IT. The headers come from pond/scimitar#142 (2024-09-18): Google sends
``Content-Type: application/json``, which it does not let the admin change, with
``User-Agent: Google-Auto-Provisioning``. Each test reads the resource back to check the state the
request left.
"""

from functools import partial
from urllib.parse import quote

import pytest

from directory.models import AuditEvent, User
from tests.scim_api import idp_replay
from tests.scim_api.conftest import CORE_USER, LIST_URN, body_of, read, version

fixture = partial(idp_replay.fixture, "google")

USER_AGENT = {"User-Agent": "Google-Auto-Provisioning"}  # pond/scimitar#142
CONTENT_TYPE = "application/json"  # pond/scimitar#142: "not configurable"
REDACTED = "CUT%domain.com"  # the reporter's redaction in get-user-by-username (see its notes)
USER_NAME = "username@domain.com"  # the reporter's placeholder in create-user


def replay(scim, name: str, ids: dict[str, str] | None = None, *, query: str | None = None):
    """The fixture as Google sends it, with Google's ``application/json`` and User-Agent."""
    return idp_replay.replay(
        scim, name, ids, vendor="google", query=query, headers=USER_AGENT, content_type=CONTENT_TYPE
    )


CREATED_USER = {
    "schemas": [CORE_USER],
    "userName": USER_NAME,
    "emails": [{"primary": True, "value": USER_NAME, "type": "work"}],
    "displayName": "User Name",
    "name": {"givenName": "User", "familyName": "Name"},
    "active": True,
}


@pytest.fixture
def google_user(scim) -> str:
    response = replay(scim, "create-user")
    assert response.status_code == 201, response.content
    return body_of(response)["id"]


def test_list_users_without_a_query_is_an_empty_list(scim):
    """The first request of the capture, before any user exists: a bare GET /Users, answered with
    an empty ListResponse (what Snipe-IT answered before Google went on to create the user)."""
    response = replay(scim, "list-users-no-query")
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert (body["schemas"], body["totalResults"], body.get("Resources", [])) == ([LIST_URN], 0, [])


def test_list_users_without_a_query_lists_the_created_user(scim, google_user):
    response = replay(scim, "list-users-no-query")
    assert response.status_code == 200
    body = body_of(response)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    (user,) = body["Resources"]
    assert {k: v for k, v in user.items() if k != "meta"} == {"id": google_user, **CREATED_USER}


def test_create_user_with_the_scim_1_core_urn_in_schemas(scim, google_user):
    """Sent as application/json, with ``urn:scim:schemas:core:1.0`` listed before the SCIM 2.0 User
    URN (the body the laravel-scim-server behind Snipe-IT refused): the 2.0 URN is there, the other
    is a schema this server does not support and is ignored; every attribute is kept."""
    assert read(scim, "Users", google_user) == {"id": google_user, **CREATED_USER}
    assert version(scim, "Users", google_user) == 1
    assert User.objects.get(pk=google_user).user_name == USER_NAME


def test_create_user_answers_the_created_resource(scim):
    """The 201 carries the created user (with ``meta.location``), as SCIM JSON whatever Google's
    Content-Type was."""
    response = replay(scim, "create-user")
    assert response.status_code == 201, response.content
    body = body_of(response)
    assert {k: v for k, v in body.items() if k != "meta"} == {"id": body["id"], **CREATED_USER}
    assert response["Location"] == body["meta"]["location"]


@pytest.mark.parametrize(
    "value",
    [quote(USER_NAME, safe=""), quote("USERNAME@DOMAIN.COM", safe="")],
    ids=["as created", "other case (userName is caseExact false)"],
)
def test_get_user_by_user_name_finds_the_user(scim, google_user, value):
    """The 2024 capture's lookup: %20/%22-encoded filter, ``startIndex=1`` and no ``count``; the
    reporter's redacted value is replaced by a real encoded userName (``@`` as ``%40``)."""
    response = replay(scim, "get-user-by-username", {REDACTED: value})
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["schemas"] == [LIST_URN]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert all(type(body[key]) is int for key in ("totalResults", "startIndex", "itemsPerPage"))
    (user,) = body["Resources"]
    assert {k: v for k, v in user.items() if k != "meta"} == {"id": google_user, **CREATED_USER}


def test_get_user_by_user_name_before_the_user_exists(scim):
    """No match: 200 with an empty ListResponse, after which a client creates the user."""
    response = replay(scim, "get-user-by-username", {REDACTED: quote(USER_NAME, safe="")})
    assert response.status_code == 200
    body = body_of(response)
    assert (body["totalResults"], body.get("Resources", [])) == (0, [])


def test_get_user_by_user_name_as_printed(scim, google_user):
    """The query exactly as logged, redaction included: ``%do`` is not a percent-escape, so the
    value is taken literally (``CUT%domain.com``); that matches no one, which is a 200 with an
    empty list, not an error."""
    response = replay(scim, "get-user-by-username")
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert (body["totalResults"], body.get("Resources", [])) == (0, [])


def test_lookup_then_create_leaves_one_user(scim):
    """The capture's order: a bare list and a userName lookup (both empty), then the create; the
    same lookup afterwards finds exactly that user, and nothing else was written."""
    events = AuditEvent.objects.count()
    assert body_of(replay(scim, "list-users-no-query"))["totalResults"] == 0
    lookup = partial(replay, scim, "get-user-by-username", {REDACTED: quote(USER_NAME, safe="")})
    assert body_of(lookup())["totalResults"] == 0
    assert AuditEvent.objects.count() == events  # reads write nothing
    created = replay(scim, "create-user")
    assert created.status_code == 201, created.content
    (user,) = body_of(lookup())["Resources"]
    assert user["id"] == body_of(created)["id"]
    assert User.objects.filter(user_name__iexact=USER_NAME).count() == 1
