"""The resource-type bindings (scim_api/bindings.py) agree with the registry and the models, and are
the only place outside the registry that knows a resource type by name."""

import ast
from pathlib import Path

import pytest
from django.urls import resolve

from directory.models import Membership, User
from scim_api import bulk
from scim_api.bindings import BINDINGS, BY_ENDPOINT, Identity, MemberOf, Members, Metadata, Reference
from scim_api.resources import RESOURCES
from scim_api.schema import COMMON

SCIM_API = Path(__file__).resolve().parents[2] / "scim_api"
# The registry and the bindings declare the types; openapi.py only describes them in prose.
DECLARING = {"schema.py", "bindings.py", "schema_definitions.py"}
TYPE_NAMES = {name for b in BINDINGS.values() for name in (b.name, b.endpoint)}


def _stored(binding):
    for schema in (COMMON, *binding.resource_type.schemas):
        for attribute in schema.attributes:
            yield attribute
            yield from attribute.sub_attributes


@pytest.mark.parametrize("binding", BINDINGS.values(), ids=lambda b: b.name)
def test_every_field_the_registry_names_is_a_column_of_the_bound_model(binding):
    columns = {f.attname for f in binding.model._meta.concrete_fields} | {"pk"}
    named = {a.field for a in _stored(binding) if a.field}
    assert named <= columns, named - columns
    assert set(binding.key_columns) <= columns
    assert set(binding.key_columns.values()) <= columns
    assert binding.kept_when_omitted <= named


@pytest.mark.parametrize("binding", BINDINGS.values(), ids=lambda b: b.name)
def test_every_attribute_is_stored_or_resolved_and_every_resolver_names_an_attribute(binding):
    attributes = {a.name: a for schema in (COMMON, *binding.resource_type.schemas) for a in schema.attributes}
    unaccounted = [
        name
        for name, a in attributes.items()
        if not a.field and not any(s.field for s in a.sub_attributes) and name not in binding.derived
    ]
    assert unaccounted == []
    assert set(binding.derived) <= set(attributes)
    assert isinstance(binding.derived["id"], Identity)
    assert isinstance(binding.derived["meta"], Metadata)


def test_the_user_models_value_declarations_agree_with_the_registry():
    user = BINDINGS["User"]
    multi = {a.field: a for a in user.resource_type.schema.attributes if a.multi_valued and a.field}
    assert set(multi) == set(User.MULTI_VALUED_FIELDS)
    case_exact = {field for field, a in multi.items() if a.sub("value") and a.sub("value").case_exact}
    assert case_exact == User.CASE_EXACT_VALUES
    assert user.values is not None and user.values.owner == "user"


def test_each_key_column_keys_a_case_insensitive_attribute():
    for binding in BINDINGS.values():
        by_field = {a.field: a for a in _stored(binding) if a.field}
        for field in binding.key_columns:
            assert not by_field[field].case_exact, (binding.name, field)


def test_resolvers_point_at_bound_types_and_membership_columns():
    membership_fields = {f.name: f for f in Membership._meta.concrete_fields}
    for binding in BINDINGS.values():
        for resolver in binding.derived.values():
            if isinstance(resolver, Reference):
                assert resolver.target in BINDINGS
                assert binding.model._meta.get_field(resolver.field).related_model is (
                    BINDINGS[resolver.target].model
                )
            if isinstance(resolver, Members):
                for type_name, column in resolver.columns.items():
                    assert membership_fields[column].related_model is BINDINGS[type_name].model
            if isinstance(resolver, MemberOf):
                assert membership_fields[resolver.column].related_model is binding.model


@pytest.mark.parametrize("endpoint", BY_ENDPOINT)
def test_each_bound_endpoint_has_its_routes_handler_and_bulk_path(endpoint):
    assert RESOURCES[endpoint].binding is BY_ENDPOINT[endpoint]
    for path in (f"/scim/v2/{endpoint}", f"/scim/v2/{endpoint}/.search", f"/scim/acme/v2/{endpoint}/x"):
        assert resolve(path).func.view_initkwargs["resource"] == endpoint
    assert bulk._PATH.match(f"/{endpoint}/abc")["endpoint"] == endpoint


def _names_tested(path: Path) -> list[str]:
    """Places in ``path`` that compare something with a resource type's name or endpoint."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and side.value in TYPE_NAMES:
                    found.append(f"{path.name}:{node.lineno}")
    return found


def test_nothing_outside_the_registry_and_the_bindings_tests_a_resource_types_name():
    modules = [p for p in SCIM_API.rglob("*.py") if p.name not in DECLARING]
    assert modules
    assert [hit for p in modules for hit in _names_tested(p)] == []


def test_the_scan_finds_a_name_test(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('if resource_type.name == "Group":\n    pass\n')
    assert _names_tested(probe) == ["probe.py:1"]
