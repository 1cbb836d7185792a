"""The admin's and the HR screen's pages carry the security headers, and a SCIM bearer token opens
neither (issue 21: admin security)."""

import pytest
from django.test import Client

from directory.services.tokens import token_create

PAGES = ["/admin/login/", "/admin/", "/admin/directory/auditevent/", "/hr/login/", "/hr/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_security_headers(client, admin_client, path):
    response = (client if path.endswith("/login/") else admin_client).get(path)
    assert response.status_code == 200
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_scim_bearer_token_opens_neither_the_admin_nor_the_hr_screen(tenant, system_actor):
    _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    bearer = Client(headers={"Authorization": f"Bearer {plaintext}"})
    assert bearer.get("/scim/v2/Users").status_code == 200  # the token itself works
    assert bearer.get("/admin/")["Location"].startswith("/admin/login/")
    assert bearer.get("/admin/directory/auditevent/export/?format=csv")["Location"].startswith(
        "/admin/login/"
    )
    assert bearer.get("/hr/")["Location"].startswith("/hr/login/")
    assert bearer.get("/hr/export.csv")["Location"].startswith("/hr/login/")
