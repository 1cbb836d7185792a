"""directory/services/users.py over audited_writes.py: a change is written only over the version it
was worked out from, with its audit event; a create writes the user, its search rows and its
event, or nothing."""

import pytest

from directory.errors import AlreadyExists, VersionMismatch
from directory.models import AuditEvent, User, UserValue
from directory.services import users as user_services

EMAILS = [{"value": "Pat@Example.com", "type": "work", "primary": True}, {"value": "p@home.org"}]


@pytest.fixture
def pat(tenant, system_actor):
    return user_services.user_create(
        tenant=tenant, actor=system_actor, fields={"user_name": "pat@example.com", "emails": EMAILS}
    )


def events(user, action):
    return list(AuditEvent.objects.filter(target_id=str(user.pk), action=action).order_by("id"))


def test_a_create_writes_the_user_its_search_rows_and_its_event(pat, tenant):
    stored = User.objects.get(pk=pat.pk)
    assert (stored.user_name, stored.user_name_key, stored.emails, stored.version) == (
        "pat@example.com",
        "pat@example.com",
        EMAILS,
        1,
    )
    rows = list(
        UserValue.objects.filter(user=pat).order_by("position").values_list("value", "value_key", "type")
    )
    assert rows == [("Pat@Example.com", "pat@example.com", "work"), ("p@home.org", "p@home.org", "")]
    (event,) = events(pat, "user.created")
    assert event.tenant_id == tenant.pk and event.changes["emails"]["after"] == EMAILS


def test_a_create_of_a_taken_user_name_writes_nothing(pat, tenant, system_actor):
    before = (User.objects.count(), UserValue.objects.count(), AuditEvent.objects.count())
    with pytest.raises(AlreadyExists):
        user_services.user_create(
            tenant=tenant, actor=system_actor, fields={"user_name": "PAT@example.com", "emails": EMAILS}
        )
    assert (User.objects.count(), UserValue.objects.count(), AuditEvent.objects.count()) == before
    # The request's transaction is still usable (no error aborted it on PostgreSQL).
    assert User.objects.filter(pk=pat.pk).exists()


def test_a_change_that_lost_a_race_is_worked_out_again_on_the_new_state(pat, tenant, system_actor):
    """Another write lands between this one's read and its write: this one is not applied over the
    state it did not see; it reads again and applies its change to the new state."""
    seen = []

    def add_email(user):
        seen.append(user.version)
        if len(seen) == 1:  # the other writer, right after this one read version 1
            user_services.user_update(
                tenant=tenant, actor=system_actor, user_id=pat.pk, fields={"title": "Engineer"}
            )
        return {"emails": [*user.emails, {"value": f"v{user.version}@example.com"}]}

    written = user_services.user_update(tenant=tenant, actor=system_actor, user_id=pat.pk, fields=add_email)
    assert seen == [1, 2]
    stored = User.objects.get(pk=pat.pk)
    assert (stored.version, stored.title, written.version, written.title) == (3, "Engineer", 3, "Engineer")
    assert stored.emails == [*EMAILS, {"value": "v2@example.com"}]
    assert UserValue.objects.filter(user=pat, attribute="emails").count() == 3
    assert len(events(pat, "user.updated")) == 2


def test_after_losing_every_race_a_change_takes_the_row_lock(pat, tenant, system_actor, monkeypatch):
    attempts = []
    real_read = user_services._read

    def read(tenant, user_id, expected_version, *, lock):
        attempts.append(lock)
        user = real_read(tenant, user_id, expected_version, lock=lock)
        if lock == user_services.UNLOCKED:  # another write lands after every unlocked read
            User.objects.filter(pk=pat.pk).update(version=user.version + 1)
        return user

    monkeypatch.setattr(user_services, "_read", read)
    written = user_services.user_update(
        tenant=tenant, actor=system_actor, user_id=pat.pk, fields={"title": "X"}
    )
    assert attempts == [user_services.UNLOCKED] * user_services.OPTIMISTIC_ATTEMPTS + [user_services.UPDATING]
    assert (written.title, User.objects.get(pk=pat.pk).title) == ("X", "X")


def test_if_match_refuses_another_version_and_writes_nothing(pat, tenant, system_actor):
    with pytest.raises(VersionMismatch):
        user_services.user_update(
            tenant=tenant, actor=system_actor, user_id=pat.pk, fields={"title": "X"}, expected_version=7
        )
    assert User.objects.get(pk=pat.pk).version == 1 and not events(pat, "user.updated")


def test_a_taken_user_name_refuses_the_change_and_leaves_the_transaction_usable(pat, tenant, system_actor):
    other = user_services.user_create(
        tenant=tenant, actor=system_actor, fields={"user_name": "sam@example.com"}
    )
    with pytest.raises(AlreadyExists):
        user_services.user_update(
            tenant=tenant, actor=system_actor, user_id=other.pk, fields={"user_name": "Pat@example.com"}
        )
    assert User.objects.get(pk=other.pk).user_name == "sam@example.com"  # and the transaction works
