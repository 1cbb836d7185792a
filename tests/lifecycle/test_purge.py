"""The purge removes the person's data: after it, no table holds their userName, emails or names
(a search of every table, every column), while the case (the tombstone) and the audit trail still
say who did what to whom and when. A tenant that keeps the trail's values keeps them there only."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection

from directory.models import AuditEvent, DeprovisionAction, ScimRequest
from directory.request_buffer import BUFFER
from directory.services.audit_chain import audit_chain_seal, audit_chain_verify
from directory.services.events import events_sequence
from lifecycle.models import CaseState, CaseStep, OffboardingCase
from lifecycle.services import case_hold, case_release, cases_sweep
from lifecycle.step_runs import case_steps_run
from lifecycle.steps import register, unregister
from tests.directory.test_audit_chain import tamper
from tests.lifecycle.test_cases import deactivate, policy
from tests.lifecycle.test_decisions import LEGAL_PERMISSIONS
from tests.scim_api.conftest import CORE_USER, ENTERPRISE

pytestmark = pytest.mark.django_db

PERSONAL = [
    "ann.leaver@example.com",
    "ann.private@example.net",
    "Annabel",
    "Leaverton",
    "Annabel Leaverton",
    "Annie L.",
    "+1 555 0100",
    "EMP-7731",
    "42 Harbour Lane",
]


def personal_data_left() -> list[tuple[str, str]]:
    """(table, value) for every cell of every table holding one of PERSONAL (case-insensitive)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # the names come from the introspection
            for row in cursor.fetchall():
                text = " ".join(str(cell) for cell in row).lower()
                found += [(table, value) for value in PERSONAL if value.lower() in text]
    return found


