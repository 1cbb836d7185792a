"""Deactivations released together across a tenant's burst threshold (PostgreSQL, a live server
of several processes): every request is answered as usual; two workers then open their cases at
once (``deactivations_consume``): each case is opened once, one burst is opened (the partial
unique index), and once the sweep has run every case of the window is quarantined in it, none
twice."""

import pytest
from django.db import connections

from directory.models import AuditEvent
from directory.services.audit import Actor
from directory.services.tenants import tenant_update
from lifecycle.burst_decisions import burst_finish, burst_release
from lifecycle.deactivations import deactivations_consume
from lifecycle.models import Burst, CaseState, OffboardingCase
from lifecycle.sweep import lifecycle_sweep
from tests.scim_api.conftest import CORE_USER
from tests.support.parallel import at_once, patch_body

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 5
DEACTIVATE = {"op": "replace", "path": "active", "value": False}
AT_ONCE = 12
THRESHOLD = 5


def consume(i: int) -> int:
    try:
        return deactivations_consume()
    finally:
        connections.close_all()


def test_deactivations_at_once_open_one_burst_and_lose_none(api, tenant, admin_user):
    tenant_update(tenant=tenant, actor=Actor.system("tests"), burst_count=THRESHOLD, burst_percent=0)
    for round_ in range(ROUNDS):
        ids = [
            api.create("Users", {"schemas": [CORE_USER], "userName": f"r{round_}u{i}"})["id"]
            for i in range(AT_ONCE)
        ]
        answers = at_once(
            AT_ONCE, lambda i, ids=ids: api("PATCH", f"/Users/{ids[i]}", patch_body(DEACTIVATE))
        )
        assert [status for status, _ in answers] == [200] * AT_ONCE, answers
        assert all(body["active"] is False for _, body in answers)

        assert sum(at_once(2, consume)) == AT_ONCE  # two workers at once: each case opened once
        assert Burst.objects.count() == round_ + 1
        burst = Burst.objects.get(state="open")
        lifecycle_sweep()  # cases opened in the instant the burst was being opened
        cases = OffboardingCase.objects.filter(subject_id__in=ids)
        assert cases.count() == AT_ONCE
        assert set(cases.values_list("state", "burst")) == {(CaseState.QUARANTINED, burst.pk)}
        quarantined = AuditEvent.objects.filter(action="offboarding.quarantined", target_id__in=ids)
        assert quarantined.count() == AT_ONCE  # each once

        burst_release(burst_id=burst.pk, by=admin_user, reason=f"round {round_}")
        assert burst_finish(burst_id=burst.pk) == AT_ONCE
