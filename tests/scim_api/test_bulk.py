"""POST /Bulk (RFC 7644 section 3.7): bulkId references in any order, circular references,
failOnErrors, the maxOperations and maxPayloadSize limits, per-operation results and isolation."""

import json
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password

from directory.models import AuditEvent, Group, Membership, User, UserState
from directory.services import users as user_services
from scim_api.resources import RESOURCES
from scim_api.schema import BULK_REQUEST, BULK_RESPONSE
from tests.scim_api.conftest import (
    ABSOLUTE_BASE,
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    ERROR_URN,
    PATCH_URN,
    assert_scim_error,
    body_of,
    snapshot,
    without_request_id,
)

RFC = Path(__file__).resolve().parent.parent / "fixtures" / "rfc"


def fixture(name: str) -> dict:
    return json.loads((RFC / name).read_text())


def bulk(*operations, **extra) -> dict:
    return {"schemas": [BULK_REQUEST], **extra, "Operations": list(operations)}


def post_user(bulk_id, user_name, **attributes) -> dict:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [CORE_USER], "userName": user_name, **attributes},
    }


def post_group(bulk_id, display_name, members=(), **attributes) -> dict:
    data = {"schemas": [CORE_GROUP], "displayName": display_name, **attributes}
    if members:
        data["members"] = [{"value": m} for m in members]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def patch_op(path, *operations, **extra) -> dict:
    return {
        "method": "PATCH",
        "path": path,
        "data": {"schemas": [PATCH_URN], "Operations": list(operations)},
        **extra,
    }


def run(scim, body, status=200) -> list[dict]:
    response = scim.post("/Bulk", body)
    assert response.status_code == status, response.content
    document = body_of(response)
    assert document["schemas"] == [BULK_RESPONSE]
    for result in document["Operations"]:
        assert isinstance(result["status"], str)
        if "response" in result:
            error = result["response"]
            assert error["schemas"] == [ERROR_URN]
            assert error["status"] == result["status"]
            assert isinstance(error["detail"], str) and error["detail"]
    return document["Operations"]


def id_of(result: dict) -> str:
    return result["location"].rsplit("/", 1)[-1]


def assert_failed(result: dict, status: int, scim_type: str | None = None, contains: str | None = None):
    assert result["status"] == str(status), result
    error = result["response"]
    assert error.get("scimType") == scim_type, error
    if contains is not None:
        assert contains in error["detail"], error["detail"]
    assert "Traceback" not in error["detail"]


def members_of(scim, group_id) -> set[str]:
    body = body_of(scim.get(f"/Groups/{group_id}"))
    return {m["value"] for m in body.get("members", [])}


# --- RFC 7644 examples -----------------------------------------------------------------------------


def test_rfc_3_7_2_user_and_group_by_bulk_id(scim):
    results = run(scim, fixture("rfc7644-3.7.2-bulk-request-bulkid-user-and-group.json"))
    expected = fixture("rfc7644-3.7.2-bulk-response-bulkid-user-and-group.json")["Operations"]
    assert [(r["method"], r["bulkId"]) for r in results] == [(e["method"], e["bulkId"]) for e in expected]
    # The RFC prints status as {"code": "201"} here and as "201" in 3.7.3; we answer the string form.
    assert [r["status"] for r in results] == [e["status"]["code"] for e in expected]
    assert set(results[0]) == set(expected[0]) and set(results[1]) == set(expected[1])
    alice_id, group_id = id_of(results[0]), id_of(results[1])
    assert results[0]["location"] == f"{ABSOLUTE_BASE}/Users/{alice_id}"
    assert results[1]["location"] == f"{ABSOLUTE_BASE}/Groups/{group_id}"

    group = body_of(scim.get(f"/Groups/{group_id}"))
    printed = fixture("rfc7644-3.7.2-get-group-after-bulk-response.json")
    assert group["displayName"] == printed["displayName"]
    assert [{k: m[k] for k in ("value", "$ref", "type")} for m in group["members"]] == [
        {"value": alice_id, "$ref": f"{ABSOLUTE_BASE}/Users/{alice_id}", "type": "User"}
    ]
    assert group["meta"]["version"] == results[1]["version"]


def test_rfc_3_7_2_bulk_id_in_the_enterprise_manager(scim):
    results = run(scim, fixture("rfc7644-3.7.2-bulk-request-bulkid-enterprise-manager.json"))
    assert [r["status"] for r in results] == ["201", "201"]
    alice_id, bob_id = id_of(results[0]), id_of(results[1])
    bob = body_of(scim.get(f"/Users/{bob_id}"))
    assert bob[ENTERPRISE]["employeeNumber"] == "11250"
    assert bob[ENTERPRISE]["manager"]["value"] == alice_id
    assert bob[ENTERPRISE]["manager"]["$ref"] == f"{ABSOLUTE_BASE}/Users/{alice_id}"


