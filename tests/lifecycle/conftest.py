"""The lifecycle is driven through SCIM requests: the SCIM tests' client and tokens; and the staff
who decide (``person``)."""

import pytest
from django.contrib.auth.models import Permission

from tests.scim_api.conftest import (  # noqa: F401
    api,
    other_scim,
    other_token_pair,
    plaintext,
    scim,
    server,
    token,
    token_pair,
)


@pytest.fixture
def person(django_user_model):
    """A staff member with the lifecycle permissions named."""

    def make(username: str, *codenames: str):
        user = django_user_model.objects.create_user(username, password="x", is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="lifecycle", codename__in=codenames)
        )
        return django_user_model.objects.get(pk=user.pk)  # permissions are cached on the instance

    return make
