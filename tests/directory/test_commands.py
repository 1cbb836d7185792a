"""manage.py create_tenant and create_token."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from directory.models import ScimToken, Tenant


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_create_tenant_then_token_prints_a_working_token_once():
    run("create_tenant", "acme", "--name", "Acme Inc")
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Inc"

    out, err = run("create_token", "acme", "--name", "okta")
    plaintext = out.strip()
    token = ScimToken.objects.find(plaintext)
    assert token is not None and token.tenant == tenant and token.name == "okta" and token.is_usable()
    assert "not shown again" in err
    assert token.expires_at is None


@pytest.mark.django_db
def test_create_token_with_expiry():
    run("create_tenant", "acme")
    out, _ = run("create_token", "acme", "--name", "entra", "--expires-in-days", "30")
    token = ScimToken.objects.find(out.strip())
    assert abs(token.expires_at - token.created_at - timedelta(days=30)) < timedelta(seconds=5)


@pytest.mark.django_db
def test_create_token_for_an_unknown_tenant_fails_clearly():
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        run("create_token", "nope", "--name", "okta")
    assert not ScimToken.objects.exists()


@pytest.mark.django_db
def test_create_tenant_refuses_a_duplicate_or_invalid_slug():
    run("create_tenant", "acme")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "acme")
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", "not a slug!")
    assert Tenant.objects.count() == 1


@pytest.mark.django_db
def test_slugs_that_would_make_scim_urls_ambiguous_are_refused():
    with pytest.raises(CommandError, match="reserved"):
        run("create_tenant", "v2")
    assert not Tenant.objects.exists()