def test_rfc_3_7_1_circular_groups_are_a_409_naming_the_cycle(scim):
    before = snapshot()
    results = run(scim, fixture("rfc7644-3.7.1-bulk-request-circular-groups.json"))
    assert [(r["method"], r["bulkId"]) for r in results] == [("POST", "qwerty"), ("POST", "ytrewq")]
    for result in results:
        assert_failed(result, 409, None, "Circular bulkId references")
        assert "location" not in result  # a failed POST has none (RFC 7644 section 3.7.3)
        assert "Operations[0] (bulkId qwerty) references bulkId:ytrewq" in result["response"]["detail"]
        assert "Operations[1] (bulkId ytrewq) references bulkId:qwerty" in result["response"]["detail"]
    assert snapshot() == before


def _existing_user(tenant, system_actor, pk: str, user_name: str) -> User:
    return user_services.user_create(
        tenant=tenant, actor=system_actor, fields={"id": uuid.UUID(pk), "user_name": user_name}
    )


@pytest.fixture
def rfc_3_7_3_users(tenant, system_actor):
    """The two users the RFC 3.7.3 example changes; the one it deletes does not exist."""
    return (
        _existing_user(tenant, system_actor, "b7c14771-226c-4d05-8860-134711653041", "bob"),
        _existing_user(tenant, system_actor, "5d8d29d3-342c-4b5f-8683-a3cb6763ffcc", "carol"),
    )


def test_rfc_3_7_3_fail_on_errors_stops_at_the_first_error(scim, rfc_3_7_3_users):
    # The printed POST has the schema urn:ietf:params:scim:api:messages:2.0:User, which is no
    # resource schema: it fails, and failOnErrors 1 stops there.
    before = snapshot()
    results = run(scim, fixture("rfc7644-3.7.3-bulk-request-fail-on-errors.json"))
    expected = fixture("rfc7644-3.7.3-bulk-response-stop-on-first-error.json")["Operations"]
    assert len(results) == len(expected) == 1
    assert set(results[0]) == set(expected[0]) == {"method", "bulkId", "status", "response"}
    assert (results[0]["method"], results[0]["bulkId"], results[0]["status"]) == ("POST", "qwerty", "400")
    assert_failed(results[0], 400, "invalidValue", "schemas")
    assert snapshot() == before


def test_rfc_3_7_3_without_fail_on_errors_every_operation_is_reported(scim, rfc_3_7_3_users):
    body = fixture("rfc7644-3.7.3-bulk-request-fail-on-errors.json")
    del body["failOnErrors"]
    before = snapshot()
    results = run(scim, body)
    expected = fixture("rfc7644-3.7.3-bulk-response-all-failed.json")["Operations"]
    # The versions are not entity tags Roster issued: 412, as in the RFC; the deleted user is a 404.
    assert [(r["method"], r["status"]) for r in results] == [(e["method"], e["status"]) for e in expected]
    for result, printed in zip(results, expected, strict=True):
        assert set(result) == set(printed)
        if "location" in printed:
            assert result["location"] == printed["location"].replace("https://example.com/v2", ABSOLUTE_BASE)
    assert snapshot() == before


def test_rfc_3_7_3_success_with_real_versions(scim, rfc_3_7_3_users, tenant, system_actor):
    _existing_user(tenant, system_actor, "e9025315-6bea-44e1-899c-1e07454e468b", "erin")
    body = fixture("rfc7644-3.7.3-bulk-request-fail-on-errors.json")
    body["Operations"][0]["data"]["schemas"] = [CORE_USER]  # the printed URN is no resource schema
    for op in body["Operations"][1:]:
        op["version"] = 'W/"1"'
    results = run(scim, body)
    expected = fixture("rfc7644-3.7.3-bulk-response-success.json")["Operations"]
    assert [(r["method"], r["status"]) for r in results] == [(e["method"], e["status"]) for e in expected]
    for result, printed in zip(results, expected, strict=True):
        assert set(result) == set(printed)
    for result, printed in zip(results[1:], expected[1:], strict=True):
        assert result["location"] == printed["location"].replace("https://example.com/v2", ABSOLUTE_BASE)
    assert results[1]["version"] == results[2]["version"] == 'W/"2"'
    assert body_of(scim.get(f"/Users/{id_of(results[0])}"))["userName"] == "Alice"
    assert body_of(scim.get(f"/Users/{id_of(results[1])}"))["userName"] == "Bob"
    assert body_of(scim.get(f"/Users/{id_of(results[2])}"))["userName"] == "Dave"
    assert scim.get(f"/Users/{id_of(results[3])}").status_code == 404


# --- bulkId references -----------------------------------------------------------------------------


