"""Issuing a SCIM token in the admin: the plaintext is on the page that answers the POST, once,
and nowhere else: not in a cookie, the session, the cache or the logs, nor on any later page."""

import logging
import pickle
import zlib
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.db import connection
from django.utils import timezone

import directory.admin
from directory.models import AuditEvent, ScimToken
from directory.services.tokens import token_create, token_revoke

ADD = "/admin/directory/scimtoken/add/"


def cached_bytes() -> list[bytes]:
    """Every value in the cache, as the bytes it is stored as (pickles, on either backend)."""
    backend = caches["default"]
    if isinstance(backend, FileBasedCache):
        values = []
        for path in backend._list_cache_files():
            with open(path, "rb") as f:
                pickle.load(f)  # noqa: S301 (the expiry, in a file the test's own cache wrote)
                values.append(zlib.decompress(f.read()))
        return values
    client = backend._cache.get_client()
    return [client.get(key) or b"" for key in client.scan_iter()]


@pytest.fixture
def issued(admin_client, tenant, caplog, monkeypatch):
    """POST the add form (with every log record and SQL statement captured); the response and the
    plaintext issued, as the service returned it."""
    plaintexts = []

    def spy(**kwargs):
        token, plaintext = token_create(**kwargs)
        plaintexts.append(plaintext)
        return token, plaintext

    monkeypatch.setattr(directory.admin, "token_create", spy)
    cache.clear()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # SQL and its parameters are logged too
    try:
        response = admin_client.post(ADD, {"tenant": tenant.pk, "name": "okta"})
    finally:
        connection.force_debug_cursor = False
    (plaintext,) = plaintexts
    return response, plaintext


def test_the_plaintext_is_shown_on_the_page_answering_the_post(issued):
    response, plaintext = issued
    assert response.status_code == 200
    text = response.content.decode()
    assert text.count(plaintext) == 1
    assert '<textarea id="token-plaintext" readonly' in text
    assert "no-store" in response["Cache-Control"]
    assert "it is not shown again" in response.content.decode()


def test_the_plaintext_is_in_no_cookie_session_cache_or_log(issued, caplog):
    response, plaintext = issued
    secret = plaintext.removeprefix(ScimToken.objects.get().prefix)
    assert "messages" not in response.cookies, "no message, and so no messages cookie"
    for morsel in response.cookies.values():
        assert secret not in morsel.value
    for session in Session.objects.all():
        assert secret not in repr(session.get_decoded())
    assert all(secret.encode() not in value for value in cached_bytes())
    records = caplog.get_records("setup")  # the POST is made by the fixture
    assert any("INSERT INTO" in record.getMessage() for record in records), "the SQL was captured"
    assert all(secret not in record.getMessage() + repr(record.__dict__) for record in records)


def test_no_later_page_shows_it_again(issued, admin_client):
    _, plaintext = issued
    token = ScimToken.objects.get()
    for url in (
        ADD,
        "/admin/directory/scimtoken/",
        f"/admin/directory/scimtoken/{token.pk}/change/",
        "/admin/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert plaintext not in response.content.decode(), url


def test_the_page_names_the_token_and_the_urls_to_give_the_identity_provider(issued, tenant):
    response, _ = issued
    text = response.content.decode()
    assert "http://testserver/scim/v2/" in text and f"http://testserver/scim/{tenant.slug}/v2/" in text
    token = ScimToken.objects.get()
    assert f'data-token-page="/admin/directory/scimtoken/{token.pk}/change/"' in text


def test_issuing_is_audited_and_logged_in_the_admin_history_by_prefix(issued):
    _, plaintext = issued
    token = ScimToken.objects.get()
    event = AuditEvent.objects.get(action="token.created")
    assert (event.actor_type, event.actor_label) == ("admin", "admin admin")
    from django.contrib.admin.models import LogEntry

    entry = LogEntry.objects.get()
    assert entry.object_repr == str(token) and token.prefix in entry.object_repr
    assert plaintext not in entry.object_repr + entry.change_message


def test_a_refused_form_issues_nothing(admin_client, tenant):
    response = admin_client.post(ADD, {"tenant": tenant.pk, "name": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not ScimToken.objects.exists()


def test_tokens_expiring_within_14_days_are_flagged(admin_client, tenant, system_actor):
    now = timezone.now()
    token_create(tenant=tenant, name="soon", expires_at=now + timedelta(days=3, hours=1), actor=system_actor)
    token_create(tenant=tenant, name="later", expires_at=now + timedelta(days=90), actor=system_actor)
    gone, _ = token_create(tenant=tenant, name="gone", actor=system_actor)
    token_revoke(token=gone, actor=system_actor)
    page = admin_client.get("/admin/directory/scimtoken/").content.decode()
    assert "⚠ expires in 3 days: rotate it" in page and "in use" in page and "revoked" in page
    expiring = admin_client.get("/admin/directory/scimtoken/?standing=expiring")
    assert [t.name for t in expiring.context["cl"].result_list] == ["soon"]
