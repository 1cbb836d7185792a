"""``manage.py export_audit``: the trail as CSV, JSON lines and OCSF (Account Change for users,
Group Management for groups), oldest first, of a tenant and a period."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from directory.models import AuditEvent
from tests.scim_api.conftest import (  # noqa: F401
    Scim,
    other_scim,
    other_token_pair,
    plaintext,
    scim,
    token,
    token_pair,
)

# OCSF 1.3: what every event must carry, and what each class adds.
REQUIRED = ("activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid")


def exported(fmt: str, *args: str) -> str:
    out = io.StringIO()
    call_command("export_audit", "--format", fmt, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def trail(scim: Scim, other_scim: Scim):  # noqa: F811
    """A user created, deactivated; a group created with it, then another member added; and an
    event in another tenant."""
    ann = scim.create_user("ann@acme.example")["id"]
    ben = scim.create_user("ben@acme.example")["id"]
    deactivate = {"op": "replace", "path": "active", "value": False}
    assert scim.patch_ops(f"/Users/{ann}", deactivate).status_code == 200
    group = scim.create_group("Sales", members=[ann])["id"]
    add = {"op": "add", "path": "members", "value": [{"value": ben}]}
    assert scim.patch_ops(f"/Groups/{group}", add).status_code in (200, 204)
    other_scim.create_user("olga@globex.example")
    return {"ann": ann, "ben": ben, "group": group}


def test_ocsf_lines_carry_each_classs_required_attributes(trail):
    events = [json.loads(line) for line in exported("ocsf", "--tenant", "acme").splitlines()]
    assert len(events) == AuditEvent.objects.filter(tenant__slug="acme").count()
    for event in events:
        assert all(event.get(name) is not None for name in REQUIRED), event
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert event["category_uid"] == event["class_uid"] // 1000
        assert isinstance(event["time"], int) and event["severity_id"] == 1
        assert event["metadata"]["version"] == "1.3.0" and event["metadata"]["tenant_uid"] == "acme"
        assert {"name", "vendor_name"} <= set(event["metadata"]["product"])
        if event["class_uid"] == 3001:
            assert event["user"]["uid"]
        if event["class_uid"] == 3006:
            assert event["group"]["uid"] and ("user" in event or "privileges" in event)
    by = {(e["message"], e.get("user", {}).get("uid"), e["activity_id"]) for e in events}
    assert ("user.created", trail["ann"], 1) in by  # Create
    assert ("user.updated", trail["ann"], 5) in by  # active: false is Disable
    assert ("group.updated", trail["ben"], 3) in by  # Add User


def test_csv_and_json_lines_hold_every_event_oldest_first(trail):
    rows = list(csv.DictReader(io.StringIO(exported("csv"))))
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert [int(r["id"]) for r in rows] == ids
    assert {r["tenant"] for r in rows} == {"acme", "globex"}
    lines = [json.loads(line) for line in exported("jsonl", "--tenant", "globex").splitlines()]
    assert [line["action"] for line in lines] == ["tenant.created", "token.created", "user.created"]
    assert {line["tenant"] for line in lines} == {"globex"}


def test_a_period_selects_its_events_and_a_bad_date_is_refused(trail, tmp_path):
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert exported("jsonl", "--since", tomorrow) == ""
    assert len(exported("jsonl", "--until", tomorrow).splitlines()) == AuditEvent.objects.count()
    target = tmp_path / "trail.ocsf"
    call_command("export_audit", "--format", "ocsf", "--output", str(target), "--action", "group.")
    assert {json.loads(line)["class_uid"] for line in target.read_text().splitlines()} == {3006}
    with pytest.raises(CommandError, match="--since must be an ISO date"):
        exported("csv", "--since", "last tuesday")


def test_the_admin_exports_the_trail_as_filtered(admin_client, trail):
    page = admin_client.get("/admin/directory/auditevent/?tenant__id__exact=1")
    assert page.status_code == 200 and "Export OCSF" in page.content.decode()
    acme = AuditEvent.objects.filter(tenant__slug="acme")
    response = admin_client.get(
        f"/admin/directory/auditevent/export/?format=ocsf&tenant__id__exact={acme[0].tenant_id}"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert {line["metadata"]["tenant_uid"] for line in lines} == {"acme"} and len(lines) == acme.count()
    searched = admin_client.get("/admin/directory/auditevent/export/?format=csv&q=ben%40acme")
    rows = list(csv.DictReader(io.StringIO(b"".join(searched.streaming_content).decode())))
    assert rows and all("ben@acme.example" in (r["target_label"] + r["changes"]) for r in rows)
    exported_by = AuditEvent.objects.filter(action="audit.exported").values_list("target_id", flat=True)
    assert sorted(exported_by) == ["csv", "ocsf"]
    assert admin_client.get("/admin/directory/auditevent/export/?format=xml").status_code == 400


def test_the_export_needs_the_permission_to_view_the_trail(client, django_user_model, trail):
    client.force_login(django_user_model.objects.create_user("clerk", password="x", is_staff=True))
    assert client.get("/admin/directory/auditevent/export/?format=csv").status_code == 403