def test_a_group_may_name_members_created_later_in_the_request(scim):
    results = run(
        scim,
        bulk(
            post_group("g", "Engineering", members=["bulkId:u1", "bulkId:u2"]),
            patch_op(
                "/Groups/bulkId:g",
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u3", "type": "User"}]},
            ),
            post_user("u1", "one@example.com"),
            post_user("u2", "two@example.com"),
            post_user("u3", "three@example.com"),
        ),
    )
    # Reported in the client's order, whatever order they ran in.
    assert [(r["method"], r.get("bulkId"), r["status"]) for r in results] == [
        ("POST", "g", "201"),
        ("PATCH", None, "200"),
        ("POST", "u1", "201"),
        ("POST", "u2", "201"),
        ("POST", "u3", "201"),
    ]
    group_id = id_of(results[0])
    assert results[1]["location"] == f"{ABSOLUTE_BASE}/Groups/{group_id}"
    assert members_of(scim, group_id) == {id_of(r) for r in results[2:]}
    # The group was created after its first two members, then patched after the third.
    created = list(
        AuditEvent.objects.filter(action__in=["user.created", "group.created", "group.updated"])
        .order_by("pk")
        .values_list("action", "target_id")
    )
    assert created == [
        ("user.created", id_of(results[2])),
        ("user.created", id_of(results[3])),
        ("group.created", group_id),
        ("user.created", id_of(results[4])),
        ("group.updated", group_id),
    ]


def test_references_resolve_in_refs_paths_and_patch_filters(scim):
    results = run(
        scim,
        bulk(
            post_user("boss", "boss@example.com"),
            post_user(
                "worker",
                "worker@example.com",
                **{ENTERPRISE: {"manager": {"$ref": "../Users/bulkId:boss"}}},
                schemas=[CORE_USER, ENTERPRISE],
            ),
            post_group(
                "team",
                "Team",
                members=["bulkId:boss", "bulkId:worker"],
            ),
            patch_op("/Groups/bulkId:team", {"op": "remove", "path": 'members[value eq "bulkId:boss"]'}),
        ),
    )
    assert [r["status"] for r in results] == ["201", "201", "201", "200"], results
    boss_id, worker_id = id_of(results[0]), id_of(results[1])
    worker = body_of(scim.get(f"/Users/{worker_id}"))
    assert worker[ENTERPRISE]["manager"]["value"] == boss_id
    assert members_of(scim, id_of(results[2])) == {worker_id}


def test_a_long_chain_of_forward_references_runs_in_dependency_order(scim):
    # Each user's manager is created by the next operation: they run last to first.
    count = 60
    operations = [
        post_user(
            f"u{n}",
            f"user{n}@example.com",
            schemas=[CORE_USER, ENTERPRISE],
            **({ENTERPRISE: {"manager": {"value": f"bulkId:u{n + 1}"}}} if n + 1 < count else {}),
        )
        for n in range(count)
    ]
    results = run(scim, bulk(*operations))
    assert [r["bulkId"] for r in results] == [f"u{n}" for n in range(count)]
    assert {r["status"] for r in results} == {"201"}
    ids = [id_of(r) for r in results]
    managers = dict(User.objects.filter(pk__in=ids).values_list("pk", "manager_id"))
    for n in range(count - 1):
        assert str(managers[uuid.UUID(ids[n])]) == ids[n + 1]


def test_operations_on_one_resource_keep_their_order_when_one_waits(scim):
    alice = scim.create_user("alice@example.com")
    results = run(
        scim,
        bulk(
            # Waits for the manager, created by the last operation ...
            patch_op(
                f"/Users/{alice['id']}",
                {"op": "replace", "path": "displayName", "value": "first"},
                {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "bulkId:m"}},
            ),
            # ... so this one, on the same user, waits too, and still runs second.
            patch_op(f"/Users/{alice['id']}", {"op": "replace", "path": "displayName", "value": "second"}),
            post_user("m", "manager@example.com"),
        ),
    )
    assert [r["status"] for r in results] == ["200", "200", "201"], results
    alice = body_of(scim.get(f"/Users/{alice['id']}"))
    assert alice["displayName"] == "second"
    assert alice[ENTERPRISE]["manager"]["value"] == id_of(results[2])


def test_an_unknown_bulk_id_fails_that_operation_only(scim):
    before = snapshot()
    results = run(
        scim,
        bulk(
            post_group("g", "Engineering", members=["bulkId:nobody"]),
            patch_op("/Groups/bulkId:ghost", {"op": "replace", "path": "displayName", "value": "x"}),
            post_user("u", "one@example.com"),
        ),
    )
    assert_failed(results[0], 400, "invalidValue", "bulkId:nobody is not the bulkId of any POST")
    assert_failed(results[1], 400, "invalidValue", "bulkId:ghost is not the bulkId of any POST")
    assert "location" not in results[1]
    assert results[2]["status"] == "201"
    assert not Group.objects.exists()
    assert User.objects.count() == len(before["users"]) + 1


def test_a_reference_to_a_bulk_id_that_is_not_a_post(scim):
    alice = scim.create_user("alice@example.com")
    results = run(
        scim,
        bulk(
            patch_op(
                f"/Users/{alice['id']}", {"op": "replace", "path": "nickName", "value": "al"}, bulkId="p"
            ),
            post_group("g", "Engineering", members=["bulkId:p"]),
        ),
    )
    assert results[0]["status"] == "200" and results[0]["bulkId"] == "p"
    assert_failed(results[1], 400, "invalidValue", "only a POST's bulkId stands for a resource")


