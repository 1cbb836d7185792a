"""SCIM tokens: stored as hashes, usable only while neither expired, revoked nor orphaned."""

import hashlib
from datetime import timedelta

from django.utils import timezone

from directory.models import ScimToken
from directory.services.audit import Actor
from directory.services.tenants import tenant_update
from directory.services.tokens import token_create, token_revoke


def test_only_a_hash_of_the_token_is_stored(tenant, system_actor):
    token, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    stored = ScimToken.objects.values().get(pk=token.pk)
    assert plaintext not in {str(v) for v in stored.values()}
    assert stored["secret_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(stored["prefix"])
    assert len(plaintext) >= 40


def test_tokens_are_distinct(tenant, system_actor):
    plaintexts = {token_create(tenant=tenant, name="x", actor=system_actor)[1] for _ in range(5)}
    assert len(plaintexts) == 5


def test_find_returns_the_token_only_for_its_exact_plaintext(tenant, system_actor):
    token, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    assert ScimToken.objects.find(plaintext) == token
    assert ScimToken.objects.find(plaintext[:-1]) is None
    assert ScimToken.objects.find(plaintext + "x") is None
    assert ScimToken.objects.find("") is None


def test_token_expires(tenant, system_actor):
    now = timezone.now()
    token, _ = token_create(tenant=tenant, name="t", actor=system_actor, expires_at=now + timedelta(hours=1))
    assert token.is_usable(now)
    assert not token.is_usable(now + timedelta(hours=1))


def test_revoked_token_is_refused_and_revoking_twice_records_once(tenant, system_actor):
    token, _ = token_create(tenant=tenant, name="t", actor=system_actor)
    token_revoke(token=token, actor=system_actor)
    token = token_revoke(token=token, actor=system_actor)
    assert not token.is_usable()
    assert tenant.audit_events.filter(action="token.revoked").count() == 1


def test_tokens_of_an_inactive_tenant_are_refused(tenant, system_actor):
    _, plaintext = token_create(tenant=tenant, name="t", actor=system_actor)
    tenant_update(tenant=tenant, actor=Actor.system("t"), is_active=False)
    assert not ScimToken.objects.find(plaintext).is_usable()


def test_issuing_a_token_is_audited_without_its_secret(tenant, system_actor):
    token, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    event = tenant.audit_events.get(action="token.created")
    assert event.target_id == str(token.pk)
    assert plaintext not in str(event.__dict__)
