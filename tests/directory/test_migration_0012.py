"""Migration 0012 (userName keys by RFC 8265) on real data: users and emails written under the
casefolded keys of 0011, the migration run forwards, backwards and forwards again with Django's
MigrationExecutor, on the database the suite runs on (SQLite and PostgreSQL)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from directory import user_names
from directory.errors import AlreadyExists
from directory.identifiers import lookup_key
from directory.models import AuditEvent, Tenant, User, UserValue
from directory.services.audit import Actor
from directory.services.users import user_create, user_delete

BEFORE = [("directory", "0011_user_writes_in_place")]
THIS = [("directory", "0012_user_name_precis")]
FULLWIDTH_ALICE = "\uff21\uff2c\uff29\uff23\uff25@example.com"
NFD_JOSE, NFC_JOSE, SPACED_CAROL = "jose\u0301", "jos\u00e9", "car\u200bol"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps(transactional_db):
    """The models as migration 0011 left them; the database is put back at the latest migrations."""
    yield migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


# (tenant, userName, deleted): written under 0011's keys (casefolded), in this order (ids are
# UUIDv7: the first of two look-alikes is the older).
ROWS = [
    ("acme", "alice@example.com", False),
    ("acme", FULLWIDTH_ALICE, False),  # a look-alike: hidden behind the older one
    ("acme", "Alice@Example.com\u200b", True),  # deleted: no conflict, re-keyed all the same
    ("acme", "jose\u0301", False),  # NFD, older: keeps the key
    ("acme", "jos\u00e9", False),  # NFC
    ("acme", "car\u200bol", False),  # older, but a name the rule refuses: hidden
    ("acme", "carol", False),
    ("acme", "bob\n", False),  # refused, alone: kept under "bob"
    ("acme", "dave ", False),  # refused, alone: kept under "dave"
    ("acme", "erin", False),  # unchanged
    ("globex", FULLWIDTH_ALICE, False),  # another tenant: no conflict
]


def seed(old_apps, rows=ROWS):
    """The rows of ``rows`` as 0011 wrote them; returns {(tenant, userName): id}."""
    Tenant_, User_, UserValue_ = (old_apps.get_model("directory", m) for m in ("Tenant", "User", "UserValue"))
    tenants = {s: Tenant_.objects.get_or_create(slug=s, defaults={"name": s})[0] for s in ("acme", "globex")}
    users = [
        User_(
            tenant=tenants[slug],
            user_name=name,
            user_name_key=name.casefold(),
            state="deleted" if deleted else "active",
            active=not deleted,
            emails=[{"value": name.upper()}],
        )
        for slug, name, deleted in rows
    ]
    User_.objects.bulk_create(users, batch_size=1000)
    UserValue_.objects.bulk_create(
        [
            UserValue_(
                tenant=u.tenant,
                user=u,
                attribute="emails",
                position=0,
                value=u.emails[0]["value"],
                value_key=u.emails[0]["value"].casefold(),
            )
            for u in users
        ],
        batch_size=1000,
    )
    return {(u.tenant.slug, u.user_name): u.pk for u in users}


def keys() -> dict:
    """The keys, read by the columns 0011 and 0012 have (later migrations add tenant columns)."""
    rows = User.objects.values_list("tenant__slug", "user_name", "user_name_key")
    return {(slug, name): key for slug, name, key in rows}


def migrate_latest():
    """For a test that goes on with today's models and services, after checking 0012's work."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_forwards_rekeys_hides_look_alikes_and_reports_them(old_apps, capsys):
    ids = seed(old_apps)
    migrate(THIS)
    got = keys()
    assert got[("acme", "alice@example.com")] == "alice@example.com"
    assert got[("acme", FULLWIDTH_ALICE)] == f"alice@example.com\x1f{ids['acme', FULLWIDTH_ALICE]}"
    assert got[("acme", "Alice@Example.com\u200b")] == "alice@example.com"  # deleted: not unique
    assert got[("acme", NFD_JOSE)] == NFC_JOSE
    assert got[("acme", NFC_JOSE)] == f"{NFC_JOSE}\x1f{ids['acme', NFC_JOSE]}"
    assert got[("acme", "carol")] == "carol"
    assert got[("acme", SPACED_CAROL)] == f"carol\x1f{ids['acme', SPACED_CAROL]}"
    assert (got[("acme", "bob\n")], got[("acme", "dave ")], got[("acme", "erin")]) == ("bob", "dave", "erin")
    assert got[("globex", FULLWIDTH_ALICE)] == "alice@example.com"
    assert set(UserValue.objects.values_list("value_key", flat=True)) == {
        lookup_key(name.upper()) for _, name, _ in ROWS
    }

    hidden = {(FULLWIDTH_ALICE, "alice@example.com"), ("jos\u00e9", "jose\u0301"), ("car\u200bol", "carol")}
    events = AuditEvent.objects.filter(action="user.name_conflict")
    assert {(e.target_label, e.actor_type, e.actor_label) for e in events} == {
        (name, "system", "migration 0012_user_name_precis") for name, _ in hidden
    }
    for event in events:
        keeper = next(k for name, k in hidden if name == event.target_label)
        assert event.target_id == str(ids["acme", event.target_label])
        assert event.changes["same_name_as"]["after"] == str(ids["acme", keeper])
        assert event.changes["user_name_key"]["before"] == event.target_label.casefold()

    printed = capsys.readouterr().out
    assert "5 userName(s) need an administrator (3 hidden now)" in printed
    for shown in [
        f"'{FULLWIDTH_ALICE}' = '\\uff21\\uff2c\\uff29\\uff23\\uff25@example.com'",
        f"'{NFC_JOSE}' = 'jos\\xe9' (kept by '{NFD_JOSE}' = 'jose\\u0301'",
        "'car\\u200bol' (kept by 'carol',",
        "'bob\\n':",
        "'dave ':",
    ]:
        assert shown in printed, shown
    assert "U+000A, a control character" in printed and "U+0020 SPACE, a space" in printed