def test_a_reference_to_a_failed_post_fails_with_it(scim):
    scim.create_user("taken@example.com")
    results = run(
        scim,
        bulk(
            post_user("u", "taken@example.com"),
            post_group("g", "Engineering", members=["bulkId:u"]),
        ),
    )
    assert_failed(results[0], 409, "uniqueness")
    assert_failed(results[1], 400, "invalidValue", "bulkId:u names no resource")
    assert not Group.objects.exists()


def test_circular_managers_and_what_depends_on_them(scim):
    before = AuditEvent.objects.count()
    results = run(
        scim,
        bulk(
            post_user("a", "a@example.com", **{ENTERPRISE: {"manager": {"value": "bulkId:b"}}}),
            post_group("g", "Depends on the cycle", members=["bulkId:a"]),
            post_user("b", "b@example.com", **{ENTERPRISE: {"manager": {"value": "bulkId:c"}}}),
            post_user("c", "c@example.com", **{ENTERPRISE: {"manager": {"value": "bulkId:a"}}}),
            post_user("free", "free@example.com"),
        ),
    )
    for index in (0, 2, 3):
        assert_failed(results[index], 409, None, "Circular bulkId references")
    assert results[0]["response"]["detail"].startswith(
        "Circular bulkId references: Operations[0] (bulkId a) references bulkId:b, "
        "Operations[2] (bulkId b) references bulkId:c, Operations[3] (bulkId c) references bulkId:a."
    )
    assert_failed(results[1], 400, "invalidValue", "bulkId:a names no resource")
    assert results[4]["status"] == "201"
    assert list(User.objects.values_list("user_name", flat=True)) == ["free@example.com"]
    assert AuditEvent.objects.count() == before + 1


def test_a_group_that_contains_itself_by_bulk_id_is_circular(scim):
    results = run(scim, bulk(post_group("g", "Ouroboros", members=["bulkId:g"])))
    assert_failed(results[0], 409, None, "Operations[0] (bulkId g) references bulkId:g")
    assert not Group.objects.exists()


def test_duplicate_bulk_ids_refuse_the_whole_request(scim):
    before = snapshot()
    response = scim.post("/Bulk", bulk(post_user("x", "a@example.com"), post_user("x", "b@example.com")))
    assert_scim_error(response, 400, "invalidValue", detail_contains='bulkId "x" is used by Operations[0]')
    assert snapshot() == before


# --- failOnErrors, limits --------------------------------------------------------------------------


def test_fail_on_errors_stops_after_that_many_errors(scim):
    scim.create_user("taken@example.com")
    results = run(
        scim,
        bulk(
            post_user("a", "taken@example.com"),
            post_user("b", "b@example.com"),
            {"method": "DELETE", "path": f"/Users/{uuid.uuid4()}"},
            post_user("c", "c@example.com"),
            failOnErrors=2,
        ),
    )
    assert [r["status"] for r in results] == ["409", "201", "404"]
    assert set(User.objects.values_list("user_name", flat=True)) == {"taken@example.com", "b@example.com"}


def test_fail_on_errors_counts_errors_in_the_order_operations_ran(scim):
    # The group waits for its member, created by the last operation; the DELETE fails first.
    results = run(
        scim,
        bulk(
            post_group("g", "Waits", members=["bulkId:u"]),
            {"method": "DELETE", "path": f"/Users/{uuid.uuid4()}"},
            post_user("u", "u@example.com"),
            failOnErrors=1,
        ),
    )
    assert [(r["method"], r["status"]) for r in results] == [("DELETE", "404")]
    assert not User.objects.exists() and not Group.objects.exists()


@pytest.mark.parametrize("value", [0, -1, "1", True, 1.5, None])
def test_fail_on_errors_must_be_a_positive_integer(scim, value):
    body = bulk(post_user("a", "a@example.com"), failOnErrors=value)
    response = scim.post("/Bulk", body)
    if value is None:
        assert response.status_code == 200
        return
    assert_scim_error(response, 400, "invalidValue", detail_contains="failOnErrors")
    assert not User.objects.exists()


def test_more_than_max_operations_is_a_413_naming_the_limit(scim, settings):
    settings.SCIM_BULK_MAX_OPERATIONS = 3
    before = snapshot()
    response = scim.post("/Bulk", bulk(*[post_user(f"u{n}", f"u{n}@example.com") for n in range(4)]))
    assert_scim_error(response, 413, detail_contains="exceeds the maxOperations (3)")
    assert snapshot() == before
    results = run(scim, bulk(*[post_user(f"u{n}", f"u{n}@example.com") for n in range(3)]))
    assert [r["status"] for r in results] == ["201"] * 3


def test_a_body_over_max_payload_size_is_a_413_naming_the_limit(scim, settings):
    settings.SCIM_BULK_MAX_PAYLOAD_BYTES = 2000
    body = bulk(*[post_user(f"u{n}", f"user-{n:03}-{'x' * 40}@example.com") for n in range(20)])
    assert len(json.dumps(body)) > 2000
    before = snapshot()
    body_413 = assert_scim_error(scim.post("/Bulk", body), 413)
    # The wording of RFC 7644 section 3.7.4's example.
    expected = fixture("rfc7644-3.7.4-error-payload-too-large.json")["detail"].replace("1048576", "2000")
    assert without_request_id(body_413["detail"]) == expected
    assert snapshot() == before


