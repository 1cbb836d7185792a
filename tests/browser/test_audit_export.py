"""In a browser: an administrator filters the audit trail by tenant and exports it in each format;
the files hold exactly the filtered events, and each OCSF line carries its class's required
attributes (OCSF 1.3: Account Change 3001 for users, Group Management 3006 for groups)."""

import csv
import io
import json

from playwright.sync_api import expect

from directory.models import AuditEvent
from tests.directory.test_audit_export import REQUIRED
from tests.support.browser import ADMIN, log_in

LABELS = {"csv": "Export CSV", "jsonl": "Export JSON lines", "ocsf": "Export OCSF"}


def test_export_the_filtered_trail_in_each_format(new_page, admin_user, tenant, scim):
    ann = scim.create_user("ann@example.com")["id"]
    scim.patch_ops(f"/Users/{ann}", {"op": "replace", "path": "active", "value": False})
    scim.create_group("Sales", members=[ann])
    expected = set(AuditEvent.objects.filter(tenant=tenant).values_list("pk", flat=True))

    page = new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    browser = page.page
    log_in(browser, *ADMIN)
    browser.goto("/admin/directory/auditevent/")
    browser.locator("#changelist-filter").get_by_role("link", name=str(tenant)).click()
    expect(browser.locator("#result_list tbody tr")).to_have_count(len(expected))
    page.shot("audit-filtered")

    files = {}
    for fmt, label in LABELS.items():
        with browser.expect_download() as download:
            browser.get_by_role("link", name=label).click()
        files[fmt] = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115

    assert {int(row["id"]) for row in csv.DictReader(io.StringIO(files["csv"]))} == expected
    assert {json.loads(line)["id"] for line in files["jsonl"].splitlines()} == expected
    events = [json.loads(line) for line in files["ocsf"].splitlines()]
    assert len(events) == len(expected)
    classes = set()
    for event in events:
        assert all(event.get(name) is not None for name in REQUIRED), event
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        classes.add(event["class_uid"])
        if event["class_uid"] == 3001:
            assert event["user"]["uid"]
        if event["class_uid"] == 3006:
            assert event["group"]["uid"]
    assert {3001, 3006} <= classes
    assert AuditEvent.objects.filter(action="audit.exported").count() == 3  # each export recorded
