"""Extension schemas in the admin: declared and changed as a form and a table of attributes, or
imported from a schema document; downloaded, removed and purged. Every refusal shows on the page,
and a refused page stores nothing."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from directory.models import AuditEvent, ExtensionSchema, User
from directory.services.extensions import extension_schema_declare
from directory.services.users import user_create

ADD = "/admin/directory/extensionschema/add/"
IMPORT = "/admin/directory/extensionschema/import/"
URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DOCUMENT = {
    "id": URN,
    "name": "Acme",
    "attributes": [{"name": "costCode"}, {"name": "badge", "type": "integer", "uniqueness": "server"}],
}
ROW = {
    "name": "",
    "sub_attribute_of": "",
    "type": "string",
    "mutability": "readWrite",
    "returned": "default",
    "uniqueness": "none",
    "canonical": "",
    "references": "",
    "description": "",
}


def page(schema_fields: dict, rows: list[dict], initial: list[int] = ()) -> dict:
    """The POST of the add or change page: the schema's fields and the attributes table (``initial``:
    the ids of the rows already stored, in the order the page lists them)."""
    data = {
        **schema_fields,
        "attributes-TOTAL_FORMS": str(len(rows)),
        "attributes-INITIAL_FORMS": str(len(initial)),
        "attributes-MIN_NUM_FORMS": "0",
        "attributes-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in {**ROW, **row}.items():
            if value is True:
                data[f"attributes-{i}-{key}"] = "on"
            elif value is not False:
                data[f"attributes-{i}-{key}"] = value
        if i < len(initial):
            data[f"attributes-{i}-id"] = str(initial[i])
            data[f"attributes-{i}-schema"] = row.get("schema", "")
    return data


def errors_of(response) -> str:
    return response.content.decode()


def test_an_administrator_declares_a_schema_with_its_attributes(admin_client, tenant):
    assert admin_client.get(ADD).status_code == 200
    data = page(
        {"tenant": tenant.pk, "resource_type": "User", "urn": URN, "name": "Acme", "description": "Ours"},
        [
            {"name": "costCode"},
            {"name": "badge", "type": "integer", "uniqueness": "server"},
            {"name": "certs", "type": "complex", "multi_valued": True},
            {"name": "level", "sub_attribute_of": "CERTS", "type": "integer", "required": True},
            {"name": "kind", "sub_attribute_of": "certs", "canonical": "vendor, internal"},
        ],
    )
    response = admin_client.post(ADD, data, follow=True)
    assert response.status_code == 200
    assert f"Extension schema {URN}: declared; added: costCode, badge, certs." in response.content.decode()
    schema = ExtensionSchema.objects.get()
    assert (schema.tenant, schema.resource_type, schema.urn, schema.description) == (
        tenant,
        "User",
        URN,
        "Ours",
    )
    certs = schema.attributes.get(name="certs")
    assert [
        (s.name, s.type, s.required, s.canonical_values) for s in certs.sub_attributes.order_by("position")
    ] == [
        ("level", "integer", True, []),
        ("kind", "string", False, ["vendor", "internal"]),
    ]
    assert AuditEvent.objects.get(action="extension_schema.declared").actor_type == "admin"
    page_text = admin_client.get(f"/admin/directory/extensionschema/{schema.pk}/change/").content.decode()
    assert 'value="certs"' in page_text and 'value="vendor, internal"' in page_text


def test_every_problem_shows_on_the_page_and_nothing_is_stored(admin_client, tenant):
    fields = {
        "tenant": tenant.pk,
        "resource_type": "User",
        "urn": "urn:ietf:params:scim:schemas:core:2.0:User",
    }
    rows = [
        {"name": "1x"},
        {"name": "b", "uniqueness": "global"},
        {"name": "s", "sub_attribute_of": "nosuch"},
    ]
    response = admin_client.post(ADD, page(fields, rows))
    assert response.status_code == 200
    assert "not an attribute of this schema" in errors_of(response)
    response = admin_client.post(ADD, page(fields, rows[:2]))
    text = errors_of(response)
    assert "RFC 7643 and RFC 7644 define" in text and "must start with a letter" in text and "global" in text
    assert not ExtensionSchema.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="extension").exists()


def test_a_change_the_stored_values_violate_is_refused_on_the_page(admin_client, tenant, system_actor):
    extension_schema_declare(tenant=tenant, actor=system_actor, document=DOCUMENT, resource_type="User")
    schema = ExtensionSchema.objects.get()
    ids = list(schema.attributes.order_by("position").values_list("pk", flat=True))
    user = user_create(
        tenant=tenant,
        actor=system_actor,
        fields={"user_name": "ann", "extensions": {URN: {"costCode": "A-1"}}},
    )
    url = f"/admin/directory/extensionschema/{schema.pk}/change/"
    assert admin_client.get(url).status_code == 200
    fields = {"name": "Acme", "description": ""}
    rows = [
        {"name": "costCode", "type": "integer"},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
    ]
    response = admin_client.post(url, page(fields, rows, ids))
    assert response.status_code == 200
    assert "1 users hold values of costCode" in errors_of(response)
    assert schema.attributes.get(name="costCode").type == "string"
    # Deleting a row removes the attribute; its values stay until purged.
    rows = [
        {"name": "costCode", "DELETE": True},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
    ]
    response = admin_client.post(url, page(fields, rows, ids), follow=True)
    assert "removed (values kept until purged): costCode" in response.content.decode()
    assert User.objects.get(pk=user.pk).extensions == {URN: {"costCode": "A-1"}}
    assert schema.attributes.get(name="costCode").removed_at is not None


def test_adding_a_urn_already_declared_is_refused(admin_client, tenant, system_actor):
    extension_schema_declare(tenant=tenant, actor=system_actor, document=DOCUMENT, resource_type="User")
    fields = {"tenant": tenant.pk, "resource_type": "User", "urn": URN.upper()}
    response = admin_client.post(ADD, page(fields, [{"name": "x"}]))
    assert "change it on its page" in errors_of(response)


def test_a_document_is_imported_typed_or_uploaded(admin_client, tenant):
    assert admin_client.get(IMPORT).status_code == 200
    response = admin_client.post(
        IMPORT, {"tenant": tenant.pk, "resource_type": "User", "document": "{not json"}
    )
    assert "The schema document is not JSON" in errors_of(response)
    upload = SimpleUploadedFile("schema.json", json.dumps(DOCUMENT).encode(), content_type="application/json")
    form = {"tenant": tenant.pk, "resource_type": "User", "document": "", "upload": upload}
    response = admin_client.post(IMPORT, form, follow=True)
    schema = ExtensionSchema.objects.get()
    assert response.redirect_chain[-1][0] == f"/admin/directory/extensionschema/{schema.pk}/change/"
    assert f"Extension schema {URN}: declared; added: costCode, badge." in response.content.decode()
    bad = {**DOCUMENT, "attributes": [{"name": "costCode", "type": "text"}]}
    response = admin_client.post(
        IMPORT, {"tenant": tenant.pk, "resource_type": "User", "document": json.dumps(bad)}
    )
    assert "type must be one of" in errors_of(response)


def test_download_remove_and_purge(admin_client, tenant, system_actor):
    extension_schema_declare(tenant=tenant, actor=system_actor, document=DOCUMENT, resource_type="User")
    schema = ExtensionSchema.objects.get()
    user = user_create(
        tenant=tenant,
        actor=system_actor,
        fields={"user_name": "ann", "extensions": {URN: {"costCode": "A-1"}}},
    )
    download = admin_client.get(f"/admin/directory/extensionschema/{schema.pk}/document/")
    assert download.status_code == 200
    assert json.loads(download.content)["id"] == URN
    assert "attachment" in download["Content-Disposition"]
    listing = "/admin/directory/extensionschema/"
    assert "Import a schema document" in admin_client.get(listing).content.decode()
    admin_client.post(listing, {"action": "remove", "_selected_action": [schema.pk]})
    schema.refresh_from_db()
    assert schema.removed_at is not None
    assert User.objects.get(pk=user.pk).extensions == {URN: {"costCode": "A-1"}}
    response = admin_client.post(listing, {"action": "purge", "_selected_action": [schema.pk]}, follow=True)
    assert f"Purged {URN} from 1 resource(s)." in response.content.decode()
    assert User.objects.get(pk=user.pk).extensions == {}
    assert not ExtensionSchema.objects.exists()
