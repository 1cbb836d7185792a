"""A user is rendered from what a write holds (a model instance) and from what a read holds (a row
of directory/db/rows.py, with JSON and times as text on PostgreSQL): the two documents are the same,
for every projection, so a client sees one user whichever way it reached it."""

import json
from pathlib import Path

import orjson
import pytest

from directory.models import User
from scim_api.projection import Projection
from scim_api.renderers import ScimJSONRenderer
from scim_api.resources import RESOURCES
from tests.scim_api.conftest import ABSOLUTE_BASE, ENTERPRISE, body_of

RFC = Path(__file__).resolve().parents[1] / "fixtures" / "rfc"
USERS = RESOURCES["Users"]


def create_enterprise_user(scim) -> dict:
    """RFC 7643 section 8.3's enterprise user, with a manager."""
    manager = scim.create_user("boss@example.com", displayName="The Boss")
    body = json.loads((RFC / "rfc7643-8.3-enterprise-user.json").read_text())
    for key in ("id", "meta", "groups"):
        body.pop(key, None)
    body[ENTERPRISE]["manager"] = {"value": manager["id"]}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return body_of(response)


@pytest.fixture
def full_user(scim):
    """The enterprise user, in a group that sits in another, and in one more."""
    user = create_enterprise_user(scim)
    team = scim.create_group("Team", members=[user["id"]])
    scim.create_group("Department", members=[team["id"]])
    scim.create_group("Émigrés", members=[user["id"]])
    return user


def rendered(tenant, user, projection: Projection) -> dict:
    document = USERS.render(tenant, user, projection, ABSOLUTE_BASE)
    return json.loads(ScimJSONRenderer().render(document))


@pytest.mark.parametrize(
    ("attributes", "excluded"),
    [
        (None, None),
        ("emails.value,name.givenName,groups", None),
        (None, "groups,addresses.streetAddress"),
        (ENTERPRISE, None),
        ("manager", "emails"),
    ],
)
def test_a_user_renders_the_same_from_a_row_and_from_an_instance(tenant, full_user, attributes, excluded):
    projection = Projection.from_params(USERS.resource_type, attributes, excluded)
    row = USERS.get(tenant, full_user["id"], projection)
    instance = User.objects.get(pk=full_user["id"])
    from_row, from_instance = rendered(tenant, row, projection), rendered(tenant, instance, projection)
    assert from_row == from_instance
    if attributes is None and excluded is None:
        assert {g["display"]: g["type"] for g in from_row["groups"]} == {
            "Team": "direct",
            "Émigrés": "direct",
            "Department": "indirect",
        }
        assert from_row[ENTERPRISE]["manager"]["displayName"] == "The Boss"
        assert from_row["meta"]["created"] == full_user["meta"]["created"]


def test_a_read_renders_what_the_write_returned(scim):
    """Create and PATCH (rendered from what was written) and GET (from a row): the same document."""
    created = create_enterprise_user(scim)
    assert body_of(scim.get(f"/Users/{created['id']}")) == created
    response = scim.patch_ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "Chief"})
    assert response.status_code == 200
    assert body_of(scim.get(f"/Users/{created['id']}")) == body_of(response)


def test_json_a_row_carries_is_sent_as_it_is_unless_the_projection_looks_inside(tenant, full_user):
    projection = Projection.from_params(USERS.resource_type, None, None)
    row = USERS.get(tenant, full_user["id"], projection)
    document = USERS.render(tenant, row, projection, ABSOLUTE_BASE)
    assert isinstance(document["emails"], orjson.Fragment)
    narrowed = Projection.from_params(USERS.resource_type, "emails.value", None)
    document = USERS.render(tenant, USERS.get(tenant, full_user["id"], narrowed), narrowed, ABSOLUTE_BASE)
    assert document["emails"] == [{"value": e["value"]} for e in full_user["emails"]]
