"""The admin login locks out after repeated failures (django-axes), says so on its own page, is
unlocked by the documented command or in the admin, and records all of it in the audit trail, in
events of no tenant. SCIM's bearer tokens never meet it."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from directory.models import AuditEvent

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def log_in(username="root", password=PASSWORD, address="192.0.2.10", client=None):
    client = client or Client()
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def fail(times, **kwargs):
    return [log_in(password="wrong", **kwargs) for _ in range(times)]


def security_events(action=None):
    events = AuditEvent.objects.filter(tenant=None).order_by("id")
    return list(events.filter(action=action) if action else events)


def assert_locked_page(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    text = response.content.decode()
    assert "Too many failed log-ins for this username or from this address" in text
    assert 'id="login-form"' in text, "the login form is still there, to try again later"


def test_repeated_failures_lock_the_login_even_for_the_right_password(root):
    answers = fail(LIMIT - 1)
    assert [r.status_code for r in answers] == [200] * (LIMIT - 1)
    assert "Please enter the correct username and password" in answers[-1].content.decode()

    assert_locked_page(fail(1)[0])  # the failure that reaches the limit already says so
    for response in fail(30 - LIMIT):
        assert_locked_page(response)
    refused = log_in()
    assert_locked_page(refused)
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_the_lockout_page_says_until_when(root):
    fail(LIMIT)
    response = log_in()
    until = AccessAttempt.objects.get().attempt_time + settings.AXES_COOLOFF_TIME
    assert f'datetime="{until.isoformat()}"' in response.content.decode()
    assert abs(int(response["Retry-After"]) - (until - timezone.now()).total_seconds()) <= 2


def test_a_lockout_spread_over_addresses_ends_when_enough_of_them_grow_old(root):
    now = timezone.now()
    fail(3, address="198.51.100.1")
    fail(LIMIT - 3, address="198.51.100.2")
    AccessAttempt.objects.filter(ip_address="198.51.100.1").update(attempt_time=now - timedelta(minutes=10))
    AccessAttempt.objects.filter(ip_address="198.51.100.2").update(attempt_time=now - timedelta(minutes=5))
    response = log_in(address="203.0.113.9")
    assert_locked_page(response)
    # Once the older record is past the cool-off, the newer one's failures alone are too few.
    until = now - timedelta(minutes=10) + settings.AXES_COOLOFF_TIME
    assert f'datetime="{until.isoformat()}"' in response.content.decode()


def test_the_documented_command_unlocks(root):
    fail(LIMIT)
    assert_locked_page(log_in())
    call_command("axes_reset_username", "root")
    assert logged_in(log_in())


def test_the_lockout_ends_after_the_cool_off(root):
    fail(LIMIT)
    assert_locked_page(log_in())
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert logged_in(log_in())


def test_attempts_while_locked_do_not_prolong_the_lockout(root):
    fail(LIMIT)
    locked_at = AccessAttempt.objects.get().attempt_time
    fail(3)
    log_in()
    assert AccessAttempt.objects.get().attempt_time == locked_at
    assert AccessAttempt.objects.get().failures_since_start == LIMIT


def test_one_username_is_locked_whichever_address_guesses(root):
    for i in range(LIMIT):
        log_in(password="wrong", address=f"198.51.100.{i}")
    assert_locked_page(log_in(address="203.0.113.1"))


def test_one_address_is_locked_whichever_usernames_it_tries(root):
    for i in range(LIMIT):
        log_in(username=f"guess{i}", password="wrong", address="198.51.100.7")
    assert_locked_page(log_in(address="198.51.100.7"))
    assert logged_in(log_in(address="198.51.100.8")), "root itself was not guessed at"


def test_failures_below_the_limit_lock_nothing(root):
    fail(LIMIT - 1)
    assert logged_in(log_in())


def test_failures_and_the_lockout_are_audited_without_a_tenant(root, tenant):
    fail(LIMIT + 3, address="192.0.2.99")
    log_in(address="192.0.2.99")

    failed = security_events("admin.login_failed")
    assert len(failed) == LIMIT, "failures refused while locked are not recorded"
    assert {(e.actor_type, e.actor_label, e.target_type, e.target_id) for e in failed} == {
        ("client", "client 192.0.2.99", "admin", "root")
    }
    (locked,) = security_events("admin.locked_out")
    until = AccessAttempt.objects.get().attempt_time + settings.AXES_COOLOFF_TIME
    assert locked.changes == {"locked_until": {"before": None, "after": until.isoformat()}}
    assert (locked.actor_label, locked.target_label) == ("client 192.0.2.99", "root")
    assert not tenant.audit_events.filter(action__startswith="admin."), "no tenant's trail shows them"
    assert all(PASSWORD not in str(e.__dict__) and "wrong" not in str(e.__dict__) for e in security_events())


def test_an_unlock_by_command_is_audited(root):
    fail(LIMIT, address="192.0.2.5")
    call_command("axes_reset_username", "root")
    (unlocked,) = security_events("admin.unlocked")
    assert (unlocked.actor_type, unlocked.actor_label) == ("system", "axes reset command")
    assert (unlocked.target_id, unlocked.target_label) == ("root", "root from 192.0.2.5")
    assert unlocked.changes == {"failed_attempts": {"before": LIMIT, "after": 0}}


def test_an_unlock_in_the_admin_is_audited_as_that_administrator(root):
    other = get_user_model().objects.create_superuser("other", "other@example.com", PASSWORD)
    fail(LIMIT)
    admin = Client()
    admin.force_login(other)
    attempt = AccessAttempt.objects.get()
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    (unlocked,) = security_events("admin.unlocked")
    assert (unlocked.actor_type, unlocked.actor_label, unlocked.actor_admin) == (
        "admin",
        "admin other",
        other,
    )
    assert logged_in(log_in())


def test_an_unlock_by_the_admins_bulk_action_is_audited(root):
    other = get_user_model().objects.create_superuser("other", "other@example.com", PASSWORD)
    fail(LIMIT, address="192.0.2.1")
    fail(2, username="nobody", address="192.0.2.2")
    admin = Client()
    admin.force_login(other)
    selected = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )
    assert response.status_code == 302
    unlocked = security_events("admin.unlocked")
    assert {(e.target_label, e.actor_label) for e in unlocked} == {
        ("root from 192.0.2.1", "admin other"),
        ("nobody from 192.0.2.2", "admin other"),
    }


def test_records_whose_cool_off_ran_out_are_cleaned_up_without_an_unlock_event(root):
    fail(LIMIT)
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    fail(1)  # axes deletes the expired record first
    assert not security_events("admin.unlocked")
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_bearer_tokens_never_meet_the_lockout(root, tenant, system_actor):
    from directory.services.tokens import token_create

    _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    for i in range(LIMIT):
        log_in(username=f"guess{i}", password="wrong", address="127.0.0.1")
    assert_locked_page(log_in(address="127.0.0.1"))
    scim = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(LIMIT + 1):
        wrong = scim.get("/scim/v2/Users", headers={"Authorization": "Bearer roster_wrong"})
        assert wrong.status_code == 401
    assert scim.get("/scim/v2/Users", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200
    assert AccessAttempt.objects.count() == LIMIT, "a wrong bearer token is no failed login"
    assert len(security_events("admin.login_failed")) == LIMIT
