"""Host applications' API keys (issue 22's feed credential): issued once by manage.py
create_api_key, of one tenant or of every tenant, hashed, audited, revoked in the admin; not SCIM
tokens."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from directory.models import ApiKey, AuditEvent, ScimToken
from directory.models.tokens import token_hash
from directory.services.tokens import api_key_create, api_key_revoke


def issued(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_a_key_of_one_tenant_is_printed_once_and_only_its_hash_kept(tenant):
    plaintext, said = issued("--tenant", tenant.slug, "--name", "billing")
    key = ApiKey.objects.get()
    assert plaintext.startswith("roster_ak_") and key.prefix == plaintext[:16]
    assert key.secret_hash == token_hash(plaintext) and plaintext not in str(ApiKey.objects.values().get())
    assert (key.tenant, key.name) == (tenant, "billing") and key.is_usable()
    assert ApiKey.objects.find(plaintext) == key and ApiKey.objects.find(plaintext + "x") is None
    assert "for tenant acme" in said and "not shown again" in said
    event = AuditEvent.objects.get(action="api_key.created")
    assert (event.tenant, event.target_id, event.actor_label) == (
        tenant,
        str(key.pk),
        "manage.py create_api_key",
    )


def test_a_key_of_every_tenant_is_an_event_of_none(db):
    plaintext, said = issued("--name", "warehouse", "--expires-in-days", "30")
    key = ApiKey.objects.find(plaintext)
    assert key.tenant is None and key.expires_at is not None and "every tenant" in said
    assert AuditEvent.objects.get(action="api_key.created").tenant is None


def test_a_key_is_not_a_scim_token_nor_the_other_way(client, tenant, system_actor):
    plaintext, _ = issued("--tenant", tenant.slug, "--name", "billing")
    assert ScimToken.objects.find(plaintext) is None
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--tenant", "nope", "--name", "x"], "No tenant 'nope'"),
        (["--name", "x", "--expires-in-days", "0"], "positive number of days"),
        (["--name", "  "], "must not be empty"),
    ],
)
def test_refused_keys_are_not_issued(db, args, refusal):
    with pytest.raises(CommandError, match=refusal):
        issued(*args)
    assert not ApiKey.objects.exists()


def test_revoking_is_audited_once_and_the_admin_revokes(admin_client, tenant, system_actor):
    key, _ = api_key_create(tenant=tenant, name="billing", actor=system_actor)
    api_key_revoke(key=key, actor=system_actor)
    api_key_revoke(key=key, actor=system_actor)
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1
    assert not ApiKey.objects.get(pk=key.pk).is_usable()

    other, _ = api_key_create(tenant=None, name="warehouse", actor=system_actor)
    page = admin_client.get("/admin/directory/apikey/").content.decode()
    assert "every tenant" in page and "billing" in page
    admin_client.post("/admin/directory/apikey/", {"action": "revoke", "_selected_action": [other.pk]})
    assert ApiKey.objects.get(pk=other.pk).revoked_at is not None
    assert admin_client.get("/admin/directory/apikey/add/").status_code == 403  # the command issues them
