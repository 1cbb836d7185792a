"""The HR reviewers' emails (``lifecycle.notifications``): a case pending review tells its tenant's
reachable reviewers once (one email each, naming its leavers, linking to the HR screen); a tenant
in an open burst is told once it is released; a refused send is tried again by the next run. The
daily digest names the deletions due within a week of the reviewer's tenants, in its time zone,
once a day; beat's "hr-review-digest" runs it."""

import importlib
import logging
import smtplib
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from directory.models import DeprovisionAction
from directory.services.users import user_create, user_update
from lifecycle.burst_decisions import burst_finish, burst_release
from lifecycle.deactivations import deactivations_consume
from lifecycle.models import Burst, BurstState, CaseState, OffboardingCase, Reviewer
from lifecycle.notifications import reviews_digest, reviews_notify, reviews_nudge
from lifecycle.reviewers import reviewer_add
from lifecycle.sweep import lifecycle_sweep
from lifecycle.tasks import review_digest
from tests.lifecycle.test_cases import case_of, deactivate, policy
from tests.support.parallel import at_once

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Passphrase-42"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BASE = "http://127.0.0.1:8000"
schedule_migration = importlib.import_module("lifecycle.migrations.0005_review_digest_schedule")


class RefusingBackend(locmem.EmailBackend):
    """The test outbox behind a mail server that refuses every batch naming an address of
    ``refused`` (counting its refusals); one that ``recovers`` accepts all after its first."""

    refused: set[str] = set()
    refusals = 0
    recovers = False

    def send_messages(self, messages):
        if any(set(message.recipients()) & RefusingBackend.refused for message in messages):
            RefusingBackend.refusals += 1
            refused, RefusingBackend.refused = (
                RefusingBackend.refused,
                set() if self.recovers else RefusingBackend.refused,
            )
            raise smtplib.SMTPRecipientsRefused({address: (550, b"no") for address in refused})
        return super().send_messages(messages)


class SlowBackend(locmem.EmailBackend):
    """The test outbox behind a slow mail server: a worker holds its rows while the other runs."""

    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)


@pytest.fixture
def refusing(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    RefusingBackend.refused, RefusingBackend.refusals, RefusingBackend.recovers = set(), 0, False
    yield RefusingBackend
    RefusingBackend.refused, RefusingBackend.recovers = set(), False


@pytest.fixture
def reviewer(system_actor):
    """An HR reviewer of the tenants named (by slug), with an address unless told otherwise."""

    def make(username: str, *tenants, email: str | None = None, zone: str = "") -> Reviewer:
        address = f"{username}@example.com" if email is None else email
        user, _ = reviewer_add(
            username=username,
            tenant_slugs=[t.slug for t in tenants],
            actor=system_actor,
            password=PASSWORD,
            email=address,
        )
        Reviewer.objects.filter(user=user).update(timezone=zone)
        return Reviewer.objects.select_related("user").get(user=user)

    return make


def leaver(tenant, actor, user_name: str, **fields) -> OffboardingCase:
    """A user of ``tenant`` its identity provider deactivates: its case opened, as the worker does."""
    user = user_create(tenant=tenant, actor=actor, fields={"user_name": user_name, **fields})
    user_update(tenant=tenant, actor=actor, user_id=user.pk, fields={"active": False})
    deactivations_consume(tenant=tenant)
    return OffboardingCase.objects.get(subject_id=user.pk)


def in_review(*tenants, actor):
    for tenant in tenants:
        policy(tenant, actor, on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW)


def sent_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


# --- "a case needs review" -------------------------------------------------------------------------


def test_a_case_in_review_tells_each_reviewer_of_its_tenant_once(
    scim, tenant, other_tenant, system_actor, reviewer, django_capture_on_commit_callbacks
):
    in_review(tenant, actor=system_actor)
    reviewer("hr-ann", tenant)
    reviewer("hr-bob", tenant, other_tenant, zone="Europe/Berlin")
    reviewer("hr-gus", other_tenant)
    ann = scim.create_user(
        "ann@example.com", displayName="Ann Example", **{ENTERPRISE: {"department": "Sales"}}
    )
    cy = scim.create_user("cy@example.com")
    with django_capture_on_commit_callbacks() as callbacks:
        deactivate(scim, ann["id"])
    assert reviews_nudge._send in callbacks  # a worker is woken once the case commits
    deactivate(scim, cy["id"])
    cases = [case_of(ann["id"]), case_of(cy["id"])]
    assert {case.state for case in cases} == {CaseState.PENDING_REVIEW}

    assert reviews_notify() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["hr-ann@example.com", "hr-bob@example.com"]
    (message,) = sent_to("hr-ann@example.com")
    assert message.subject == "2 leavers of Acme need your review"
    assert "Ann Example (ann@example.com), Sales: grace period ends " in message.body
    assert "\n- cy@example.com: grace period ends " in message.body
    for case in cases:
        assert f"{BASE}/hr/cases/{case.pk}/\n" in message.body
    assert f"Every case you review: {BASE}/hr/\n" in message.body
    due = cases[0].deletion_due_at
    assert f"{due:%Y-%m-%d %H:%M} UTC" in message.body
    (berlin,) = sent_to("hr-bob@example.com")
    assert f"{due.astimezone(ZoneInfo('Europe/Berlin')):%Y-%m-%d %H:%M} Europe/Berlin" in berlin.body
    assert all(case.review_notified_at is not None for case in OffboardingCase.objects.all())

    assert reviews_notify() == 0  # told once
    assert lifecycle_sweep()["reviews_notified"] == 0
    assert len(mail.outbox) == 2


def test_only_reachable_reviewers_are_told(tenant, other_tenant, system_actor, reviewer, person, caplog):
    """Reviewers of another tenant, inactive ones, users no longer in the group, reviewers without
    an address, and staff are not told; a tenant with nobody to tell is logged, and marked (else
    every sweep would take its cases up again)."""
    in_review(tenant, actor=system_actor)
    reviewer("hr-gus", other_tenant)
    reviewer("hr-quiet", tenant, email="")
    inactive = reviewer("hr-gone", tenant).user
    inactive.is_active = False
    inactive.save()
    reviewer("hr-left", tenant).user.groups.clear()
    admin = person("admin", "view_offboardingcase", "review_offboarding")
    admin.email = "admin@example.com"
    admin.save()
    case = leaver(tenant, system_actor, "ann")

    with caplog.at_level(logging.WARNING, logger="lifecycle.notifications"):
        assert reviews_notify() == 1
        assert reviews_notify() == 0
    assert mail.outbox == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "tenant acme has no HR reviewer with an address: 1 case(s) pending review, nobody told"
    ]
    case.refresh_from_db()
    assert case.review_notified_at is not None


