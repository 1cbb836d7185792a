"""Rotating a SCIM token: a new token, and the old one working until the end the administrator
chose, then refused; refusals change nothing; two rotations at once make one new token."""

import re
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from directory.errors import NotAllowedNow
from directory.models import AuditEvent, ScimToken
from directory.services.tokens import token_create, token_revoke, token_rotate
from tests.support.parallel import at_once

USERS = "/scim/v2/Users"


@pytest.fixture
def okta(tenant, system_actor):
    return token_create(
        tenant=tenant, name="okta", actor=system_actor, expires_at=timezone.now() + timedelta(days=90)
    )


def scim_status(client, plaintext: str) -> int:
    return client.get(USERS, HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code


def test_both_tokens_work_until_the_old_ones_end_then_only_the_new(client, okta, system_actor):
    old, old_plaintext = okta
    new, new_plaintext = token_rotate(
        token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=7)
    )
    old.refresh_from_db()
    assert (old.rotated_to, new.name, new.tenant) == (new, "okta", old.tenant)
    assert timedelta(days=6) < old.expires_at - timezone.now() <= timedelta(days=7)
    assert scim_status(client, old_plaintext) == scim_status(client, new_plaintext) == 200

    ScimToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # a week on
    assert scim_status(client, old_plaintext) == 401
    assert scim_status(client, new_plaintext) == 200
    event = AuditEvent.objects.get(action="token.rotated", target_id=str(old.pk))
    assert event.changes["rotated_to"]["after"].startswith("okta (roster_")


def test_a_rotation_that_stops_at_once_refuses_the_old_token_at_once(client, okta, system_actor):
    old, old_plaintext = okta
    _, new_plaintext = token_rotate(token=old, actor=system_actor, overlap_until=timezone.now())
    assert scim_status(client, old_plaintext) == 401
    assert scim_status(client, new_plaintext) == 200


def test_the_overlap_never_lengthens_the_old_tokens_life(okta, system_actor):
    old, _ = okta
    ScimToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() + timedelta(days=2))
    old.refresh_from_db()
    token_rotate(token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=7))
    assert ScimToken.objects.get(pk=old.pk).expires_at == old.expires_at


@pytest.mark.parametrize(
    ("prepare", "overlap", "expires", "refusal"),
    [
        ("revoked", timedelta(days=1), None, "revoked"),
        ("rotated", timedelta(days=1), None, "already rotated"),
        ("expired", timedelta(days=1), None, "expired"),
        (None, timedelta(days=31), None, "between now and 30 days"),
        (None, -timedelta(hours=1), None, "between now and 30 days"),
        (None, timedelta(days=7), timedelta(days=1), "expire after the old one stops"),
    ],
)
def test_refused_rotations_change_nothing(okta, system_actor, prepare, overlap, expires, refusal):
    old, _ = okta
    if prepare == "revoked":
        token_revoke(token=old, actor=system_actor)
    elif prepare == "rotated":
        token_rotate(token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=1))
    elif prepare == "expired":
        ScimToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    before = (list(ScimToken.objects.order_by("pk").values()), AuditEvent.objects.count())
    now = timezone.now()
    with pytest.raises(NotAllowedNow, match=refusal):
        token_rotate(
            token=old,
            actor=system_actor,
            overlap_until=now + overlap,
            expires_at=now + expires if expires else None,
        )
    assert (list(ScimToken.objects.order_by("pk").values()), AuditEvent.objects.count()) == before


