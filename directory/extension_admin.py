"""Extension schemas in the admin: a tenant's schema and its attributes edited as a form and a
table of rows, or imported from an RFC 7643 section 7 schema document; removed and purged by
actions, downloaded as a document. Every change goes through
``directory.services.extensions.extension_schema_declare``, called while the page is validated
(within the save's transaction), so that whatever it refuses (RFC 7643, or values already
stored) shows on the page and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from directory.extension_declarations import DeclarationError, schema_document
from directory.models import ExtensionAttribute, ExtensionSchema, Tenant, casefold_key
from directory.services.audit import Actor
from directory.services.extensions import (
    DeclarationOutcome,
    extension_schema_declare,
    extension_schema_remove,
    extension_values_purge,
)

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


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


class ExtensionSchemaForm(forms.ModelForm):
    class Meta:
        model = ExtensionSchema
        fields = ["tenant", "resource_type", "urn", "name", "description", "required"]
        labels = {"urn": "URN (the schema's id)", "required": "Required of every resource"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 80})}


class ExtensionAttributeForm(forms.ModelForm):
    """One row of the attributes table: an attribute, or (``sub_attribute_of``) a sub-attribute
    of the complex attribute named there."""

    sub_attribute_of = forms.CharField(
        required=False, max_length=64, help_text="For a sub-attribute: its complex attribute's name."
    )
    canonical = forms.CharField(required=False, label="Canonical values", help_text="Comma-separated.")
    references = forms.CharField(
        required=False, label="Reference types", help_text="Comma-separated: external, uri, User, Group."
    )

    class Meta:
        model = ExtensionAttribute
        fields = [
            "name",
            "type",
            "multi_valued",
            "required",
            "case_exact",
            "mutability",
            "returned",
            "uniqueness",
            "description",
        ]
        widgets = {"description": forms.TextInput(attrs={"size": 24})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        attribute = self.instance
        if attribute.pk:
            self.initial["sub_attribute_of"] = (
                attribute.parent.name if attribute.parent_id and attribute.parent else ""
            )
            self.initial["canonical"] = ", ".join(attribute.canonical_values)
            self.initial["references"] = ", ".join(attribute.reference_types)

    def validate_unique(self) -> None:
        """Names are the declaration's business (checked as a whole by the service)."""

    def declaration(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "type": data["type"],
            "multiValued": data["multi_valued"],
            "description": data.get("description") or "",
            "required": data["required"],
            "caseExact": data["case_exact"],
            "mutability": data["mutability"],
            "returned": data["returned"],
            "uniqueness": data["uniqueness"],
            "canonicalValues": _words(data.get("canonical") or ""),
            "referenceTypes": _words(data.get("references") or ""),
        }


class AttributeFormSet(BaseInlineFormSet):
    """The attributes table, declared as a whole with the schema's own fields once both are valid
    (``ExtensionSchemaAdmin.save_form`` marks the schema so): a row left out or deleted is an
    attribute removed (its values kept until purged)."""

    actor: Actor

    def clean(self) -> None:
        super().clean()
        schema = self.instance
        if any(self.errors) or not getattr(schema, "form_valid", False):
            return
        top: list[dict[str, Any]] = []
        subs: list[tuple[str, dict[str, Any]]] = []
        for form in self.forms:
            deleted = self.can_delete and form.cleaned_data.get("DELETE", False)
            if (not form.has_changed() and not form.instance.pk) or deleted:
                continue
            assert isinstance(form, ExtensionAttributeForm)  # the inline's form
            declared = form.declaration()
            parent = (form.cleaned_data.get("sub_attribute_of") or "").strip()
            (subs.append((parent, declared)) if parent else top.append(declared))
        by_name = {a["name"].lower(): a for a in top}
        for parent, declared in subs:
            owner = by_name.get(parent.lower())
            if owner is None:
                raise forms.ValidationError(
                    f"{declared['name']} is a sub-attribute of {parent}, which is not an attribute of "
                    "this schema."
                )
            owner.setdefault("subAttributes", []).append(declared)
        if (
            schema.pk is None
            and ExtensionSchema.objects.filter(
                tenant=schema.tenant, urn_key=casefold_key(schema.urn)
            ).exists()
        ):
            raise forms.ValidationError(
                f"The tenant has a schema {schema.urn} already: change it on its page."
            )
        document = {
            "id": schema.urn,
            "name": schema.name,
            "description": schema.description,
            "attributes": top,
        }
        try:
            schema.outcome = extension_schema_declare(
                tenant=schema.tenant,
                actor=self.actor,
                document=document,
                resource_type=schema.resource_type,
                required=schema.required,
            )
        except DeclarationError as error:
            raise forms.ValidationError(error.problems) from None


class ExtensionAttributeInline(admin.TabularInline):
    """The schema's attributes as rows (removed ones, whose values await a purge, are not shown)."""

    model = ExtensionAttribute
    fk_name = "schema"
    form = ExtensionAttributeForm
    formset = AttributeFormSet
    # The form's model fields, with its own between them: name, sub-attribute of, characteristics.
    fields = [
        "name",
        "sub_attribute_of",
        *(f for f in ExtensionAttributeForm.Meta.fields if f not in ("name", "description")),
        "canonical",
        "references",
        "description",
    ]
    verbose_name = "attribute"

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if obj is not None else 3

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(removed_at__isnull=True)
            .select_related("parent")
            .order_by("parent__position", "parent_id", "position", "id")
        )

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = Actor.for_admin(request.user)  # type: ignore[attr-defined]  # AttributeFormSet's
        return formset