def test_the_bulk_limit_is_its_own_and_larger_than_a_single_resources(scim, settings):
    settings.SCIM_MAX_PAYLOAD_BYTES = 1000
    body = bulk(*[post_user(f"u{n}", f"user-{n:03}-{'x' * 40}@example.com") for n in range(40)])
    assert len(json.dumps(body)) > 3000
    assert {r["status"] for r in run(scim, body)} == {"201"}
    # A single POST is still held to SCIM_MAX_PAYLOAD_BYTES.
    assert_scim_error(scim.post("/Users", {"schemas": [CORE_USER], "userName": "x" * 2000}), 413)


def test_a_body_larger_than_djangos_upload_limit_is_read(scim, settings):
    # Django's DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MiB; the bulk default is 8 MiB.
    certificates = [{"value": f"{n:04}" + "QUJD" * 1000} for n in range(300)]  # 1.2 MB of base64
    body = bulk(*[post_user(f"u{n}", f"u{n}@example.com", x509Certificates=certificates) for n in range(3)])
    assert len(json.dumps(body)) > 3 * 1024 * 1024
    assert settings.SCIM_BULK_MAX_PAYLOAD_BYTES == 8 * 1024 * 1024
    results = run(scim, body)
    assert [r["status"] for r in results] == ["201"] * 3


def test_service_provider_config_advertises_bulk(anonymous, settings):
    body = body_of(anonymous.get("/ServiceProviderConfig"))
    assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 8 * 1024 * 1024}
    settings.SCIM_BULK_MAX_OPERATIONS = 50
    settings.SCIM_BULK_MAX_PAYLOAD_BYTES = 4096
    body = body_of(anonymous.get("/ServiceProviderConfig"))
    assert body["bulk"] == {"supported": True, "maxOperations": 50, "maxPayloadSize": 4096}


# --- Validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "scim_type", "detail"),
    [
        ([], 400, "invalidSyntax", "JSON object"),
        ({"schemas": [BULK_REQUEST]}, 400, "invalidSyntax", "Operations"),
        ({"schemas": [BULK_REQUEST], "Operations": []}, 400, "invalidSyntax", "non-empty"),
        ({"schemas": [BULK_REQUEST], "Operations": {}}, 400, "invalidSyntax", "Operations"),
        ({"schemas": [PATCH_URN], "Operations": [{}]}, 400, "invalidValue", "BulkRequest"),
        ({"schemas": BULK_REQUEST, "Operations": [{}]}, 400, "invalidSyntax", "schemas"),
        ({"Operations": [{}], "extra": 1}, 400, "invalidSyntax", "extra"),
        ({"Operations": [{}], "operations": [{}]}, 400, "invalidSyntax", "same attribute"),
    ],
)
def test_a_malformed_bulk_request_is_refused_whole(scim, body, status, scim_type, detail):
    before = snapshot()
    assert_scim_error(scim.post("/Bulk", body), status, scim_type, detail_contains=detail)
    assert snapshot() == before


def test_schemas_may_be_omitted_and_keys_are_case_insensitive(scim):
    response = scim.post(
        "/Bulk",
        {"operations": [{"METHOD": "post", "Path": "/Users", "BULKID": "a", "Data": {"userName": "a"}}]},
    )
    assert response.status_code == 200, response.content
    assert body_of(response)["Operations"][0] == {
        "location": body_of(response)["Operations"][0]["location"],
        "method": "POST",
        "bulkId": "a",
        "version": 'W/"1"',
        "status": "201",
    }


def test_bulk_answers_only_post(scim):
    assert_scim_error(scim.get("/Bulk"), 405)
    assert_scim_error(scim.put("/Bulk", bulk(post_user("a", "a@example.com"))), 405)


def test_bulk_needs_a_token(anonymous):
    assert_scim_error(anonymous.post("/Bulk", bulk(post_user("a", "a@example.com"))), 401)
    assert not User.objects.exists()


def test_an_unparsable_body_is_a_400(scim):
    assert_scim_error(scim.post("/Bulk", raw=b'{"Operations": ['), 400, "invalidSyntax")