def test_the_one_kept_is_what_lookups_find_and_the_name_stays_taken(old_apps):
    ids = seed(old_apps)
    migrate(THIS)
    migrate_latest()
    acme = Tenant.objects.get(slug="acme")
    for lookup, kept in [
        (FULLWIDTH_ALICE, "alice@example.com"),
        ("jos\u00e9", "jose\u0301"),
        ("carol\u200b", "carol"),
    ]:
        found = User.objects.filter(tenant=acme, user_name_key=lookup_key(lookup)).exclude(state="deleted")
        assert list(found.values_list("pk", flat=True)) == [ids["acme", kept]]
    with pytest.raises(AlreadyExists):
        user_create(tenant=acme, actor=Actor.system("tests"), fields={"user_name": "ALICE@example.com"})


def test_the_command_lists_the_same_and_rekey_gives_a_free_name_back(old_apps):
    ids = seed(old_apps)
    migrate(THIS)
    out = StringIO()
    call_command("user_name_conflicts", stdout=out)
    listed = out.getvalue()
    assert "5 userName(s) need an administrator." in listed
    assert f"kept by 'alice@example.com', {ids['acme', 'alice@example.com']}" in listed
    assert str(ids["globex", FULLWIDTH_ALICE]) not in listed

    migrate_latest()
    acme = Tenant.objects.get(slug="acme")
    user_delete(tenant=acme, actor=Actor.system("tests"), user_id=ids["acme", "alice@example.com"])
    out = StringIO()
    call_command("user_name_conflicts", "--rekey", "--tenant", "acme", stdout=out)
    assert "Keys recomputed; 0 user(s) hidden now." in out.getvalue()
    assert "4 userName(s) need an administrator." in out.getvalue()
    assert User.objects.get(pk=ids["acme", FULLWIDTH_ALICE]).user_name_key == "alice@example.com"
    assert AuditEvent.objects.filter(action="user.name_conflict").count() == 3  # none again


def test_backwards_restores_the_casefolded_keys_and_forwards_again_is_the_same(old_apps):
    seed(old_apps)
    migrate(THIS)
    forwards = keys()
    migrate(BEFORE)
    assert keys() == {(slug, name): name.casefold() for slug, name, _ in ROWS}
    assert all(v.value_key == v.value.casefold() for v in UserValue.objects.all())
    migrate(THIS)
    assert keys() == forwards
    assert AuditEvent.objects.filter(action="user.name_conflict").count() == 6  # each time a user is hidden


def test_a_second_run_changes_nothing(old_apps):
    seed(old_apps)
    migrate(THIS)
    before = keys()
    assert user_names.user_names_rekey(User, AuditEvent, actor_label="again") == 0
    assert user_names.user_values_rekey(UserValue) == 0
    assert keys() == before


def test_the_work_is_in_batches_not_per_user(old_apps):
    """Statements at 50 and at 300 users whose keys change (one batch each) are the same: none
    is per user."""

    def statements(count: int) -> int:
        old_apps.get_model("directory", "User").objects.all().delete()
        extra = [("acme", f"user{i}e\u0301@example.com", False) for i in range(count)]
        seed(old_apps, ROWS + extra)
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        with CaptureQueriesContext(connection) as queries:
            user_names.user_names_rekey(
                apps.get_model("directory", "User"),
                apps.get_model("directory", "AuditEvent"),
                actor_label="t",
            )
            user_names.user_values_rekey(apps.get_model("directory", "UserValue"))
        return len(queries)

    assert statements(50) == statements(300)


def test_the_command_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("user_name_conflicts", "--tenant", "nope", stdout=StringIO())


def test_the_command_says_so_when_nothing_needs_an_administrator(tenant, system_actor):
    user_create(tenant=tenant, actor=system_actor, fields={"user_name": "alice@example.com"})
    out = StringIO()
    call_command("user_name_conflicts", stdout=out)
    assert out.getvalue() == "None.\n"
