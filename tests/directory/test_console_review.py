"""What a review of the console found, each pinned: no 500 on a hostile id or filter, actions that
change or export only for those who may, a rotated token not flagged to rotate, settings that
cannot be negative."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone

from directory.models import ApiKey, AuditEvent, ScimToken, User
from directory.services.tokens import api_key_create, token_create, token_rotate
from lifecycle.dashboard import dashboard_read
from tests.scim_api.conftest import (  # noqa: F401
    other_scim,
    other_token_pair,
    plaintext,
    scim,
    token,
    token_pair,
)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/directory/scimtoken/²/change/",
        "/admin/directory/scimtoken/99999999999999999999999/change/",
        "/admin/directory/group/abc/change/",
        "/admin/directory/group/abc/change/?members=²",
        "/admin/directory/user/abc/change/",
        "/admin/directory/scimrequest/?status=²",
        "/admin/directory/scimrequest/?status=²xx",
        "/admin/directory/user/?q=%00&department=%00&group=%00",
    ],
)
def test_a_hostile_id_or_filter_is_never_a_500(admin_client, tenant, path):
    assert admin_client.get(path).status_code in (200, 302, 400, 404)


def viewer(django_user_model, *codenames):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="directory")
        )
    return user


def test_view_only_staff_cannot_revoke_tokens_or_keys_by_action(
    client, tenant, system_actor, django_user_model
):
    okta, _ = token_create(tenant=tenant, name="okta", actor=system_actor)
    key, _ = api_key_create(tenant=tenant, name="billing", actor=system_actor)
    client.force_login(viewer(django_user_model, "view_scimtoken", "view_apikey"))
    client.post("/admin/directory/scimtoken/", {"action": "revoke", "_selected_action": [okta.pk]})
    client.post("/admin/directory/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert ScimToken.objects.get(pk=okta.pk).revoked_at is None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_exporting_users_is_for_those_who_may_change_them_and_is_audited(
    admin_client,
    client,
    scim,  # noqa: F811
    tenant,
    django_user_model,
):
    uid = scim.create_user("ann@example.com")["id"]
    form = {"action": "export_csv", "_selected_action": [uid]}
    client.force_login(viewer(django_user_model, "view_user"))
    refused = client.post("/admin/directory/user/", form)
    assert not hasattr(refused, "streaming_content")
    assert not AuditEvent.objects.filter(action="users.exported").exists()

    exported = admin_client.post("/admin/directory/user/", form)
    assert b"ann@example.com" in b"".join(exported.streaming_content)
    event = AuditEvent.objects.get(action="users.exported")
    assert (event.tenant, event.changes) == (tenant, {"users": 1, "format": "csv"})


def test_a_rotated_token_is_not_flagged_to_rotate(admin_client, tenant, system_actor):
    old, _ = token_create(tenant=tenant, name="okta", actor=system_actor)
    token_rotate(token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=3))
    page = admin_client.get("/admin/directory/scimtoken/").content.decode()
    assert "rotated: works until" in page and "rotate it" not in page
    expiring = admin_client.get("/admin/directory/scimtoken/?standing=expiring").content.decode()
    assert old.prefix not in expiring
    assert dashboard_read().expiring_count == 0


@pytest.mark.parametrize("field", ["access_ended_sla", "orphan_after"])
def test_the_consoles_tenant_settings_cannot_be_zero_or_negative(tenant, field):
    setattr(tenant, field, timedelta(0))
    with pytest.raises(ValidationError) as refused:
        tenant.full_clean()
    assert field in refused.value.message_dict


def test_the_users_search_by_email_stays_within_the_list(admin_client, scim, other_scim):  # noqa: F811
    scim.create_user("ann@example.com", emails=[{"value": "shared.ann@example.com"}])
    other_scim.create_user("olga@example.com", emails=[{"value": "shared.olga@example.com"}])
    other_tenant_id = User.objects.get(user_name="olga@example.com").tenant_id
    page = admin_client.get(
        f"/admin/directory/user/?q=shared.&tenant__id__exact={other_tenant_id}"
    ).content.decode()
    assert "olga@example.com" in page and "ann@example.com" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/admin/directory/user/?state__exact=%00",
        "/admin/directory/auditevent/?action__exact=%00",
        "/admin/directory/auditevent/?q=a%00b",
        "/hr/?q=%00",
    ],
)
def test_a_nul_in_a_pages_query_is_refused_with_400(admin_client, tenant, path):
    response = admin_client.get(path)
    assert response.status_code == 400 and b"NUL character" in response.content