def test_a_refused_send_leaves_the_cases_to_the_next_run(
    tenant, other_tenant, system_actor, reviewer, refusing, caplog
):
    in_review(tenant, other_tenant, actor=system_actor)
    reviewer("hr-ann", tenant)
    reviewer("hr-gus", other_tenant)
    refusing.refused = {"hr-ann@example.com"}
    refused = leaver(tenant, system_actor, "ann")
    leaver(other_tenant, system_actor, "gus")

    with caplog.at_level(logging.ERROR, logger="lifecycle.notifications"):
        assert reviews_notify() == 1  # the other tenant goes on
    assert [m.to for m in mail.outbox] == [["hr-gus@example.com"]]
    assert "the next run retries" in caplog.text and "SMTPRecipientsRefused" in caplog.text
    refused.refresh_from_db()
    assert refused.review_notified_at is None

    refusing.refused = set()
    assert reviews_notify() == 1
    assert [m.to for m in mail.outbox] == [["hr-gus@example.com"], ["hr-ann@example.com"]]
    assert reviews_notify() == 0
    assert refusing.refusals == 1


def test_a_tenant_in_a_burst_is_told_once_the_burst_is_released(
    tenant, system_actor, reviewer, person, django_capture_on_commit_callbacks
):
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        burst_count=2,
        burst_percent=0,
    )
    reviewer("hr-ann", tenant)
    cases = [leaver(tenant, system_actor, f"u{i}") for i in range(3)]  # the third crosses the count
    burst = Burst.objects.get(tenant=tenant, state=BurstState.OPEN)
    assert set(OffboardingCase.objects.values_list("state", flat=True)) == {CaseState.QUARANTINED}
    # One a request opened in the instant the burst was being opened: still in review, not told.
    OffboardingCase.objects.filter(pk=cases[0].pk).update(
        state=CaseState.PENDING_REVIEW, resume_state="", burst=None
    )
    assert reviews_notify() == 0
    assert mail.outbox == []

    burst_release(burst_id=burst.pk, by=person("secops", "decide_burst"), reason="the leavers are real")
    with django_capture_on_commit_callbacks() as callbacks:
        assert burst_finish(burst_id=burst.pk) == 2
    assert callbacks.count(reviews_nudge._send) == 1  # once, not per case
    assert reviews_notify() == 3
    (message,) = mail.outbox
    assert message.subject == "3 leavers of Acme need your review"
    assert all(f"/hr/cases/{case.pk}/" in message.body for case in cases)