USER_ID = "0190d0c4-0000-7000-8000-000000000000"
BAD_OPERATIONS = [
    ("not an object", "POST /Users", 400, "invalidSyntax", "must be an object"),
    ({"path": "/Users", "data": {}}, None, 400, "invalidSyntax", ".method must be POST"),
    ({"method": 7, "path": "/Users", "data": {}}, None, 400, "invalidSyntax", ".method must be POST"),
    ({"method": "GET", "path": "/Users"}, None, 400, "invalidSyntax", "got 'GET'"),
    ({"method": "POST", "data": {"userName": "x"}}, None, 400, "invalidSyntax", ".path is required"),
    ({"method": "POST", "path": 5, "data": {}}, None, 400, "invalidSyntax", ".path is required"),
    ({"method": "POST", "path": "/Widgets", "data": {}}, None, 400, "invalidPath", "not a bulk target"),
    ({"method": "POST", "path": "/Users/a/b", "data": {}}, None, 400, "invalidPath", "not a bulk target"),
    ({"method": "POST", "path": "/Users?x=1", "data": {}}, None, 400, "invalidPath", "not a bulk target"),
    ({"method": "POST", "path": "/Schemas", "data": {}}, None, 400, "invalidPath", "not a bulk target"),
    ({"method": "POST", "path": f"/Users/{USER_ID}", "data": {}}, None, 400, "invalidPath", "POST creates"),
    ({"method": "PUT", "path": "/Users", "data": {}}, None, 400, "invalidPath", "needs the path of one"),
    ({"method": "DELETE", "path": "/Groups/"}, None, 400, "invalidPath", "needs the path of one"),
    ({"method": "POST", "path": "/Users"}, None, 400, "invalidSyntax", "data is required for POST"),
    ({"method": "POST", "path": "/Users", "data": []}, None, 400, "invalidSyntax", "must be a JSON object"),
    ({"method": "POST", "path": "/Users", "data": "x"}, None, 400, "invalidSyntax", "must be a JSON object"),
    ({"method": "PUT", "path": f"/Users/{USER_ID}"}, None, 400, "invalidSyntax", "data is required for PUT"),
    ({"method": "PATCH", "path": f"/Users/{USER_ID}"}, None, 400, "invalidSyntax", "required for PATCH"),
    ({"method": "DELETE", "path": f"/Users/{USER_ID}", "data": {}}, None, 400, "invalidValue", "no data"),
    (
        {"method": "DELETE", "path": f"/Users/{USER_ID}", "version": 3},
        None,
        400,
        "invalidSyntax",
        ".version must be a string",
    ),
    ({"method": "POST", "path": "/Users", "bulkId": 5, "data": {}}, None, 400, "invalidSyntax", "bulkId"),
    ({"method": "POST", "path": "/Users", "bulkId": "", "data": {}}, None, 400, "invalidSyntax", "bulkId"),
    (
        {"method": "POST", "path": "/Users", "bulkId": "z" * 201, "data": {}},
        None,
        400,
        "invalidValue",
        "longer than 200",
    ),
    (
        {"method": "POST", "path": "/Users", "data": {}, "status": "201"},
        None,
        400,
        "invalidSyntax",
        "unknown attribute(s) status",
    ),
    ({"method": "POST", "path": "/Users", "data": {}}, None, 400, "invalidValue", '"userName" is required'),
    (
        {"method": "POST", "path": "/Users", "data": {"userName": "x", "active": "maybe"}},
        None,
        400,
        "invalidValue",
        "active",
    ),
    ({"method": "PATCH", "path": f"/Users/{USER_ID}", "data": {"Operations": "x"}}, None, 400, None, None),
    ({"method": "PUT", "path": "/Users/not-a-uuid", "data": {"userName": "x"}}, None, 404, None, "not found"),
    ({"method": "DELETE", "path": f"/Groups/{USER_ID}"}, None, 404, None, "not found"),
]


@pytest.mark.parametrize(("operation", "_", "status", "scim_type", "detail"), BAD_OPERATIONS)
def test_a_malformed_operation_fails_alone(scim, operation, _, status, scim_type, detail):
    results = run(
        scim, bulk(post_user("before", "before@example.com"), operation, post_user("after", "a@x.org"))
    )
    assert results[0]["status"] == results[2]["status"] == "201"
    failed = results[1]
    assert failed["status"] == str(status), failed
    if scim_type is not None:
        assert failed["response"].get("scimType") == scim_type, failed
    if detail is not None:
        assert detail in failed["response"]["detail"], failed
    if isinstance(operation, dict) and isinstance(operation.get("method"), str):
        assert failed["method"] == operation["method"].upper()
    assert User.objects.count() == 2


def test_a_patch_error_in_bulk_is_the_same_as_a_single_patch(scim):
    alice = scim.create_user("alice@example.com")
    operation = {"op": "frobnicate", "path": "displayName", "value": "x"}
    single = body_of(scim.patch_ops(f"/Users/{alice['id']}", operation))
    results = run(scim, bulk(patch_op(f"/Users/{alice['id']}", operation)))
    assert results[0]["status"] == single["status"] == "400"
    assert results[0]["response"] == single | {"detail": without_request_id(single["detail"])}
    assert results[0]["location"] == f"{ABSOLUTE_BASE}/Users/{alice['id']}"


# --- Outcomes: status, versions, isolation, audit ---------------------------------------------------


