"""One log record per request, with its request id and caller, never a credential; as JSON with
LOG_FORMAT=json (python-json-logger)."""

import json
import logging

from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from directory.services.tokens import token_create


def formatter(name: str) -> logging.Formatter:
    options = dict(settings.LOGGING["formatters"][name])
    factory = import_string(options.pop("()")) if "()" in options else logging.Formatter
    return factory(**{("fmt" if k == "format" else k): v for k, v in options.items()})


def test_a_scim_request_is_one_record_naming_its_token_not_its_secret(tenant, system_actor, caplog):
    _, plaintext = token_create(tenant=tenant, name="okta", actor=system_actor)
    scim = Client(headers={"Authorization": f"Bearer {plaintext}", "X-Request-ID": "req-42"})
    with caplog.at_level(logging.INFO, logger="roster.requests"):
        assert scim.get("/scim/v2/Users?filter=userName%20eq%20%22ann%40x.example%22").status_code == 200
    [record] = [r for r in caplog.records if r.name == "roster.requests"]
    assert (record.method, record.path, record.status, record.request_id) == (
        "GET",
        "/scim/v2/Users",
        200,
        "req-42",
    )
    assert (record.tenant, record.token) == ("acme", "okta") and record.ms >= 0
    line = json.loads(formatter("json").format(record))
    assert line["level"] == "INFO" and line["logger"] == "roster.requests" and line["request_id"] == "req-42"
    assert plaintext not in json.dumps(line) and "ann" not in json.dumps(line)  # no secret, no query


def test_a_refused_request_and_a_page_are_logged_too(admin_client, caplog):
    with caplog.at_level(logging.INFO, logger="roster.requests"):
        assert Client().get("/scim/v2/Users").status_code == 401
        assert admin_client.get("/admin/").status_code == 200
    records = [r for r in caplog.records if r.name == "roster.requests"]
    assert [(r.path, r.status) for r in records] == [("/scim/v2/Users", 401), ("/admin/", 200)]
    assert not hasattr(records[0], "token") and records[1].user == "admin"
