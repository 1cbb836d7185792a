"""The floor views the load benchmark compares SCIM requests with: a read and a durable write of
one user row, and nothing else."""

import uuid

import pytest
from django.urls import Resolver404, resolve
from rest_framework.test import APIRequestFactory

from benchmarks.floor import FLOOR_TITLE, FloorView
from directory.models import AuditEvent, User
from tests.support.seed import seed_users

view = FloorView.as_view()
factory = APIRequestFactory()


def test_the_floor_reads_one_user_in_one_query(tenant, django_assert_num_queries):
    seed_users(tenant, 2)
    user = User.objects.get(user_name="user1@example.com")
    with django_assert_num_queries(1):
        response = view(factory.get("/"), user_id=user.pk)
    assert response.status_code == 200
    assert response.data == {"id": str(user.pk), "userName": "user1@example.com"}
    assert view(factory.get("/"), user_id=uuid.uuid4()).status_code == 404


def test_the_write_floor_updates_one_row_in_one_statement_and_nothing_else(tenant, django_assert_num_queries):
    seed_users(tenant, 2)
    user, other = User.objects.order_by("user_name")
    events = AuditEvent.objects.count()
    with django_assert_num_queries(1):
        response = view(factory.patch("/"), user_id=user.pk)
    assert response.status_code == 200
    assert response.data == {"id": str(user.pk)}
    written = User.objects.get(pk=user.pk)
    assert (written.title, written.version) == (FLOOR_TITLE, user.version + 1)
    assert User.objects.get(pk=other.pk).version == other.version  # only the one row
    assert AuditEvent.objects.count() == events
    assert view(factory.patch("/"), user_id=uuid.uuid4()).status_code == 404


def test_the_floor_like_scim_is_sent_no_content_security_policy():
    from benchmarks import settings as benchmark_settings

    assert benchmark_settings.CONTENT_SECURITY_POLICY["EXCLUDE_URL_PREFIXES"] == ["/scim/", "/bench/"]


def test_the_benchmark_settings_extend_the_products_without_changing_them():
    from benchmarks import settings as benchmark_settings
    from directory import settings as product_settings

    assert benchmark_settings.ROOT_URLCONF == "benchmarks.urls"
    assert benchmark_settings.DATABASES["default"]["CONN_MAX_AGE"] is None
    assert product_settings.DATABASES["default"]["CONN_MAX_AGE"] is not None
    assert product_settings.CONTENT_SECURITY_POLICY["EXCLUDE_URL_PREFIXES"] == ["/scim/"]


def test_only_the_benchmarks_urls_mount_the_floor_beside_the_products_own():
    from benchmarks import urls as benchmark_urls
    from directory import urls as product_urls

    floor = f"/bench/floor/{uuid.uuid4()}"
    assert resolve(floor, urlconf="benchmarks.urls").func.view_class is FloorView
    with pytest.raises(Resolver404):
        resolve(floor, urlconf="directory.urls")
    assert resolve("/scim/v2/Users", urlconf="benchmarks.urls").func == resolve("/scim/v2/Users").func
    handlers = ("handler400", "handler404", "handler500")
    assert [getattr(benchmark_urls, h) for h in handlers] == [getattr(product_urls, h) for h in handlers]
