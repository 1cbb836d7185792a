"""The administrators' view of the directory (a first, plain version).

Users, groups and memberships belong to the identity provider, which writes them through SCIM;
here they are read-only so that no edit bypasses the services, the version counter or the audit
trail. Tokens are issued here and revoked by an action. A new token's plaintext is shown once, on
the page that answers the POST issuing it: never in a message (Django keeps those in a cookie or
the session, signed but readable, and the browser sends them back), nor anywhere else.
"""

import json

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_variables

from directory.extension_declarations import DeclarationError, schema_document
from directory.lockouts import unlocking_as
from directory.models import (
    AuditEvent,
    ExtensionSchema,
    Group,
    Membership,
    ScimToken,
    Tenant,
    User,
    UserValue,
    WorkerHeartbeat,
)
from directory.services.audit import Actor
from directory.services.extensions import (
    DeclarationOutcome,
    extension_schema_declare,
    extension_schema_remove,
    extension_values_purge,
)
from directory.services.tenants import tenant_create, tenant_update
from directory.services.tokens import token_create, token_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_active", "offboarding_policy", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["is_active", "offboarding_policy"]

    def has_delete_permission(self, request, obj=None):
        return False  # a tenant's data is kept; deactivate it instead

    def save_model(self, request, obj, form, change):
        actor = Actor.for_admin(request.user)
        if change:
            tenant_update(tenant=obj, actor=actor, **{f: form.cleaned_data[f] for f in form.changed_data})
        else:
            values = {f: v for f, v in form.cleaned_data.items() if f != "slug"}
            obj.pk = tenant_create(slug=obj.slug, actor=actor, **values).pk


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "prefix"]
    fields = [
        "tenant",
        "name",
        "expires_at",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # a token's tenant and name are fixed once issued
            return [*self.readonly_fields, "tenant", "name", "expires_at"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # audit events refer to tokens; revoke instead

    @sensitive_variables("plaintext")
    def save_model(self, request, obj, form, change):
        if change:
            return
        token, plaintext = token_create(
            tenant=obj.tenant, name=obj.name, expires_at=obj.expires_at, actor=Actor.for_admin(request.user)
        )
        obj.pk = token.pk
        obj.refresh_from_db()  # the prefix and stamps the admin's log entry and the page show
        obj.issued_plaintext = plaintext  # for response_add only: this request's object, not stored

    @sensitive_variables("context")
    def response_add(self, request, obj, post_url_continue=None):
        """The token issued, shown this once, in place of the redirect (and its message) after an
        add. ``no-store``: no cache keeps the page, nor the browser's back/forward cache."""
        context = {
            **self.admin_site.each_context(request),
            "title": "SCIM token issued",
            "opts": self.opts,
            "token": obj,
            "plaintext": obj.issued_plaintext,
            "scim_urls": [
                request.build_absolute_uri("/scim/v2/"),
                request.build_absolute_uri(f"/scim/{obj.tenant.slug}/v2/"),
            ],
        }
        response = TemplateResponse(request, "admin/directory/scimtoken/issued.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token, actor=Actor.for_admin(request.user))
        messages.success(request, f"Revoked {queryset.count()} token(s).")


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    """axes' records of failed logins. Deleting one unlocks its username and address; the audit
    trail's ``admin.unlocked`` names the administrator who did it (directory/lockouts.py)."""

    def delete_model(self, request, obj):
        with unlocking_as(Actor.for_admin(request.user)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with unlocking_as(Actor.for_admin(request.user)):
            super().delete_queryset(request, queryset)


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ["user_name", "display_name", "tenant", "state", "is_active", "external_id", "updated_at"]
    list_filter = ["tenant", "state"]
    search_fields = ["user_name", "display_name", "external_id"]
    show_full_result_count = False
    # The raw column would show an unassigned active (an IdP removed it) as "unknown": it is not active.
    exclude = ["active"]
    readonly_fields = ["is_active"]

    @admin.display(boolean=True, description="Active")
    def is_active(self, user: User) -> bool:
        return user.active is True


@admin.register(UserValue)
class UserValueAdmin(ReadOnlyAdmin):
    list_display = ["user", "attribute", "position", "value", "type", "primary"]
    list_filter = ["attribute"]


@admin.register(Group)
class GroupAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "tenant", "external_id", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["display_name", "external_id"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["group", "member_user", "member_group", "created_at"]
    raw_id_fields = ["group", "member_user", "member_group"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "tenant", "actor_label", "action", "target_type", "target_label"]
    list_filter = ["tenant", "action", "actor_type"]
    search_fields = ["target_id", "target_label", "request_id"]
    show_full_result_count = False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "seen_at"]


MAX_DOCUMENT_BYTES = 1024 * 1024
EXAMPLE_SCHEMA = {
    "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
    "name": "AcmeUser",
    "description": "Acme's own attributes",
    "attributes": [
        {"name": "costCode", "type": "string", "description": "The cost code of the user's team."},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
    ],
}


class ExtensionSchemaForm(forms.ModelForm):
    """An extension schema as its RFC 7643 section 7 document, typed in or uploaded, checked by
    the service that declares it (``dry_run``) so that every problem shows on the page."""

    document = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 24, "cols": 100, "class": "vLargeTextField", "spellcheck": "false"}
        ),
        required=False,
        help_text="The schema as RFC 7643 section 7 describes it: id (its URN), name, description, "
        "attributes (name, type, multiValued, required, caseExact, mutability, returned, uniqueness, "
        "canonicalValues, referenceTypes, subAttributes). Attributes left out are removed; their "
        "values are kept until purged.",
    )
    upload = forms.FileField(
        required=False, help_text="Or upload the schema document (JSON); it replaces the text."
    )

    class Meta:
        model = ExtensionSchema
        fields = ["tenant", "resource_type", "required"]

    actor: Actor
    outcome: DeclarationOutcome

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["document"] = json.dumps(schema_document(self.instance), indent=2)
        else:
            self.initial.setdefault("document", json.dumps(EXAMPLE_SCHEMA, indent=2))

    def clean(self):
        """Declare the schema now, in the admin's transaction for this save, so that every refusal
        (the document's, or one of the values stored under it) shows on the page; the save only
        reports what it did (``ExtensionSchemaAdmin.save_model``)."""
        cleaned = super().clean() or {}
        upload = cleaned.get("upload")
        if upload and upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(f"The schema document is larger than {MAX_DOCUMENT_BYTES} bytes.")
        text = upload.read().decode("utf-8", errors="replace") if upload else cleaned.get("document", "")
        try:
            document = json.loads(text or "null")
        except (ValueError, RecursionError) as error:  # JSONDecodeError, or nested beyond recursion
            raise forms.ValidationError(f"The schema document is not JSON: {error}.") from None
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        resource_type = cleaned.get("resource_type") or self.instance.resource_type
        if tenant is None or not resource_type:
            return cleaned
        if (
            self.instance.pk
            and isinstance(document, dict)
            and str(document.get("id", "")).lower() != self.instance.urn_key
        ):
            raise forms.ValidationError(
                f"The id is the schema's identity ({self.instance.urn}); to declare another URN, "
                "add a new schema."
            )
        try:
            self.outcome = extension_schema_declare(
                tenant=tenant,
                actor=self.actor,
                document=document,
                resource_type=resource_type,
                required=cleaned.get("required", False),
            )
        except DeclarationError as error:
            raise forms.ValidationError(error.problems) from None
        return cleaned


@admin.register(ExtensionSchema)
class ExtensionSchemaAdmin(admin.ModelAdmin):
    """A tenant's extension schemas (RFC 7643 section 3.3), each declared, changed and restored
    through ``extension_schema_declare``; removed and purged by actions, never deleted outright."""

    form = ExtensionSchemaForm
    list_display = [
        "urn",
        "tenant",
        "resource_type",
        "attribute_count",
        "required",
        "state",
        "updated_at",
        "download",
    ]
    list_filter = ["tenant", "resource_type"]
    search_fields = ["urn", "name"]
    actions = ["remove", "purge"]

    def get_fields(self, request, obj=None):
        fields = ["tenant", "resource_type", "required", "document", "upload"]
        return [*fields, "stored_attributes"] if obj is not None else fields

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "resource_type", "stored_attributes"] if obj is not None else []

    @admin.display(description="Attributes as stored")
    def stored_attributes(self, schema: ExtensionSchema) -> str:
        """Every attribute, removed ones too (their values are kept until purged)."""
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    str(a),
                    a.type,
                    "yes" if a.multi_valued else "",
                    "yes" if a.required else "",
                    a.mutability,
                    a.uniqueness,
                    "removed, values kept" if a.removed_at else "",
                )
                for a in schema.attributes.select_related("parent").order_by("parent_id", "position", "id")
            ),
        )
        head = format_html(
            "<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            "Name",
            "Type",
            "Multi-valued",
            "Required",
            "Mutability",
            "Uniqueness",
            "State",
        )
        return format_html("<table>{}<tbody>{}</tbody></table>", head, rows)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = Actor.for_admin(request.user)  # type: ignore[attr-defined]  # ExtensionSchemaForm's
        return form

    def has_delete_permission(self, request, obj=None):
        return False  # remove (values kept), then purge: the actions

    @admin.display(description="Attributes")
    def attribute_count(self, schema: ExtensionSchema) -> int:
        return schema.attributes.filter(parent=None, removed_at__isnull=True).count()

    @admin.display(description="State")
    def state(self, schema: ExtensionSchema) -> str:
        return "removed (values kept)" if schema.removed_at else "active"

    @admin.display(description="Schema document")
    def download(self, schema: ExtensionSchema) -> str:
        return format_html('<a href="{}">JSON</a>', f"{schema.pk}/document/")

    def get_urls(self):
        return [
            path(
                "<int:pk>/document/",
                self.admin_site.admin_view(self.document_view),
                name="extension_schema_document",
            ),
            *super().get_urls(),
        ]

    def document_view(self, request, pk: int) -> HttpResponse:
        """The schema as an RFC 7643 section 7 document, to download (and load elsewhere)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        schema = get_object_or_404(ExtensionSchema, pk=pk)
        response = JsonResponse(schema_document(schema), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="{schema.urn.replace(":", "_")}.json"'
        return response

    def save_model(self, request, obj, form, change):
        outcome = form.outcome  # declared by the form's clean(), in this request's transaction
        obj.pk = outcome.schema.pk
        obj.refresh_from_db()
        messages.info(request, f"Extension schema {outcome.summary()}")
        for warning in outcome.warnings:
            messages.warning(request, warning)

    def save_related(self, request, form, formsets, change):
        pass  # the attributes are the document's, written by the service

    @admin.action(description="Remove the selected schemas (their values are kept until purged)")
    def remove(self, request, queryset):
        for schema in list(queryset):
            try:
                extension_schema_remove(
                    tenant=schema.tenant, actor=Actor.for_admin(request.user), urn=schema.urn
                )
            except DeclarationError as error:  # purged meanwhile
                messages.error(request, " ".join(error.problems))
                return
        messages.success(
            request, f"Removed {queryset.count()} schema(s); their values are kept until purged."
        )

    @admin.action(description="Purge the values of the selected schemas' removed attributes (irreversible)")
    def purge(self, request, queryset):
        purged: dict[str, int] = {}
        for schema in list(queryset):
            purged |= extension_values_purge(
                tenant=schema.tenant, actor=Actor.for_admin(request.user), urn=schema.urn
            )
        if not purged:
            messages.info(request, "Nothing removed to purge.")
        for what, count in purged.items():
            messages.success(request, f"Purged {what} from {count} resource(s).")
