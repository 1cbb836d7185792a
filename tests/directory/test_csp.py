"""Every page carries an enforced Content-Security-Policy that allows nothing inline and nothing
from another origin; SCIM's JSON carries none and is otherwise unchanged. That the admin works
under it is shown in a real browser (tests/browser/test_admin_csp.py)."""

import json

import pytest
from django.test import Client

from directory.services.tokens import token_create

POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}


def policy_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


def test_the_login_page_is_under_the_policy(db):
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert policy_of(response) == POLICY
    assert "Content-Security-Policy-Report-Only" not in response, "enforced, not only reported"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/directory/tenant/",
        "/admin/directory/tenant/add/",
        "/admin/directory/scimtoken/add/",
        "/admin/directory/auditevent/",
        "/admin/axes/accessattempt/",
        "/admin/password_change/",
    ],
)
def test_admin_pages_are_under_the_policy(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert policy_of(response) == POLICY


def test_scim_answers_carry_no_policy_and_still_work(tenant, system_actor):
    _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    scim = Client(headers={"Authorization": f"Bearer {plaintext}"})
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}
    created = scim.post("/scim/v2/Users", json.dumps(user), content_type="application/scim+json")
    assert created.status_code == 201
    for response in (
        created,
        scim.get("/scim/v2/Users"),
        scim.get("/scim/v2/ServiceProviderConfig"),
        scim.get("/scim/v2/Users/no-such-user"),
        Client().get("/scim/v2/Users"),
    ):
        assert "Content-Security-Policy" not in response, response.status_code
        assert response["Content-Type"] == "application/scim+json", response.status_code
