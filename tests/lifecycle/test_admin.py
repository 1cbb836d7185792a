"""The lifecycle in the admin: the banner an open burst puts on every admin page, the burst's page
and its decision (release or revert, with a reason; refused precisely otherwise), and the message a
change of the offboarding policy gives about the cases already open."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from directory.models import DeprovisionAction
from lifecycle.burst_decisions import burst_finish
from lifecycle.models import Burst, BurstState, CaseState
from lifecycle.step_runs import case_steps_run
from tests.lifecycle.test_bursts import users
from tests.lifecycle.test_cases import case_of, deactivate, policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def burst(scim, tenant, system_actor):
    policy(tenant, system_actor, burst_count=2, burst_percent=0)
    ids = users(scim, 3)
    for uid in ids:
        deactivate(scim, uid)
    return Burst.objects.get(), ids


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_open_burst_is_a_banner_on_every_admin_page(admin_client, burst):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Deprovisions quarantined in Acme" in page
    assert reverse("admin:lifecycle_burst_change", args=[burst[0].pk]) in page
    Burst.objects.update(state=BurstState.RELEASED)
    assert "Deprovisions quarantined" not in admin_client.get(reverse("admin:index")).content.decode()


def test_the_banner_is_for_staff_only(client, burst, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone"))
    assert "Deprovisions quarantined" not in client.get("/admin/login/").content.decode()


def test_the_burst_page_decides_with_a_reason(admin_client, burst):
    found, ids = burst
    page = admin_client.get(reverse("admin:lifecycle_burst_change", args=[found.pk]))
    assert b"Quarantined (burst): 3" in page.content
    assert b'name="outcome" value="revert"' in page.content
    decide = reverse("admin:lifecycle_burst_decide", args=[found.pk])

    refused = admin_client.post(decide, {"outcome": "revert", "reason": ""}, follow=True)
    assert messages_of(refused) == ["Say why you revert the burst: a reason is required."]
    assert Burst.objects.get().state == BurstState.OPEN
    assert admin_client.get(decide).status_code == 405

    done = admin_client.post(decide, {"outcome": "revert", "reason": "wrong Entra scope"}, follow=True)
    assert messages_of(done) == [f"Burst {found.pk} reverted: its users are being given their access back."]
    assert b'name="outcome"' not in done.content  # decided: no more buttons
    assert b"being carried out: 3 case(s) still to do" in done.content
    burst_finish(burst_id=found.pk)
    assert {case_of(uid).state for uid in ids} == {CaseState.CANCELLED}


def test_deciding_needs_the_permission(client, burst, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_burst"))
    client.force_login(viewer)
    found = burst[0]
    page = client.get(reverse("admin:lifecycle_burst_change", args=[found.pk]))
    assert page.status_code == 200 and b'name="outcome"' not in page.content
    decide = reverse("admin:lifecycle_burst_decide", args=[found.pk])
    refused = client.post(decide, {"outcome": "release", "reason": "ok"}, follow=True)
    assert messages_of(refused) == ["viewer may not release a burst (lifecycle.decide_burst)."]
    assert Burst.objects.get().state == BurstState.OPEN


def test_a_policy_change_says_what_it_does_to_open_cases(admin_client, scim, tenant):
    deactivate(scim, scim.create_user("ann@example.com")["id"])
    url = reverse("admin:directory_tenant_change", args=[tenant.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["on_deactivate"] = DeprovisionAction.DELETE_AFTER_GRACE
    response = admin_client.post(url, data, follow=True)
    assert any(
        "applies to cases opened from now on. The 1 case(s) already open keep the policy" in m
        for m in messages_of(response)
    ), messages_of(response)


@pytest.fixture
def pending(scim, tenant):
    """A leaver's case pending HR review (the default policy), and a colleague to succeed them."""
    uid = scim.create_user("ann@example.com")["id"]
    colleague = scim.create_user("bob@example.com")["id"]
    deactivate(scim, uid)
    case_steps_run(case_id=case_of(uid).pk)  # what the worker does
    return case_of(uid), colleague


def decide(client, case, **form):
    url = reverse("admin:lifecycle_offboardingcase_decide", args=[case.pk])
    return client.post(url, form, follow=True)


def offered(client, case) -> list[str]:
    page = client.get(reverse("admin:lifecycle_offboardingcase_change", args=[case.pk]))
    assert page.status_code == 200
    return list(page.context["decisions"])


def test_the_case_page_shows_steps_history_and_what_its_reader_may_decide(
    client, admin_client, pending, person
):
    case = pending[0]
    page = admin_client.get(
        reverse("admin:lifecycle_offboardingcase_change", args=[case.pk])
    ).content.decode()
    assert "revoke_sessions" in page and "notify_manager" in page  # the steps, with their status
    assert "offboarding.opened" in page and "History" in page
    assert 'name="decision"' in page
    assert offered(admin_client, case) == [
        "approve",
        "approve_early",
        "extend",
        "hold",
        "cancel",
        "successor",
        "note",
    ]

    client.force_login(person("hr", "view_offboardingcase", "review_offboarding"))
    assert offered(client, case) == ["approve", "successor", "note"]
    client.force_login(person("viewer", "view_offboardingcase"))
    assert offered(client, case) == []
    refused = decide(client, case, decision="approve", reason="left")
    assert messages_of(refused) == ["viewer may not approve the deletion (lifecycle.review_offboarding)."]
    assert case_of(case.subject_id).state == CaseState.PENDING_REVIEW


def test_decisions_on_the_case_page(client, pending, person):
    case, colleague = pending
    holder = person("legal", "view_offboardingcase", "place_legal_hold", "release_legal_hold")
    other = person("legal2", "view_offboardingcase", "release_legal_hold")
    hr = person("hr", "view_offboardingcase", "review_offboarding", "extend_grace_period")

    client.force_login(hr)
    assert messages_of(decide(client, case, decision="extend", until="next week", reason="x")) == [
        "Give the date the grace period is extended to (YYYY-MM-DD)."
    ]
    done = decide(client, case, decision="extend", until="2031-01-31", reason="notice period")
    assert messages_of(done) == ["Done: the case is now pending hr review."]
    assert f"{case_of(case.subject_id).deletion_due_at:%Y-%m-%d}" == "2031-01-31"
    assert messages_of(decide(client, case, decision="successor", successor="nobody", reason="x")) == [
        "No user named 'nobody' in this case's tenant."
    ]
    decide(client, case, decision="successor", successor="BOB@example.com", reason="same team")
    assert str(case_of(case.subject_id).data_successor_id) == colleague

    client.force_login(holder)
    decide(client, case, decision="hold", reason="litigation 2026-14")
    assert case_of(case.subject_id).state == CaseState.ON_HOLD
    assert "release" not in offered(client, case)  # four eyes: not the one who placed it
    refused = decide(client, case, decision="release", reason="settled")
    assert messages_of(refused) == ["legal placed this hold: someone else must release it (four eyes)."]
    client.force_login(other)
    assert offered(client, case) == ["release"]
    decide(client, case, decision="release", reason="settled")
    assert case_of(case.subject_id).state == CaseState.PENDING_REVIEW
    page = client.get(reverse("admin:lifecycle_offboardingcase_change", args=[case.pk])).content.decode()
    assert "litigation 2026-14" in page and "settled" in page  # the history, with the reasons