def test_mixed_success_and_failure(scim):
    alice = scim.create_user("alice@example.com")
    group = scim.create_group("Engineering", members=[alice["id"]])
    stale = 'W/"7"'
    events = AuditEvent.objects.count()
    results = run(
        scim,
        bulk(
            post_user("bob", "bob@example.com"),
            post_user("dup", "ALICE@example.com"),  # userName taken, ignoring case
            patch_op(f"/Users/{alice['id']}", {"op": "replace", "path": "nickName", "value": "al"}),
            patch_op(
                f"/Groups/{group['id']}",
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]},
            ),
            {
                "method": "PUT",
                "path": f"/Users/{alice['id']}",
                "version": stale,
                "data": {"schemas": [CORE_USER], "userName": "alice2@example.com"},
            },
            patch_op(
                f"/Groups/{group['id']}",
                {"op": "add", "path": "members", "value": [{"value": "bulkId:bob"}]},
                version=group["meta"]["version"],
            ),
            {"method": "DELETE", "path": f"/Users/{uuid.uuid4()}"},
        ),
    )
    assert [r["status"] for r in results] == ["201", "409", "200", "400", "412", "200", "404"]
    assert_failed(results[1], 409, "uniqueness")
    assert_failed(results[3], 400, "invalidValue")
    assert_failed(results[4], 412, None)
    bob_id = id_of(results[0])
    # The successes are applied; the failures left nothing.
    alice_now = body_of(scim.get(f"/Users/{alice['id']}"))
    assert alice_now["nickName"] == "al" and alice_now["userName"] == "alice@example.com"
    assert results[2]["version"] == alice_now["meta"]["version"] != alice["meta"]["version"]
    group_now = body_of(scim.get(f"/Groups/{group['id']}"))
    assert group_now["displayName"] == "Engineering"
    assert results[5]["version"] == group_now["meta"]["version"] == 'W/"2"'
    assert members_of(scim, group["id"]) == {alice["id"], bob_id}
    assert User.objects.count() == 2
    assert AuditEvent.objects.count() == events + 3


def test_each_applied_operation_is_audited_under_the_request(scim, token):
    alice = scim.create_user("alice@example.com")
    response = scim.post(
        "/Bulk",
        bulk(
            post_user("bob", "bob@example.com"),
            post_group("g", "Engineering", members=["bulkId:bob"]),
            patch_op(f"/Users/{alice['id']}", {"op": "replace", "path": "nickName", "value": "al"}),
            {
                "method": "PUT",
                "path": "/Groups/bulkId:g",
                "data": {"schemas": [CORE_GROUP], "displayName": "Eng", "members": []},
            },
            {"method": "DELETE", "path": f"/Users/{alice['id']}"},
            {"method": "DELETE", "path": f"/Users/{alice['id']}"},  # already gone: 404, no event
        ),
        headers={"X-Request-ID": "bulk-42"},
    )
    results = body_of(response)["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200", "200", "204", "404"]
    assert response["X-Request-ID"] == "bulk-42"
    events = list(
        AuditEvent.objects.filter(request_id="bulk-42")
        .order_by("pk")
        .values_list("action", "target_id", "actor_token_id", "actor_type")
    )
    bob_id, group_id = id_of(results[0]), id_of(results[1])
    assert [(action, target) for action, target, _, _ in events] == [
        ("user.created", bob_id),
        ("group.created", group_id),
        ("user.updated", alice["id"]),
        ("group.updated", group_id),
        ("user.deleted", alice["id"]),
        # The offboarding case the delete opens (lifecycle/), under the same request.
        ("offboarding.opened", alice["id"]),
        ("offboarding.review_requested", alice["id"]),
    ]
    assert {(t, a) for _, _, t, a in events} == {(token.pk, "token")}
    assert results[4]["location"] == results[5]["location"] == f"{ABSOLUTE_BASE}/Users/{alice['id']}"
    assert "version" not in results[4]


def test_another_tenants_resources_are_not_found(scim, other_scim):
    theirs = other_scim.create_user("theirs@example.com")
    their_group = other_scim.create_group("Theirs", members=[theirs["id"]])
    before = snapshot()
    results = run(
        scim,
        bulk(
            patch_op(f"/Users/{theirs['id']}", {"op": "replace", "path": "nickName", "value": "x"}),
            {
                "method": "PUT",
                "path": f"/Groups/{their_group['id']}",
                "data": {"schemas": [CORE_GROUP], "displayName": "Mine"},
            },
            {"method": "DELETE", "path": f"/Users/{theirs['id']}"},
            {"method": "DELETE", "path": f"/Groups/{their_group['id']}"},
            post_group("g", "Mine", members=[theirs["id"]]),
        ),
    )
    assert [r["status"] for r in results] == ["404", "404", "404", "404", "400"]
    assert snapshot() == before
    assert body_of(other_scim.get(f"/Users/{theirs['id']}"))["userName"] == "theirs@example.com"


def test_locations_follow_the_tenant_url_the_client_called(scim, tenant):
    results = run(scim.at(f"/scim/{tenant.slug}/v2"), bulk(post_user("a", "a@example.com")))
    assert results[0]["location"].startswith(f"http://testserver/scim/{tenant.slug}/v2/Users/")


