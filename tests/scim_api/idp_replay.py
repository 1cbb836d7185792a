"""Replaying identity providers' documented requests (tests/fixtures/idp/<vendor>/*.json, each
``{source, method, path, query, body, notes}``); reading back what they did is conftest's
``read``, ``version`` and ``member_ids``."""

import json
from pathlib import Path

from tests.scim_api.conftest import SCIM_JSON

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "idp"


def fixture(vendor: str, name: str) -> dict:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def replay(
    scim,
    name: str,
    ids: dict[str, str] | None = None,
    *,
    vendor: str,
    query: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = SCIM_JSON,
):
    """Send the fixture as documented, with each placeholder id of ``ids`` replaced by a real one.
    ``query`` replaces the documented query string (to send its on-the-wire encodings)."""
    request = fixture(vendor, name)

    def real(text: str) -> str:
        for placeholder, actual in (ids or {}).items():
            text = text.replace(placeholder, actual)
        return text

    path = real(request["path"])
    query = request["query"] if query is None else query
    if query:
        path = f"{path}?{real(query)}"
    raw = "" if request["body"] is None else real(json.dumps(request["body"]))
    return scim.request(request["method"], path, raw=raw, headers=headers, content_type=content_type)
