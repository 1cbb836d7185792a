"""The offboarding's and the burst guard's events (issue 22), each drawn from real SCIM requests
and decisions: opened, approved, held, released, completed, the purge's user.purged, a rehire's
reactivation and cancellation; a burst quarantined and released."""

import pytest
from django.utils import timezone

from directory.models import DeprovisionAction, Event
from directory.services.events import events_sequence
from lifecycle.burst_decisions import burst_release
from lifecycle.models import Burst
from lifecycle.services import case_approve, case_hold, case_release, cases_sweep
from tests.lifecycle.test_bursts import decider, users  # noqa: F401
from tests.lifecycle.test_cases import DAY, case_of, deactivate, policy
from tests.lifecycle.test_decisions import LEGAL_PERMISSIONS

pytestmark = pytest.mark.django_db


def events_of(uid) -> list[dict]:
    events_sequence()
    return [e.payload for e in Event.objects.filter(resource_id=uid).order_by("pk")]


def test_a_leaver_s_case_from_opened_to_purged(scim, tenant, system_actor, admin_user, person):
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW)
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    case = case_of(uid)
    first, second = person("counsel", *LEGAL_PERMISSIONS), person("auditor", *LEGAL_PERMISSIONS)
    case_hold(case_id=case.pk, by=first, reason="litigation")
    case_release(case_id=case.pk, by=second, reason="matter closed")
    case_approve(case_id=case.pk, by=admin_user, reason="left the company", early=True)
    assert events_of(uid)[0]["data"]["resource"]["userName"] == "ann@example.com"  # published
    cases_sweep(now=timezone.now() + tenant.purge_after + DAY)

    events = events_of(uid)
    assert [e["type"] for e in events] == [
        "user.created",
        "user.suspended",
        "offboarding.opened",
        "offboarding.held",
        "offboarding.released",
        "offboarding.approved",
        "user.deleted",  # the staged deletion, approved early
        "offboarding.completed",
        "user.purged",
    ]
    held = next(e for e in events if e["type"] == "offboarding.held")["data"]
    assert held["case"]["id"] == case.pk and held["user"] == {"id": uid}
    assert (held["case"]["previous_state"], held["case"]["state"]) == ("pending_review", "on_hold")
    purged = events[-1]["data"]
    assert purged["id"] == uid and purged["case"]["state"] == "purged"
    # The purge stripped the person from their earlier events, which keep what happened and when.
    created = events[0]["data"]
    assert created == {"resource_type": "User", "id": uid, "version": 'W/"1"', "redacted": True}


def test_a_rehire_is_a_reactivation_and_a_restore_a_creation(scim, tenant, system_actor):
    uid = scim.create_user("ann@example.com")["id"]
    deactivate(scim, uid)
    scim.patch_ops(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True})
    assert [e["type"] for e in events_of(uid)][-2:] == ["user.reactivated", "offboarding.cancelled"]

    other = scim.create_user("ben@example.com")["id"]
    assert scim.delete(f"/Users/{other}").status_code == 204
    again = scim.post("/Users", {"userName": "ben@example.com"}).json()
    assert again["id"] == other
    events = events_of(other)
    restored = [e for e in events if e["type"] == "user.created"][-1]["data"]
    assert restored["restored"] is True and restored["resource"]["userName"] == "ben@example.com"
    assert "offboarding.cancelled" in [e["type"] for e in events]


def test_a_burst_is_quarantined_then_released(scim, tenant, system_actor, decider):  # noqa: F811
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_NOW, burst_count=2, burst_percent=0)
    ids = users(scim, 3)
    for uid in ids:
        deactivate(scim, uid)
    burst = Burst.objects.get()
    burst_release(burst_id=burst.pk, by=decider, reason="reorganisation, confirmed with HR")
    events_sequence()
    kinds = list(
        Event.objects.filter(type__startswith="burst.").order_by("pk").values_list("type", flat=True)
    )
    assert kinds == ["burst.quarantined", "burst.released"]
    quarantined = Event.objects.get(type="burst.quarantined").payload["data"]["burst"]
    assert quarantined["id"] == burst.pk and "users" not in quarantined