class ImportForm(forms.Form):
    """A schema document (RFC 7643 section 7) to declare, typed in or uploaded."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.all())
    resource_type = forms.ChoiceField(choices=ExtensionSchema.ResourceType.choices)
    required = forms.BooleanField(required=False, label="Required of every resource")
    document = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "false"}),
        required=False,
        initial=json.dumps(EXAMPLE_SCHEMA, indent=2),
        help_text="id (the URN), name, description, attributes: name, type, multiValued, required, "
        "caseExact, mutability, returned, uniqueness, canonicalValues, referenceTypes, subAttributes. "
        "A schema of that URN already declared is changed to it: attributes it leaves out are removed, "
        "their values kept until purged.",
    )
    upload = forms.FileField(required=False, help_text="Or a JSON file; it replaces the text.")

    def __init__(self, *args, actor: Actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.outcome: DeclarationOutcome | None = None

    def clean(self):
        cleaned = super().clean() or {}
        upload = cleaned.get("upload")
        if upload and upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(f"The schema document is larger than {MAX_DOCUMENT_BYTES} bytes.")
        text = upload.read().decode("utf-8", errors="replace") if upload else cleaned.get("document", "")
        try:
            document = json.loads(text or "null")
        except (ValueError, RecursionError) as error:  # JSONDecodeError, or nested beyond recursion
            raise forms.ValidationError(f"The schema document is not JSON: {error}.") from None
        if self.errors:
            return cleaned
        try:
            self.outcome = extension_schema_declare(
                tenant=cleaned["tenant"],
                actor=self.actor,
                document=document,
                resource_type=cleaned["resource_type"],
                required=cleaned.get("required", False),
            )
        except DeclarationError as error:
            raise forms.ValidationError(error.problems) from None
        return cleaned


@admin.register(ExtensionSchema)
class ExtensionSchemaAdmin(admin.ModelAdmin):
    """A tenant's extension schemas (RFC 7643 section 3.3), declared, changed and restored through
    ``extension_schema_declare``; removed and purged by actions, never deleted outright."""

    form = ExtensionSchemaForm
    inlines = [ExtensionAttributeInline]
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
    change_list_template = "admin/directory/extensionschema/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        # The URN is the schema's identity and its resource type fixed: another is another schema.
        return ["tenant", "resource_type", "urn", "removed_attributes"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = ["tenant", "resource_type", "urn", "name", "description", "required"]
        return [*fields, "removed_attributes"] if obj is not None else fields

    def has_delete_permission(self, request, obj=None):
        return False  # remove (values kept), then purge: the actions

    def save_form(self, request, form, change):
        schema = super().save_form(request, form, change)
        schema.form_valid = True  # the attributes table may now declare it (AttributeFormSet.clean)
        return schema

    def save_model(self, request, obj, form, change):
        outcome: DeclarationOutcome | None = getattr(obj, "outcome", None)
        if outcome is None:  # a formset that declared nothing cannot be valid; never left unsaved
            raise DeclarationError(["The schema's attributes were not declared."])
        obj.pk = outcome.schema.pk
        obj.refresh_from_db()
        messages.info(request, f"Extension schema {outcome.summary()}")
        for warning in outcome.warnings:
            messages.warning(request, warning)

    def save_related(self, request, form, formsets, change):
        pass  # the attributes are the declaration's, written by the service

    def construct_change_message(self, request, form, formsets, add=False):
        # The rows were written by the service, not by the formsets (their objects were never saved).
        return super().construct_change_message(request, form, [], add)

    @admin.display(description="Attributes")
    def attribute_count(self, schema: ExtensionSchema) -> int:
        return schema.attributes.filter(parent=None, removed_at__isnull=True).count()

    @admin.display(description="State")
    def state(self, schema: ExtensionSchema) -> str:
        return "removed (values kept)" if schema.removed_at else "active"

    @admin.display(description="Removed attributes (values kept until purged)")
    def removed_attributes(self, schema: ExtensionSchema) -> str:
        removed = [a.name for a in schema.attributes.filter(parent=None, removed_at__isnull=False)]
        return ", ".join(removed) or "none"

    @admin.display(description="Schema document")
    def download(self, schema: ExtensionSchema) -> str:
        return format_html(
            '<a href="{}">JSON</a>', reverse("admin:extension_schema_document", args=[schema.pk])
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="extension_schema_import"),
            path("<int:pk>/document/", view(self.document_view), name="extension_schema_document"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Declare (or change) a schema from its RFC 7643 section 7 document."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        actor = Actor.for_admin(request.user)
        form = ImportForm(request.POST or None, request.FILES or None, actor=actor)
        if request.method == "POST" and form.is_valid():
            assert form.outcome is not None  # declared by clean()
            messages.info(request, f"Extension schema {form.outcome.summary()}")
            for warning in form.outcome.warnings:
                messages.warning(request, warning)
            return redirect("admin:directory_extensionschema_change", form.outcome.schema.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import an extension schema document",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/directory/extensionschema/import.html", context)

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The schema as an RFC 7643 section 7 document, to download (and load elsewhere)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        schema = get_object_or_404(ExtensionSchema, pk=pk)
        response = JsonResponse(schema_document(schema), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="{schema.urn.replace(":", "_")}.json"'
        return response

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
