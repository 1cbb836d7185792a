"""The administrators' dashboard (lifecycle/dashboard.py): each figure against data the test made,
who may see it, and the same statements whatever the directory's size."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.models import DeprovisionAction, ScimRequestDay, ScimToken, Tenant, User
from directory.services.tokens import token_create
from lifecycle.dashboard import dashboard_read
from lifecycle.models import Burst, OffboardingCase
from tests.lifecycle.test_cases import deactivate, policy

DASHBOARD = "/admin/dashboard/"


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">(?:<a [^>]*>)?([^<]*)<', page)
    assert found, name
    return found.group(1).strip()


def test_the_figures_match_what_happened(admin_client, scim, tenant, other_tenant, system_actor):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    ids = [scim.create_user(f"u{i}@example.com")["id"] for i in range(4)]
    deactivate(scim, ids[0])
    case = OffboardingCase.objects.get(subject_id=ids[0])
    OffboardingCase.objects.filter(pk=case.pk).update(deletion_due_at=timezone.now() + timedelta(days=3))
    # An orphan candidate: active, not changed for longer than the tenant's 90 days.
    User.objects.filter(pk=ids[1]).update(updated_at=timezone.now() - timedelta(days=120))
    token_create(
        tenant=tenant, name="soon", actor=system_actor, expires_at=timezone.now() + timedelta(days=5)
    )
    ScimToken.objects.filter(tenant=other_tenant).update(last_used_at=timezone.now() - timedelta(days=30))
    today = timezone.now().date()
    token = ScimToken.objects.filter(tenant=tenant).first()
    ScimRequestDay.objects.create(
        tenant=tenant, token=token, day=today - timedelta(days=1), reads=40, writes=10, errors=3
    )
    Burst.objects.create(
        tenant=other_tenant, window_start=timezone.now(), deprovisions=60, users=100, rule="50 in 15 min"
    )

    page = admin_client.get(DASHBOARD).content.decode()
    row = re.search(rf'<tr data-tenant="{tenant.slug}">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-state="active">3<', row) and re.search(r'data-state="suspended">1<', row)
    assert figure(row, "orphans") == "1"
    assert int(figure(page, "requests-total")) >= 50 and int(figure(page, "errors-total")) >= 3
    assert figure(page, "due") == "1" and figure(page, "bursts") == "1" and figure(page, "expiring") == "1"
    assert other_tenant.slug in page.split('id="stale"')[1].split("</section>")[0]
    assert figure(page, "access-median") == "0 s"  # the deactivation's case: access ended with the request
    assert 'id="requests-data"' in page and "uPlot.iife.min.js" in page


def test_the_admin_index_links_the_dashboard(admin_client):
    assert 'href="/admin/dashboard/"' in admin_client.get("/admin/").content.decode()


def test_only_staff_who_may_view_users_see_it(client, db, django_user_model):
    assert client.get(DASHBOARD).status_code == 302  # to the login
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403
    staff.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="directory")
    )
    assert client.get(DASHBOARD).status_code == 200


def test_the_same_statements_at_two_sizes(admin_client, scim, system_actor):
    def statements():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(DASHBOARD).status_code == 200
        return len(ctx.captured_queries)

    scim.create_user("one@example.com")
    small = statements()
    for n in range(3):
        Tenant.objects.create(slug=f"t{n}", name=f"T{n}")
    for i in range(10):
        scim.create_user(f"more{i}@example.com")
    assert statements() == small


def test_dashboard_read_counts_tenants_without_tokens_as_never_called(db, system_actor):
    quiet = Tenant.objects.create(slug="quiet", name="Quiet")
    figures = dashboard_read()
    assert [t.tenant for t in figures.stale] == [quiet]
    assert figures.stale[0].last_called is None


@pytest.mark.parametrize("days", [80, 100])
def test_an_orphan_is_counted_after_the_tenants_own_threshold(scim, tenant, days):
    uid = scim.create_user("old@example.com")["id"]
    User.objects.filter(pk=uid).update(updated_at=timezone.now() - timedelta(days=days))
    (mine,) = [t for t in dashboard_read().tenants if t.tenant == tenant]
    assert mine.orphans == (1 if days > 90 else 0)