# --- the daily digest ----------------------------------------------------------------------------

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def test_the_digest_names_the_deletions_due_within_a_week_in_the_reviewers_time_zone(
    tenant, other_tenant, system_actor, reviewer
):
    in_review(tenant, other_tenant, actor=system_actor)
    ann = reviewer("hr-ann", tenant, zone="America/New_York")
    reviewer("hr-gus", other_tenant)
    reviewer("hr-idle", other_tenant, tenant, email="")  # no address: no digest
    due = {
        "soon": datetime(2030, 1, 13, 15, 30, tzinfo=UTC),  # 10:30 in New York (EST)
        "late": datetime(2030, 1, 9, 8, 0, tzinfo=UTC),  # overdue, not deleted
        "far": datetime(2030, 1, 20, 9, 0, tzinfo=UTC),  # beyond the week
        "held": datetime(2030, 1, 12, 9, 0, tzinfo=UTC),  # on legal hold: no deletion
    }
    for name, at in due.items():
        OffboardingCase.objects.filter(pk=leaver(tenant, system_actor, name).pk).update(deletion_due_at=at)
    OffboardingCase.objects.filter(user__user_name="late").update(state=CaseState.APPROVED)
    OffboardingCase.objects.filter(user__user_name="held").update(
        state=CaseState.ON_HOLD, resume_state=CaseState.PENDING_REVIEW
    )
    gus_case = leaver(other_tenant, system_actor, "gus")
    OffboardingCase.objects.filter(pk=gus_case.pk).update(deletion_due_at=NOW + timedelta(days=2))

    assert reviews_digest(now=NOW) == 2
    (digest,) = sent_to("hr-ann@example.com")
    assert digest.subject == "Offboarding: 2 deletions due within 7 days"
    lines = digest.body.splitlines()
    late = lines.index("- late: Deletion approved, due 2030-01-09 03:00 America/New_York (overdue)")
    soon = lines.index("- soon: Pending HR review, due 2030-01-13 10:30 America/New_York")
    assert late < soon  # soonest first
    assert "far" not in digest.body and "held" not in digest.body and "gus" not in digest.body
    assert lines[soon + 1] == f"  {BASE}/hr/cases/{case_of_named('soon').pk}/"
    (other,) = sent_to("hr-gus@example.com")
    assert "- gus: Pending HR review, due 2030-01-12 12:00 UTC" in other.body.splitlines()
    ann.refresh_from_db()
    assert ann.digest_sent_on == NOW.date()

    assert reviews_digest(now=NOW + timedelta(hours=11)) == 0  # once a day (UTC)
    assert len(mail.outbox) == 2
    assert reviews_digest(now=NOW + timedelta(days=1)) == 2  # the next day, again
    assert len(mail.outbox) == 4


def case_of_named(user_name: str) -> OffboardingCase:
    return OffboardingCase.objects.get(user__user_name=user_name)


def test_a_reviewer_with_nothing_due_is_sent_nothing_that_day(tenant, system_actor, reviewer):
    in_review(tenant, actor=system_actor)
    ann = reviewer("hr-ann", tenant)
    leaver(tenant, system_actor, "far")  # due when its grace period ends, weeks away

    assert reviews_digest() == 0
    assert mail.outbox == []
    ann.refresh_from_db()
    assert ann.digest_sent_on == timezone.now().date()  # claimed: a later run today sends nothing


def test_the_digest_task_tries_a_refused_digest_again(tenant, system_actor, reviewer, refusing, caplog):
    """A mail server that refuses the 07:00 digest once: the task tries again (ten minutes later;
    at once here, eager), and the reviewer gets it that day."""
    in_review(tenant, actor=system_actor)
    reviewer("hr-ann", tenant)
    case = leaver(tenant, system_actor, "ann")
    OffboardingCase.objects.filter(pk=case.pk).update(deletion_due_at=timezone.now() + timedelta(days=1))
    refusing.refused, refusing.recovers = {"hr-ann@example.com"}, True

    with caplog.at_level(logging.ERROR, logger="lifecycle.notifications"):
        assert review_digest.apply().get() == 1  # eager: its retry runs at once
    assert "the next run retries" in caplog.text
    assert refusing.refusals == 1
    assert [m.to for m in mail.outbox] == [["hr-ann@example.com"]]


