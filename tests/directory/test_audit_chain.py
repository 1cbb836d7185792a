"""The audit trail's hash chain (directory/services/audit_chain.py): sealed in commit order, verified
from its start, and a change made behind the application's back (raw SQL, triggers off) is named."""

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from directory.models import AuditChain, AuditEvent, AuditSeal
from directory.services.audit import audit_record
from directory.services.audit_chain import (
    NO_TENANT,
    audit_chain_seal,
    audit_chain_seal_all,
    audit_chain_verify,
)
from tests.support.parallel import Step, at_once, until


def record(tenant, actor, n: int = 1, **details):
    return [
        audit_record(
            tenant=tenant,
            actor=actor,
            action=details.get("action", "user.updated"),
            target_type="user",
            target_id=f"u{i}",
            target_label=f"person {i}",
            changes={"displayName": {"before": f"old {i}", "after": f"new {i}"}},
        )
        for i in range(n)
    ]


def tamper(sql: str, params: list) -> None:
    """Run ``sql`` with the append-only triggers out of the way, as someone with the database's
    own access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            for trigger in (
                "directory_auditevent_no_update",
                "directory_auditseal_no_update",
                "directory_auditseal_no_delete",
            ):
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            cursor.execute(sql, params)


def test_a_sealed_chain_verifies_and_sealing_again_adds_nothing(tenant, system_actor):
    events = record(tenant, system_actor, 5)
    assert audit_chain_seal(tenant.pk) >= 5
    assert audit_chain_seal(tenant.pk) == 0
    report = audit_chain_verify(tenant.pk)
    assert report.holds, report.broken
    sealed = list(
        AuditSeal.objects.filter(chain=tenant.pk).order_by("position").values_list("position", "event_id")
    )
    assert [position for position, _ in sealed] == list(range(1, len(sealed) + 1))
    assert {e.pk for e in events} <= {event_id for _, event_id in sealed}
    assert report.sealed == len(sealed) and report.unsealed == 0
    assert AuditChain.objects.get(chain=tenant.pk).link == report.head


def test_each_tenant_has_its_own_chain_and_events_of_no_tenant_theirs(tenant, other_tenant, system_actor):
    record(tenant, system_actor, 2)
    record(other_tenant, system_actor, 3)
    record(None, system_actor, 1, action="admin.login_failed")
    audit_chain_seal_all()
    chains = {
        chain: AuditSeal.objects.filter(chain=chain).count()
        for chain in (tenant.pk, other_tenant.pk, NO_TENANT)
    }
    assert chains[tenant.pk] == AuditEvent.objects.filter(tenant=tenant).count()
    assert chains[other_tenant.pk] == AuditEvent.objects.filter(tenant=other_tenant).count()
    assert chains[NO_TENANT] == AuditEvent.objects.filter(tenant__isnull=True).count() == 1
    assert all(audit_chain_verify(chain).holds for chain in chains)


@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        (
            "UPDATE directory_auditevent SET action = 'user.viewed' WHERE id = %s",
            "who, what, on what or when",
        ),
        ("UPDATE directory_auditevent SET actor_label = 'admin mallory' WHERE id = %s", "who, what"),
        ("UPDATE directory_auditevent SET target_label = 'someone else' WHERE id = %s", "label or changes"),
        ("UPDATE directory_auditevent SET changes = '{}' WHERE id = %s", "label or changes"),
        ("DELETE FROM directory_auditevent WHERE id = %s", "was deleted"),
    ],
)
def test_verify_audit_names_the_event_altered_through_raw_sql(tenant, system_actor, sql, broken):
    events = record(tenant, system_actor, 4)
    audit_chain_seal(tenant.pk)
    victim = events[2].pk
    tamper(sql, [victim])

    report = audit_chain_verify(tenant.pk)
    assert not report.holds
    assert report.event_id == victim
    assert broken in report.broken

    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert refused.value.returncode == 1
    assert f"event {victim}" in out.getvalue() and "BROKEN" in out.getvalue()


def test_a_removed_seal_or_a_forged_link_is_named(tenant, system_actor):
    events = record(tenant, system_actor, 4)
    audit_chain_seal(tenant.pk)
    seal = AuditSeal.objects.get(event_id=events[1].pk)
    tamper("UPDATE directory_auditseal SET link = %s WHERE id = %s", ["0" * 64, seal.pk])
    assert audit_chain_verify(tenant.pk).event_id == events[1].pk

    tamper("DELETE FROM directory_auditseal WHERE id = %s", [seal.pk])
    report = audit_chain_verify(tenant.pk)
    assert f"the seal at position {seal.position} was removed" in report.broken


def test_the_head_tells_when_seals_were_cut_from_the_end(tenant, system_actor):
    record(tenant, system_actor, 3)
    audit_chain_seal(tenant.pk)
    last = AuditSeal.objects.filter(chain=tenant.pk).order_by("-position").first()
    tamper("DELETE FROM directory_auditseal WHERE id = %s", [last.pk])
    assert "head" in audit_chain_verify(tenant.pk).broken


def test_seals_are_append_only_in_the_database(tenant, system_actor):
    record(tenant, system_actor, 1)
    audit_chain_seal(tenant.pk)
    seal = AuditSeal.objects.filter(chain=tenant.pk).first()
    for sql in (
        "UPDATE directory_auditseal SET link = 'x' WHERE id = %s",
        "DELETE FROM directory_auditseal WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [seal.pk])
    assert AuditSeal.objects.get(pk=seal.pk).link == seal.link


def test_verify_audit_seals_first_and_reports_every_chain(tenant, other_tenant, system_actor):
    record(tenant, system_actor, 2)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith(f"{tenant.slug}: intact") for line in lines)
    assert any(line.startswith(f"{other_tenant.slug}: intact") for line in lines)
    assert not AuditEvent.objects.exclude(pk__in=AuditSeal.objects.values("event_id")).exists()


def test_verify_audit_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("verify_audit", "--tenant", "nope")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_late_is_sealed_after_the_ones_before_it(tenant, system_actor):
    """Ids are taken in insert order, not commit order: an event written first and committed last
    is not skipped; it is sealed by the run after its commit, once, and the chain holds."""
    inserted, release = threading.Event(), threading.Event()
    late: list[int] = []

    def slow_writer():
        with transaction.atomic():
            late.append(record(tenant, system_actor, 1)[0].pk)
            inserted.set()
            release.wait(30)

    step = Step(slow_writer)
    until(inserted.is_set)
    early = record(tenant, system_actor, 2)
    assert early[0].pk > late[0]
    audit_chain_seal(tenant.pk)
    assert not AuditSeal.objects.filter(event_id=late[0]).exists()
    assert AuditSeal.objects.filter(event_id__in=[e.pk for e in early]).count() == 2

    release.set()
    step.finish()
    assert audit_chain_seal(tenant.pk) == 1
    seal = AuditSeal.objects.get(event_id=late[0])
    assert seal.position == AuditSeal.objects.filter(chain=tenant.pk).count()
    assert audit_chain_verify(tenant.pk).holds


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_sealers_and_writers_at_once_seal_every_event_once(tenant, system_actor):
    def work(i):
        try:
            for _ in range(5):
                if i % 2:
                    record(tenant, system_actor, 3)
                else:
                    audit_chain_seal(tenant.pk)
        finally:
            connections.close_all()

    at_once(4, work)
    audit_chain_seal(tenant.pk)
    events = AuditEvent.objects.filter(tenant=tenant).count()
    seals = AuditSeal.objects.filter(chain=tenant.pk)
    assert seals.count() == events == seals.values("event_id").distinct().count()
    assert audit_chain_verify(tenant.pk).holds


def test_a_seal_made_while_verifying_is_not_a_broken_head(tenant, system_actor, monkeypatch):
    """Beat may seal between the verifier reading the head and walking the seals: the walk stops at
    the head it read, so the new seals are not a head that disagrees."""
    from directory.services import audit_chain

    record(tenant, system_actor, 3)
    audit_chain_seal(tenant.pk)
    record(tenant, system_actor, 2)
    real = audit_chain._redaction_macs

    def sealing_meanwhile(chain):
        assert audit_chain_seal(chain) >= 2
        return real(chain)

    monkeypatch.setattr(audit_chain, "_redaction_macs", sealing_meanwhile)
    report = audit_chain_verify(tenant.pk)
    assert report.holds, report.broken


def test_a_run_pages_through_a_long_trail_in_batches_in_id_order(tenant, system_actor, monkeypatch):
    from directory.services import audit_chain

    monkeypatch.setattr(audit_chain, "SEAL_BATCH", 3)
    events = record(tenant, system_actor, 10)
    audit_chain_seal(tenant.pk)
    sealed = list(
        AuditSeal.objects.filter(chain=tenant.pk).order_by("position").values_list("event_id", flat=True)
    )
    assert sealed == sorted(sealed) and {e.pk for e in events} <= set(sealed)
    assert audit_chain_verify(tenant.pk).holds and audit_chain_seal(tenant.pk) == 0
