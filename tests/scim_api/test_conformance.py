"""The third-party conformance suite scim2-tester, run against a live Roster server.

Every check runs: discovery, CRUD, attribute selection, PATCH add/remove/replace, on each resource
type /ResourceTypes publishes. See CONFORMANCE.md beside this file for what the checks need.
"""

import pytest
from scim2_tester import CheckResult, Status, check_server

from directory.services.audit import Actor
from directory.services.extensions import extension_schema_declare
from directory.services.tenants import tenant_create
from directory.services.tokens import token_create
from tests.support.live_server import live_server
from tests.support.scim_client import UrllibSCIMClient

# Checks that scim2-tester skips on Roster, by label (see `_label`) -> why that is right. A check
# skipped but not listed here fails the test, and so does one listed here that now runs.
EXPECTED_SKIPS: dict[str, str] = {}

# Failed results that are Roster's deliberate choice, by label and the attribute in the result's
# data -> why. Each must still fail exactly so: an entry that stops matching fails the test.
_ADD_TO_HELD = (
    "RFC 7644 section 3.5.2.1: an add to a multi-valued attribute adds the value to those it holds. "
    "scim2-tester 0.5 creates its User with the extension's attributes filled (generate_random_value "
    "fills an Extension field whole, required or not), so the attribute already holds a value, and "
    "it expects the add to leave only the new one."
)
EXPECTED_DEVIATIONS: dict[tuple[str, str], str] = {
    (
        "check_add_attribute[User]",
        "urn:ietf:params:scim:schemas:extension:conformance:2.0:User:tags",
    ): _ADD_TO_HELD,
    (
        "check_add_attribute[User]",
        "urn:ietf:params:scim:schemas:extension:conformance:2.0:User:certifications",
    ): _ADD_TO_HELD,
}

# The resource types whose CRUD and PATCH checks must have run: a resource type missing from
# /ResourceTypes would otherwise just mean fewer checks, and a green run.
EXPECTED_RESOURCE_TYPES = {"User", "Group"}

FAILING = {Status.ERROR, Status.CRITICAL}


def _label(result: CheckResult) -> str:
    """The check's title, and the resource type it ran on for the per-resource-type checks."""
    title = result.title or "(untitled check)"
    return f"{title}[{result.resource_type}]" if result.resource_type else title


def _deviation(result: CheckResult) -> tuple[str, str]:
    attribute = result.data.get("urn", "") if isinstance(result.data, dict) else ""
    return (_label(result), attribute)


def _summary(result: CheckResult) -> str:
    """One failed result: what the check verifies, why it failed, and what the server answered."""
    what = result.description.strip().splitlines()[0] if result.description else ""
    lines = [f"- {_label(result)} [{result.status.name}] {what}", f"    reason: {result.reason}"]
    if result.data is not None:
        data = " ".join(repr(result.data).split())
        lines.append(f"    data: {data[:400]}{'…' if len(data) > 400 else ''}")
    return "\n".join(lines)


# An extension the tenant declares, one attribute of each kind: scim2-tester reads it from /Schemas
# and /ResourceTypes and creates, reads, filters and patches its attributes like the core ones. No
# decimal or dateTime: scim2-tester 0.5's value generator (filling.generate_random_value) has no
# branch for float or datetime fields and fills them with a UUID string, which its own model then
# refuses to hold (tests/scim_api/test_extensions.py covers both).
EXTENSION = {
    "id": "urn:ietf:params:scim:schemas:extension:conformance:2.0:User",
    "name": "ConformanceUser",
    "description": "Every kind of attribute RFC 7643 defines",
    "attributes": [
        {"name": "costCode", "type": "string"},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
        {"name": "remote", "type": "boolean"},
        {"name": "homepage", "type": "reference", "referenceTypes": ["external"]},
        {"name": "tags", "type": "string", "multiValued": True},
        {"name": "code", "type": "string", "caseExact": True},
        {
            "name": "certifications",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["vendor", "internal"]},
                {"name": "level", "type": "integer"},
            ],
        },
        {
            "name": "desk",
            "type": "complex",
            "subAttributes": [{"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}],
        },
    ],
}
GROUP_EXTENSION = {
    "id": "urn:ietf:params:scim:schemas:extension:conformance:2.0:Group",
    "attributes": [{"name": "budget", "type": "integer"}, {"name": "owner", "type": "string"}],
}


@pytest.mark.django_db(transaction=True)
def test_scim2_tester_finds_no_conformance_error():
    actor = Actor.system("tests")
    tenant = tenant_create(slug="conformance", actor=actor)
    _, token = token_create(tenant=tenant, name="scim2-tester", actor=actor)
    extension_schema_declare(tenant=tenant, actor=actor, document=EXTENSION, resource_type="User")
    extension_schema_declare(tenant=tenant, actor=actor, document=GROUP_EXTENSION, resource_type="Group")

    with live_server() as base:
        scim = UrllibSCIMClient(f"{base}/scim/v2/", headers={"Authorization": f"Bearer {token}"})
        results = check_server(scim)
        # Judged while the server runs: on a failure live_server prints its output, tracebacks included.
        _assert_conformant(results)


def _assert_conformant(results: list[CheckResult]) -> None:
    skipped = {_label(result): result.reason for result in results if result.status == Status.SKIPPED}
    print(f"scim2-tester: {len(results)} results, {len(skipped)} skipped")
    for label, reason in sorted(skipped.items()):
        print(f"  skipped {label}: {reason}")

    failed = [result for result in results if result.status in FAILING]
    deviations = {key for key in EXPECTED_DEVIATIONS for result in failed if _deviation(result) == key}
    assert deviations == set(EXPECTED_DEVIATIONS), (
        f"Expected deviations that no longer occur: {sorted(set(EXPECTED_DEVIATIONS) - deviations)}"
    )
    failed = [result for result in failed if _deviation(result) not in EXPECTED_DEVIATIONS]
    failures = len(failed)  # a plain number, so that pytest does not print the results' reprs again
    assert failures == 0, f"{failures} of {len(results)} scim2-tester results failed:\n" + "\n".join(
        _summary(result) for result in failed
    )

    changes = []
    for label, reason in sorted(skipped.items()):
        if label not in EXPECTED_SKIPS:
            changes.append(f"- newly skipped {label}: {reason}")
    for label in sorted(set(EXPECTED_SKIPS) - set(skipped)):
        changes.append(f"- runs now, remove it from EXPECTED_SKIPS: {label}")
    assert set(skipped) == set(EXPECTED_SKIPS), "Skipped checks changed:\n" + "\n".join(changes)

    exercised = {result.resource_type for result in results if result.resource_type}
    assert exercised >= EXPECTED_RESOURCE_TYPES, (
        f"scim2-tester ran no check on {sorted(EXPECTED_RESOURCE_TYPES - exercised)}: "
        "does /ResourceTypes publish them?"
    )
