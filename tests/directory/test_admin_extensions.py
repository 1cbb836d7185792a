"""Extension schemas in the admin: declared, changed, downloaded, removed and purged through the
service, every refusal shown on the page, nothing changed by a refused form."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from directory.models import AuditEvent, ExtensionSchema, User
from directory.services.extensions import extension_schema_declare
from directory.services.users import user_create

ADD = "/admin/directory/extensionschema/add/"
URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DOCUMENT = {
    "id": URN,
    "name": "Acme",
    "attributes": [{"name": "costCode"}, {"name": "badge", "type": "integer", "uniqueness": "server"}],
}


def _form(tenant, document, **extra):
    return {"tenant": tenant.pk, "resource_type": "User", "document": json.dumps(document), **extra}


def test_an_administrator_declares_a_schema(admin_client, tenant):
    page = admin_client.get(ADD)
    assert page.status_code == 200
    assert "urn:ietf:params:scim:schemas:extension:acme:2.0:User" in page.content.decode()  # the example
    response = admin_client.post(ADD, _form(tenant, DOCUMENT), follow=True)
    assert response.status_code == 200
    schema = ExtensionSchema.objects.get()
    assert (schema.tenant, schema.resource_type, schema.urn) == (tenant, "User", URN)
    assert [a.name for a in schema.attributes.order_by("position")] == ["costCode", "badge"]
    assert f"Extension schema {URN}: declared; added: costCode, badge." in response.content.decode()
    event = AuditEvent.objects.get(action="extension_schema.declared")
    assert event.actor_type == "admin"


def test_an_upload_replaces_the_text(admin_client, tenant):
    upload = SimpleUploadedFile("schema.json", json.dumps(DOCUMENT).encode(), content_type="application/json")
    response = admin_client.post(ADD, {**_form(tenant, {"not": "used"}), "upload": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ExtensionSchema.objects.get().urn == URN


def test_every_problem_shows_on_the_page_and_nothing_is_stored(admin_client, tenant):
    response = admin_client.post(ADD, {**_form(tenant, {}), "document": "{not json"})
    assert response.status_code == 200
    assert "The schema document is not JSON" in response.content.decode()
    bad = {"id": URN, "attributes": [{"name": "1x"}, {"name": "b", "uniqueness": "global"}]}
    response = admin_client.post(ADD, _form(tenant, bad))
    text = response.content.decode()
    assert response.status_code == 200
    assert "must start with a letter" in text and "global is not supported" in text
    assert not ExtensionSchema.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="extension").exists()


def test_a_change_the_stored_values_violate_is_refused_on_the_page(admin_client, tenant, system_actor):
    extension_schema_declare(tenant=tenant, actor=system_actor, document=DOCUMENT, resource_type="User")
    schema = ExtensionSchema.objects.get()
    user_create(
        tenant=tenant,
        actor=system_actor,
        fields={"user_name": "ann", "extensions": {URN: {"costCode": "A-1"}}},
    )
    url = f"/admin/directory/extensionschema/{schema.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert (
        json.loads(page.context["adminform"].form.initial["document"])["attributes"][0]["name"] == "costCode"
    )
    changed = {**DOCUMENT, "attributes": [{"name": "costCode", "type": "integer"}]}
    response = admin_client.post(url, {"required": "", "document": json.dumps(changed)})
    assert response.status_code == 200
    assert "1 users hold values of costCode" in response.content.decode()
    assert schema.attributes.get(name="costCode").type == "string"
    renamed = {**DOCUMENT, "id": "urn:ietf:params:scim:schemas:extension:other:2.0:User"}
    response = admin_client.post(url, {"required": "", "document": json.dumps(renamed)})
    assert "The id is the schema&#x27;s identity" in response.content.decode()


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
    admin_client.post(listing, {"action": "remove", "_selected_action": [schema.pk]})
    schema.refresh_from_db()
    assert schema.removed_at is not None
    assert User.objects.get(pk=user.pk).extensions == {URN: {"costCode": "A-1"}}
    response = admin_client.post(listing, {"action": "purge", "_selected_action": [schema.pk]}, follow=True)
    assert f"Purged {URN} from 1 resource(s)." in response.content.decode()
    assert User.objects.get(pk=user.pk).extensions == {}
    assert not ExtensionSchema.objects.exists()