def test_the_admin_rotates_a_token_and_shows_the_new_one_once(admin_client, okta):
    old, old_plaintext = okta
    page = admin_client.get(f"/admin/directory/scimtoken/{old.pk}/change/").content.decode()
    assert f"/admin/directory/scimtoken/{old.pk}/rotate/" in page
    form = admin_client.get(f"/admin/directory/scimtoken/{old.pk}/rotate/").content.decode()
    assert "The old token keeps working for" in form

    response = admin_client.post(
        f"/admin/directory/scimtoken/{old.pk}/rotate/", {"overlap": "24", "expires_at": "2099-01-01T00:00"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    (plaintext,) = re.findall(r"roster_[\w-]{40,}", page)
    assert plaintext != old_plaintext
    assert f"It replaces {old.prefix}…" in page
    new = ScimToken.objects.get(rotated_from=old)
    assert new.expires_at.year == 2099
    # the old token's page now offers no second rotation
    page = admin_client.get(f"/admin/directory/scimtoken/{old.pk}/change/").content.decode()
    assert f"/admin/directory/scimtoken/{old.pk}/rotate/" not in page and str(new) in page


def test_the_admin_says_why_a_rotation_is_refused(admin_client, okta, system_actor):
    old, _ = okta
    token_revoke(token=old, actor=system_actor)
    response = admin_client.post(f"/admin/directory/scimtoken/{old.pk}/rotate/", {"overlap": "24"})
    assert response.status_code == 200
    assert "This token is revoked" in response.content.decode()
    response = admin_client.post(f"/admin/directory/scimtoken/{old.pk}/rotate/", {"overlap": "5"})
    assert "Select a valid choice" in response.content.decode()
    assert ScimToken.objects.count() == 1
    assert admin_client.get("/admin/directory/scimtoken/999999/rotate/").status_code == 404


def test_the_admin_revokes_one_token_after_confirming(admin_client, client, okta):
    old, plaintext = okta
    confirm = admin_client.get(f"/admin/directory/scimtoken/{old.pk}/revoke/")
    assert "Yes, revoke it" in confirm.content.decode()
    assert ScimToken.objects.get(pk=old.pk).revoked_at is None  # a GET changes nothing
    response = admin_client.post(f"/admin/directory/scimtoken/{old.pk}/revoke/")
    assert response.status_code == 302
    assert ScimToken.objects.get(pk=old.pk).revoked_at is not None
    assert scim_status(client, plaintext) == 401


def test_a_view_only_administrator_can_neither_rotate_nor_revoke(client, okta, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_scimtoken"))
    client.force_login(viewer)
    old, _ = okta
    assert client.post(f"/admin/directory/scimtoken/{old.pk}/rotate/", {"overlap": "24"}).status_code == 403
    assert client.post(f"/admin/directory/scimtoken/{old.pk}/revoke/").status_code == 403
    assert ScimToken.objects.count() == 1 and ScimToken.objects.get().revoked_at is None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_rotations_at_once_make_one_new_token(okta, system_actor):
    old, _ = okta

    def rotate(_):
        try:
            return token_rotate(
                token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=1)
            )[0]
        except NotAllowedNow as refused:
            return refused
        finally:
            connections.close_all()

    results = at_once(2, rotate)
    assert sorted(type(r).__name__ for r in results) == ["NotAllowedNow", "ScimToken"]
    assert ScimToken.objects.filter(tenant=old.tenant).count() == 2
    assert AuditEvent.objects.filter(action="token.rotated").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_rotation_and_a_revocation_at_once_never_leave_a_replacement_of_a_revoked_token(okta, system_actor):
    old, _ = okta

    def act(i):
        try:
            if i:
                return token_revoke(token=old, actor=system_actor)
            return token_rotate(
                token=old, actor=system_actor, overlap_until=timezone.now() + timedelta(days=1)
            )
        except NotAllowedNow as refused:
            return refused
        finally:
            connections.close_all()

    at_once(2, act)
    old.refresh_from_db()
    assert old.revoked_at is not None
    # Either the rotation went first (a replacement exists, and works), or it was refused.
    assert ScimToken.objects.filter(tenant=old.tenant).count() == (2 if old.rotated_to_id else 1)


def test_a_tokens_page_shows_its_requests_and_errors_per_day(admin_client, okta):
    from directory.models import ScimRequestDay

    token, _ = okta
    today = timezone.now().date()
    ScimRequestDay.objects.create(tenant=token.tenant, token=token, day=today, reads=7, writes=2, errors=1)
    ScimRequestDay.objects.create(
        tenant=token.tenant, token=token, day=today - timedelta(days=3), reads=4, writes=0, errors=2
    )
    ScimRequestDay.objects.create(tenant=token.tenant, token=token, day=today - timedelta(days=40), reads=99)
    page = admin_client.get(f"/admin/directory/scimtoken/{token.pk}/change/").content.decode()
    assert "Requests, last 30 days: 16, of which 3 refused or failed" in page
    assert re.search(rf"<td>{today:%Y-%m-%d}</td><td>7</td><td>2</td><td>1</td>", page)
    assert f"<td>{today - timedelta(days=3):%Y-%m-%d}</td><td>4</td>" in page
