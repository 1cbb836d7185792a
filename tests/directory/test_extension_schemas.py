"""Declaring a tenant's extension schemas (RFC 7643 section 7 documents), and changing them safely
over values already stored: checked, converted or refused with counts, removed but kept, purged."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from directory.errors import DoesNotExist
from directory.extension_declarations import DeclarationError, declaration_from_document, schema_document
from directory.models import AuditEvent, ExtensionSchema, User, UserExtensionValue
from directory.services.extensions import (
    extension_schema_declare,
    extension_schema_remove,
    extension_values_purge,
)
from directory.services.users import user_create, user_delete

URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


def schema(*attributes, urn=URN):
    return {"id": urn, "name": "Acme", "attributes": list(attributes)}


def declare(tenant, actor, document, resource_type="User", **kwargs):
    return extension_schema_declare(
        tenant=tenant, actor=actor, document=document, resource_type=resource_type, **kwargs
    )


def problems(document) -> str:
    with pytest.raises(DeclarationError) as raised:
        declaration_from_document(document)
    return " | ".join(raised.value.problems)


# --- what RFC 7643 allows --------------------------------------------------------------------------


def test_the_canonical_form_has_the_section_2_2_defaults():
    declared = declaration_from_document(
        {"ID": URN, "Attributes": [{"NAME": "costCode"}, {"name": "secret", "mutability": "writeOnly"}]}
    )
    cost, secret = declared["attributes"]
    assert cost == {
        "name": "costCode",
        "type": "string",
        "multiValued": False,
        "description": "",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        "canonicalValues": [],
        "referenceTypes": [],
        "subAttributes": [],
    }
    assert secret["returned"] == "never"  # writeOnly values are never returned


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("not an object", "must be a JSON object"),
        ({"attributes": [{"name": "a"}]}, '"id" must be the schema'),
        (schema({"name": "a"}, urn="acme-user"), "is not a URN"),
        (
            schema({"name": "a"}, urn="urn:ietf:params:scim:schemas:core:2.0:User"),
            "RFC 7643 and RFC 7644 define",
        ),
        (schema({"name": "a"}, urn="urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), "define"),
        (schema({"name": "a"}, urn="urn:ietf:params:scim:api"), "define"),  # a prefix of theirs
        (schema({"name": "a"}, urn="urn:ietf:params:scim:schemas:core"), "define"),
        (schema({"name": "a"}, urn="urn:ietf:params:scim:schemas:extension:enterprise"), "define"),
        (
            schema(
                {"name": "a", "type": "complex", "subAttributes": [{"name": "s", "mutability": "writeOnly"}]}
            ),
            "per attribute, not per sub-attribute",
        ),
        ({"id": URN, "attributes": []}, "non-empty list"),
        (schema({"name": "1st"}), "must start with a letter"),
        (schema({"name": "cost code"}), "must start with a letter"),
        (schema({"name": "a"}, {"name": "A"}), "declared twice"),
        (schema({"name": "a", "type": "text"}), "type must be one of"),
        (schema({"name": "a", "type": "complex"}), "needs subAttributes"),
        (schema({"name": "a", "subAttributes": [{"name": "b"}]}), "only a complex attribute"),
        (
            schema({"name": "a", "type": "complex", "subAttributes": [{"name": "b", "type": "complex"}]}),
            "cannot be complex",
        ),
        (schema({"name": "a", "uniqueness": "global"}), "global is not supported"),
        (schema({"name": "a", "type": "boolean", "uniqueness": "server"}), "uniqueness server is supported"),
        (schema({"name": "a", "mutability": "writeOnly", "returned": "always"}), "writeOnly"),
        (schema({"name": "a", "mutability": "readOnly", "required": True}), "cannot be required"),
        (schema({"name": "a", "type": "binary", "caseExact": False}), "case exact"),
        (schema({"name": "a", "type": "reference"}), "needs referenceTypes"),
        (
            schema({"name": "a", "type": "reference", "referenceTypes": ["Printer"]}),
            "referenceTypes may hold",
        ),
        (schema({"name": "a", "referenceTypes": ["external"]}), "only a reference"),
        (schema({"name": "a", "type": "integer", "canonicalValues": ["1"]}), "canonicalValues apply"),
        (schema({"name": "a", "canonicalValues": ["x", "X"]}), "repeat"),
        (schema({"name": "a", "required": "yes"}), "required must be true or false"),
        (schema({"name": "a", "colour": "red"}), "unknown characteristic(s) colour"),
    ],
)
def test_what_rfc_7643_does_not_allow_is_refused(document, expected):
    assert expected in problems(document)


def test_every_problem_is_named_at_once():
    found = problems(
        schema({"name": "1"}, {"name": "b", "type": "nope"}, {"name": "c", "uniqueness": "global"})
    )
    assert "must start with a letter" in found and "type must be one of" in found and "global" in found


def test_urns_that_would_make_paths_ambiguous_are_refused(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "a"}))
    with pytest.raises(DeclarationError, match="ambiguous"):
        declare(tenant, system_actor, schema({"name": "b"}, urn=f"{URN}:More"))
    with pytest.raises(DeclarationError, match="extends Users"):
        declare(tenant, system_actor, schema({"name": "a"}), resource_type="Group")


# --- declaring, and the audit trail ----------------------------------------------------------------


def test_a_declaration_is_audited_and_the_same_document_again_changes_nothing(tenant, system_actor):
    outcome = declare(tenant, system_actor, schema({"name": "costCode"}))
    assert outcome.created and outcome.added == ["costCode"]
    stamp = tenant.extensions_stamp
    assert stamp is not None
    event = AuditEvent.objects.get(action="extension_schema.declared")
    assert event.target_label == URN and event.changes["added"] == ["costCode"]
    again = declare(tenant, system_actor, schema({"name": "COSTCODE"}))  # names ignore case
    assert not again.changes_anything
    assert tenant.extensions_stamp == stamp
    assert AuditEvent.objects.filter(action__startswith="extension_schema").count() == 1
    stored = ExtensionSchema.objects.get()
    assert schema_document(stored)["attributes"][0]["name"] == "costCode"  # the first spelling stays


def test_another_tenant_declares_its_own(tenant, other_tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "costCode"}))
    declare(other_tenant, system_actor, schema({"name": "region", "type": "integer"}))
    assert ExtensionSchema.objects.filter(urn=URN).count() == 2


# --- changing a declaration over stored values ------------------------------------------------------


def _user(tenant, actor, name, **values):
    return user_create(tenant=tenant, actor=actor, fields={"user_name": name, "extensions": {URN: values}})


def test_a_type_change_that_stored_values_violate_is_refused_with_a_count(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "code"}))
    for i in range(4):
        _user(tenant, system_actor, f"u{i}", code=str(i))
    _user(tenant, system_actor, "x1", code="A-1")
    _user(tenant, system_actor, "x2", code="B-2")
    with pytest.raises(DeclarationError) as raised:
        declare(tenant, system_actor, schema({"name": "code", "type": "integer"}))
    (problem,) = raised.value.problems
    assert problem.startswith("2 users hold values of code that the new declaration (type integer) does not")
    assert "'x1' 'A-1' is not a number" in problem
    assert ExtensionSchema.objects.get().attributes.get().type == "string"  # nothing changed


def test_a_type_change_the_values_fit_converts_them(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "code"}, {"name": "tags"}))
    user = _user(tenant, system_actor, "ann", code="12", tags="red")
    version = User.objects.get(pk=user.pk).version
    outcome = declare(
        tenant,
        system_actor,
        schema({"name": "code", "type": "integer"}, {"name": "tags", "multiValued": True}),
    )
    assert outcome.changed == ["code", "tags"] and outcome.converted == 1
    stored = User.objects.get(pk=user.pk)
    assert stored.extensions[URN] == {"code": 12, "tags": ["red"]}
    assert stored.version == version + 1  # what the user shows changed: a new ETag
    row = UserExtensionValue.objects.get(owner=user, attribute__name="code")
    assert row.number == 12 and row.key is None
    event = AuditEvent.objects.filter(action="extension_schema.changed").get()
    assert event.changes["changed"]["code"] == {"before": {"type": "string"}, "after": {"type": "integer"}}
    assert event.changes["converted"] == 1


def test_uniqueness_that_stored_values_break_is_refused(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "badge"}))
    _user(tenant, system_actor, "ann", badge="B1")
    _user(tenant, system_actor, "ben", badge="b1")  # case-insensitive: the same
    deleted = _user(tenant, system_actor, "cid", badge="B2")
    _user(tenant, system_actor, "dan", badge="B2")
    user_delete(tenant=tenant, actor=system_actor, user_id=deleted.pk)  # a hidden user holds nothing
    with pytest.raises(
        DeclarationError, match=r"1 pair\(s\) of users share values of badge.*'ann' and 'ben'"
    ):
        declare(tenant, system_actor, schema({"name": "badge", "uniqueness": "server"}))


def test_removed_attributes_keep_their_values_until_purged(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "code"}, {"name": "region"}))
    user = _user(tenant, system_actor, "ann", code="C1", region="eu")
    outcome = declare(tenant, system_actor, schema({"name": "code"}))
    assert outcome.removed == ["region"]
    assert User.objects.get(pk=user.pk).extensions[URN] == {"code": "C1", "region": "eu"}
    restored = declare(tenant, system_actor, schema({"name": "code"}, {"name": "region"}))
    assert restored.restored == ["region"]
    assert UserExtensionValue.objects.filter(owner=user, attribute__name="region").count() == 1

    declare(tenant, system_actor, schema({"name": "code"}))
    out = StringIO()
    call_command("purge_extension_values", "acme", "--yes", stdout=out)
    assert f"{URN}:region: purged from 1 resource(s)." in out.getvalue()
    assert User.objects.get(pk=user.pk).extensions[URN] == {"code": "C1"}
    assert not ExtensionSchema.objects.get().attributes.filter(name="region").exists()
    assert AuditEvent.objects.filter(action="extension_values.purged").count() == 1


def test_a_removed_schema_keeps_its_values_and_comes_back(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "code"}))
    user = _user(tenant, system_actor, "ann", code="C1")
    extension_schema_remove(tenant=tenant, actor=system_actor, urn=URN.upper())
    assert User.objects.get(pk=user.pk).extensions == {URN: {"code": "C1"}}
    outcome = declare(tenant, system_actor, schema({"name": "code"}))
    assert outcome.settings == {"removed": {"before": True, "after": False}}
    extension_schema_remove(tenant=tenant, actor=system_actor, urn=URN)
    assert extension_values_purge(tenant=tenant, actor=system_actor) == {URN: 1}
    assert User.objects.get(pk=user.pk).extensions == {}
    assert not ExtensionSchema.objects.exists()


def test_a_required_attribute_added_over_users_without_it_warns(tenant, system_actor):
    declare(tenant, system_actor, schema({"name": "code"}))
    _user(tenant, system_actor, "ann", code="C1")
    user_create(tenant=tenant, actor=system_actor, fields={"user_name": "ben"})
    outcome = declare(tenant, system_actor, schema({"name": "code", "required": True}))
    assert outcome.warnings == [
        "1 users have no code, now required: their next PUT or PATCH without it is refused."
    ]


# --- the commands -----------------------------------------------------------------------------------


def test_load_schema_reads_a_document_a_list_or_a_list_response(tenant, tmp_path):
    path = tmp_path / "schema.json"
    listed = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "Resources": [
            {"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []},
            schema({"name": "code"}),
        ],
    }
    path.write_text(json.dumps(listed))
    out = StringIO()
    call_command("load_schema", "acme", str(path), stdout=out)
    assert "urn:ietf:params:scim:schemas:core:2.0:User: skipped (RFC 7643 defines it)." in out.getvalue()
    assert f"{URN}: declared; added: code." in out.getvalue()
    path.write_text(json.dumps(schema({"name": "code", "type": "integer"}, {"name": "x"})))
    out = StringIO()
    call_command("load_schema", "acme", str(path), "--dry-run", stdout=out)
    assert out.getvalue().startswith("Would be: ")
    assert ExtensionSchema.objects.get().attributes.count() == 1


def test_load_schema_says_what_is_wrong_and_changes_nothing(tenant, tmp_path):
    path = tmp_path / "schema.json"
    for text, expected in [
        ("{not json", "is not JSON"),
        (json.dumps(schema({"name": "a"}, urn="urn:acme:things")), "give --resource-type"),
    ]:
        path.write_text(text)
        with pytest.raises(CommandError, match=expected):
            call_command("load_schema", "acme", str(path), stdout=StringIO(), stderr=StringIO())
    path.write_text(json.dumps(schema({"name": "a", "type": "text"})))
    err = StringIO()
    with pytest.raises(CommandError, match="refused"):
        call_command("load_schema", "acme", str(path), stdout=StringIO(), stderr=err)
    assert "type must be one of" in err.getvalue()
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("load_schema", "nope", str(path))
    assert not ExtensionSchema.objects.exists()


# --- the host application's reads -------------------------------------------------------------------


def test_the_host_application_reads_extension_values_through_selectors(tenant, system_actor):
    from directory.selectors import extension_values, users_with_extension_value

    declare(
        tenant,
        system_actor,
        schema(
            {"name": "code"}, {"name": "pin", "mutability": "writeOnly"}, {"name": "badge", "type": "integer"}
        ),
    )
    ann = _user(tenant, system_actor, "ann", code="Sales", pin="1234", badge=7)
    _user(tenant, system_actor, "ben", code="Ops", badge=8)
    assert extension_values(tenant=tenant, resource=User.objects.get(pk=ann.pk)) == {
        URN: {"code": "Sales", "pin": "1234", "badge": 7}
    }
    assert [
        u.user_name
        for u in users_with_extension_value(tenant=tenant, urn=URN, attribute="code", value="SALES")
    ] == ["ann"]
    assert [
        u.user_name
        for u in users_with_extension_value(tenant=tenant, urn=URN.upper(), attribute="badge", value=8)
    ] == ["ben"]
    declare(tenant, system_actor, schema({"name": "badge", "type": "integer"}))  # code and pin removed
    assert extension_values(tenant=tenant, resource=User.objects.get(pk=ann.pk)) == {URN: {"badge": 7}}
    with pytest.raises(DoesNotExist):
        users_with_extension_value(tenant=tenant, urn=URN, attribute="code", value="x")


def test_a_conversion_costs_queries_per_batch_not_per_user(tenant, system_actor):
    """Converting stored values runs under the tenant's schema lock, which holds its writes: the
    number of queries does not grow with the users converted."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(users: int, urn: str) -> int:
        certs = {
            "name": "certs",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [{"name": "level"}],
        }
        declare(tenant, system_actor, schema(certs, urn=urn))
        for i in range(users):
            values = {urn: {"certs": [{"level": "1"}, {"level": "2"}]}}
            user_create(
                tenant=tenant,
                actor=system_actor,
                fields={"user_name": f"{urn[9:13]}{i}", "extensions": values},
            )
        changed = {**certs, "subAttributes": [{"name": "level", "type": "integer"}]}
        with CaptureQueriesContext(connection) as captured:
            outcome = declare(tenant, system_actor, schema(changed, urn=urn))
        assert outcome.converted == users
        return len(captured)

    assert queries(5, "urn:acme:few:2.0:User") == queries(40, "urn:acme:many:2.0:User")