def leaver_body(manager: str) -> dict:
    """A user carrying every value of PERSONAL, reporting to ``manager``."""
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": "ann.leaver@example.com",
        "externalId": "EMP-7731",
        "name": {"givenName": "Annabel", "familyName": "Leaverton", "formatted": "Annabel Leaverton"},
        "displayName": "Annabel Leaverton",
        "nickName": "Annie L.",
        "emails": [
            {"value": "ann.leaver@example.com", "type": "work", "primary": True},
            {"value": "ann.private@example.net", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "addresses": [{"streetAddress": "42 Harbour Lane", "locality": "Portsmouth", "type": "home"}],
        ENTERPRISE: {"employeeNumber": "EMP-7731", "manager": {"value": manager}},
    }


def failing_step(context):
    raise ConnectionError(f"mailbox of {context.user.user_name} unreachable")


@pytest.fixture
def leaver(scim, tenant, system_actor):
    """A user with a full profile, in a group, a manager's report, who changed name once, whose
    offboarding had a failing step and a legal hold naming them, deleted and due for purge."""
    policy(tenant, system_actor, on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE)
    boss = scim.create_user("boss@example.com")["id"]
    body = leaver_body(manager=boss)
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    uid = response.json()["id"]
    scim.create_group("Sales", members=[uid])
    scim.patch_ops(f"/Users/{uid}", {"op": "replace", "path": "title", "value": "Account executive"})
    register("failing_step", failing_step, max_attempts=1)
    try:
        deactivate(scim, uid)
        case = OffboardingCase.objects.get(subject_id=uid)
        case_steps_run(case_id=case.pk)
    finally:
        unregister("failing_step")
    assert "ann.leaver@example.com" in CaseStep.objects.get(case=case, name="failing_step").last_error
    return uid, case


def purge_all(tenant):
    later = OffboardingCase.objects.get(state=CaseState.SUSPENDED).deletion_due_at + timedelta(days=1)
    assert cases_sweep(now=later)["deleted"] == 1
    assert cases_sweep(now=later + tenant.purge_after)["purged"] == 1


def test_the_purge_leaves_no_personal_data_in_any_table(scim, tenant, leaver, person):
    uid, case = leaver
    first, second = person("counsel", *LEGAL_PERMISSIONS), person("auditor", *LEGAL_PERMISSIONS)
    case_hold(case_id=case.pk, by=first, reason="Annabel Leaverton's emails are under subpoena")
    case_release(case_id=case.pk, by=second, reason="matter closed")
    trail = list(
        AuditEvent.objects.filter(target_id=uid).values_list("pk", "action", "actor_label", "occurred_at")
    )
    events_sequence()  # published before the purge: the feed holds them too
    assert {table for table, _ in personal_data_left()} >= {
        "directory_user",
        "directory_auditevent",
        "directory_event",
    }

    purge_all(tenant)
    events_sequence()

    assert personal_data_left() == []
    tombstone = OffboardingCase.objects.get(pk=case.pk)
    assert (tombstone.state, tombstone.user_id, str(tombstone.subject_id)) == (CaseState.PURGED, None, uid)
    assert tombstone.hold_reason == "[purged]'s emails are under subpoena"
    assert None not in (tombstone.deprovisioned_at, tombstone.deleted_at, tombstone.purged_at)
    # Who did what, and when, is all still there; the values about the person are not.
    kept = AuditEvent.objects.filter(pk__in=[pk for pk, *_ in trail])
    assert sorted(kept.values_list("pk", "action", "actor_label", "occurred_at")) == sorted(trail)
    created = kept.get(action="user.created")
    assert created.target_label == "[purged]"
    assert created.changes["user_name"] == {"before": None, "after": "[purged]"}
    held = kept.get(action="offboarding.held")
    assert held.changes["reason"] == "[purged]'s emails are under subpoena"
    assert held.changes["state"] == {"before": "suspended", "after": "on_hold"}
    redacted = AuditEvent.objects.get(action="audit.redacted")
    macs = redacted.changes.pop("chain_macs")
    assert redacted.changes == {
        "events": len(trail) + 2,
        "case": case.pk,
    }  # + user.deleted, offboarding.deleted
    assert len(macs) == len(trail) + 2 and {str(pk) for pk, *_ in trail} <= set(macs)


def test_the_hash_chain_holds_across_the_purge_and_shows_a_change_after_it(scim, tenant, leaver):
    """The chain keeps a digest of each event's personal values, not the values: the purge erases
    them and the chain still verifies; a change made to a redacted event afterwards shows."""
    uid, _case = leaver
    audit_chain_seal(tenant.pk)
    purge_all(tenant)
    audit_chain_seal(tenant.pk)
    assert audit_chain_verify(tenant.pk).holds

    created = AuditEvent.objects.get(target_id=uid, action="user.created")
    assert created.target_label == "[purged]"
    tamper("UPDATE directory_auditevent SET target_label = 'Someone Else' WHERE id = %s", [created.pk])
    report = audit_chain_verify(tenant.pk)
    assert report.event_id == created.pk and "label or changes" in report.broken


def test_a_tenant_may_keep_the_values_in_its_audit_trail(scim, tenant, system_actor, leaver):
    policy(tenant, system_actor, purge_redacts_audit=False)
    purge_all(tenant)
    assert {table for table, _ in personal_data_left()} == {"directory_auditevent"}
    assert not AuditEvent.objects.filter(action="audit.redacted").exists()


def test_every_table_is_searched():
    """The search above covers every model's table (no personal data hides in one it skips)."""
    tables = set(connection.introspection.table_names())
    assert {model._meta.db_table for model in apps.get_models()} <= tables


def test_the_purge_leaves_no_personal_data_in_the_request_log(scim, tenant, system_actor, leaver):
    """The logged bodies of the person's requests (its create, its updates) named them: the purge
    replaces them, whatever the tenant's audit setting, and keeps what was asked and when."""
    policy(tenant, system_actor, purge_redacts_audit=False)  # the log goes regardless
    BUFFER.flush()
    logged = ScimRequest.objects.filter(tenant=tenant)
    assert any("leaverton" in row.body.lower() for row in logged)
    paths = sorted(logged.values_list("method", "path"))
    purge_all(tenant)
    assert not [(table, value) for table, value in personal_data_left() if table == "directory_scimrequest"]
    assert sorted(ScimRequest.objects.filter(tenant=tenant).values_list("method", "path")) == paths