def test_beat_runs_the_digest_daily_at_seven_utc():
    applied = MigrationRecorder(connection).applied_migrations()
    assert ("lifecycle", "0005_review_digest_schedule") in applied
    # What the migration installed (a transactional test's flush may have emptied the table since),
    # run with the migration's own historical models, twice: the second leaves it as it is.
    apps = MigrationLoader(connection).project_state(("lifecycle", "0005_review_digest_schedule")).apps
    schedule_migration.install(apps, None)
    schedule_migration.install(apps, None)
    task = PeriodicTask.objects.get(name="hr-review-digest")
    assert task.task == "lifecycle.tasks.review_digest" and task.enabled and task.interval is None
    crontab = task.crontab
    assert (
        crontab.minute,
        crontab.hour,
        crontab.day_of_week,
        crontab.day_of_month,
        crontab.month_of_year,
    ) == (
        "0",
        "7",
        "*",
        "*",
        "*",
    )
    assert str(crontab.timezone) == "UTC"
    assert PeriodicTasks.last_change() is not None
    schedule_migration.uninstall(apps, None)
    assert not PeriodicTask.objects.filter(name="hr-review-digest").exists()


# --- several workers at once (PostgreSQL) --------------------------------------------------------

ROUNDS = 5


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_workers_at_once_send_each_email_once(tenant, system_actor, reviewer, settings):
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    # Every user here leaves: no burst guard (test_burst_concurrency).
    policy(
        tenant,
        system_actor,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        burst_count=0,
        burst_percent=0,
    )
    reviewer("hr-ann", tenant)
    reviewer("hr-bob", tenant)

    def alone(work):
        def run(i):
            try:
                return work()
            finally:
                connections.close_all()

        return run

    for round_ in range(ROUNDS):
        mail.outbox.clear()
        cases = [leaver(tenant, system_actor, f"r{round_}u{i}") for i in range(3)]
        assert sum(at_once(2, alone(reviews_notify))) == 3
        assert sorted(m.to[0] for m in mail.outbox) == ["hr-ann@example.com", "hr-bob@example.com"]
        assert all(f"/hr/cases/{case.pk}/" in m.body for case in cases for m in mail.outbox)

        mail.outbox.clear()
        OffboardingCase.objects.filter(pk__in=[c.pk for c in cases]).update(
            deletion_due_at=NOW + timedelta(days=round_, hours=1)
        )
        day = NOW + timedelta(days=round_)
        assert sum(at_once(2, alone(lambda day=day: reviews_digest(now=day)))) == 2
        assert sorted(m.to[0] for m in mail.outbox) == ["hr-ann@example.com", "hr-bob@example.com"]
        assert Reviewer.objects.filter(digest_sent_on=day.date()).count() == 2


def test_a_long_list_names_the_soonest_and_counts_the_rest(tenant, system_actor, reviewer, monkeypatch):
    monkeypatch.setattr("lifecycle.notifications.LISTED", 2)
    in_review(tenant, actor=system_actor)
    reviewer("hr-ann", tenant)
    for i, days in enumerate((3, 1, 2)):
        case = leaver(tenant, system_actor, f"u{i}")
        OffboardingCase.objects.filter(pk=case.pk).update(deletion_due_at=NOW + timedelta(days=days))

    assert reviews_notify() == 3
    assert reviews_digest(now=NOW) == 1
    notice, digest = mail.outbox
    assert notice.subject == "3 leavers of Acme need your review"
    assert digest.subject == "Offboarding: 3 deletions due within 7 days"
    for message in (notice, digest):
        assert [line[2:4] for line in message.body.splitlines() if line.startswith("- ")] == ["u1", "u2"]
        assert "...and 1 more.\n" in message.body


def test_one_refused_address_does_not_make_the_others_told_again(
    tenant, other_tenant, system_actor, reviewer, refusing, caplog
):
    in_review(tenant, other_tenant, actor=system_actor)
    reviewer("hr-ann", tenant)
    reviewer("hr-bob", tenant)
    refusing.refused = {"hr-ann@example.com"}  # for good: a wrong address
    leaver(tenant, system_actor, "cat")
    with caplog.at_level(logging.ERROR, logger="lifecycle.notifications"):
        assert reviews_notify() == 1
    assert [m.to for m in mail.outbox] == [["hr-bob@example.com"]]
    assert "a review notice to hr-ann@example.com failed" in caplog.text
    assert reviews_notify() == 0  # bob is not told again; ann reads the screen and the digest
    assert [m.to for m in mail.outbox] == [["hr-bob@example.com"]]
