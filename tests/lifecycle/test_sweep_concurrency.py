"""Sweeps run at once (two beat-less schedulers, an operator's manage.py lifecycle_sweep beside
beat) do each due case once: each locks the cases it takes and skips those another holds
(PostgreSQL; SQLite runs one writer at a time anyway)."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from directory.models import AuditEvent, DeprovisionAction
from directory.services.audit import Actor
from directory.services.tenants import tenant_update
from directory.services.users import user_create, user_update
from lifecycle.deactivations import deactivations_consume
from lifecycle.models import CaseState, OffboardingCase
from lifecycle.services import cases_sweep

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 5
CASES = 60


def test_two_sweeps_at_once_do_each_case_once(tenant):
    actor = Actor.system("tests")
    tenant = tenant_update(
        tenant=tenant,
        actor=actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        burst_count=0,  # 60 leavers at once: no burst guard here (test_burst_concurrency)
        burst_percent=0,
    )
    for round_ in range(ROUNDS):
        users = [
            user_create(tenant=tenant, actor=actor, fields={"user_name": f"r{round_}u{i}"})
            for i in range(CASES)
        ]
        for user in users:
            user_update(tenant=tenant, actor=actor, user_id=user.pk, fields={"active": False})
        assert deactivations_consume() == CASES
        later = timezone.now() + tenant.offboarding_grace_period + timedelta(days=1)
        barrier, results, errors = threading.Barrier(2), [], []

        def sweep(barrier=barrier, results=results, errors=errors, later=later):
            try:
                barrier.wait(timeout=30)
                results.append(cases_sweep(now=later, tenant=tenant))
            except Exception as error:  # reported below, on the test's thread
                errors.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors and len(results) == 2, (errors, results)
        assert sum(r["deleted"] for r in results) == CASES, results
        ids = [str(u.pk) for u in users]
        assert OffboardingCase.objects.filter(subject_id__in=ids, state=CaseState.DELETED).count() == CASES
        deleted = AuditEvent.objects.filter(action="offboarding.deleted", target_id__in=ids)
        assert deleted.count() == CASES  # one each: no case twice