def test_versions_act_as_if_match(scim):
    alice = scim.create_user("alice@example.com")
    path = f"/Users/{alice['id']}"
    rename = {"op": "replace", "path": "nickName", "value": "al"}
    results = run(
        scim,
        bulk(
            patch_op(path, rename, version='W/"1"'),
            patch_op(path, {**rename, "value": "ally"}, version='W/"1"'),  # stale now
            patch_op(path, {**rename, "value": "ali"}, version="*"),
            {"method": "DELETE", "path": path, "version": 'W/"2"'},
            {"method": "DELETE", "path": path, "version": 'W/"3"'},
        ),
    )
    assert [r["status"] for r in results] == ["200", "412", "200", "412", "204"]
    assert [r.get("version") for r in results[:3]] == ['W/"2"', None, 'W/"3"']
    assert all(r["location"] == f"{ABSOLUTE_BASE}{path}" for r in results)
    assert User.objects.get(pk=alice["id"]).state == UserState.DELETED


def test_a_failed_operation_is_rolled_back_whole(scim, tenant):
    """A PUT that fails after the handler has read the group changes nothing: not its name, not
    its members (the member check fails inside the service's transaction, within the savepoint)."""
    alice = scim.create_user("alice@example.com")
    group = scim.create_group("Engineering", members=[alice["id"]])
    before = snapshot()
    results = run(
        scim,
        bulk(
            {
                "method": "PUT",
                "path": f"/Groups/{group['id']}",
                "data": {
                    "schemas": [CORE_GROUP],
                    "displayName": "Renamed",
                    "members": [{"value": alice["id"]}, {"value": group["id"], "type": "Group"}],
                },
            }
        ),
    )
    assert_failed(results[0], 400, "invalidValue", "member of itself")
    assert snapshot() == before
    assert Membership.objects.filter(group_id=group["id"]).count() == 1


def test_an_unexpected_error_is_a_500_for_that_operation_only(scim, monkeypatch, caplog):
    handler = RESOURCES["Users"]
    create = handler.create

    def failing(tenant, actor, body):
        if body["userName"] == "boom@example.com":
            raise RuntimeError("a bug")
        return create(tenant, actor, body)

    monkeypatch.setattr(handler, "create", failing)
    results = run(
        scim,
        bulk(
            post_user("a", "a@example.com"),
            post_user("boom", "boom@example.com"),
            post_group("g", "Engineering", members=["bulkId:a", "bulkId:boom"]),
            post_user("c", "c@example.com"),
        ),
    )
    assert [r["status"] for r in results] == ["201", "500", "400", "201"]
    assert "a bug" not in results[1]["response"]["detail"]
    assert "Operations[1]" in caplog.text and "RuntimeError" in caplog.text
    assert set(User.objects.values_list("user_name", flat=True)) == {"a@example.com", "c@example.com"}


def test_a_thousand_user_creates_in_one_request(scim, record_property):
    operations = [post_user(f"u{n}", f"user{n:04}@example.com", displayName=f"User {n}") for n in range(1000)]
    started = time.perf_counter()
    results = run(scim, bulk(*operations))
    elapsed = time.perf_counter() - started
    record_property("bulk_1000_users_seconds", round(elapsed, 2))
    print(f"\n1,000-user bulk: {elapsed:.2f}s")
    assert len(results) == 1000
    assert {r["status"] for r in results} == {"201"}
    assert [r["bulkId"] for r in results] == [f"u{n}" for n in range(1000)]
    assert User.objects.count() == 1000
    assert len({id_of(r) for r in results}) == 1000
    assert AuditEvent.objects.filter(action="user.created").count() == 1000
    assert elapsed < 60, elapsed


@pytest.mark.django_db(transaction=True)
def test_operations_commit_in_batches_and_a_failure_undoes_only_itself(scim, monkeypatch):
    """Outside a test transaction, as in production: batches of two operations (so that failures
    fall inside batches and at their ends), each operation in its own savepoint. Every operation
    reported done is committed, every failed one left nothing, and the totals see them all."""
    monkeypatch.setattr("scim_api.bulk.BATCH_OPERATIONS", 2)
    names = ["a", "b", "a", "c", "d", "c", "e"]  # the second "a" and "c" are taken: 409
    results = run(scim, bulk(*(post_user(f"u{i}", f"{n}@example.com") for i, n in enumerate(names))))
    assert [r["status"] for r in results] == ["201", "201", "409", "201", "201", "409", "201"]
    assert sorted(User.objects.values_list("user_name", flat=True)) == [f"{n}@example.com" for n in "abcde"]
    assert AuditEvent.objects.filter(action="user.created").count() == 5
    assert body_of(scim.get("/Users?count=1"))["totalResults"] == 5


def test_passwords_set_in_bulk_are_argon2id_hashes(scim):
    """Okta's password sync sends a password with every create: each is stored as an Argon2id
    hash (directory/passwords.py), never as given."""
    results = run(
        scim, bulk(*(post_user(f"u{i}", f"u{i}@example.com", password=f"Pw-{i}-x") for i in range(20)))
    )
    assert {r["status"] for r in results} == {"201"}
    for i, user in enumerate(User.objects.order_by("user_name_key")):
        assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
        assert check_password(f"Pw-{int(user.user_name[1:].split('@')[0])}-x", user.password), i
