"""The administrators' view of the directory (a first, plain version).

Users, groups and memberships belong to the identity provider, which writes them through SCIM;
here they are read-only so that no edit bypasses the services, the version counter or the audit
trail. Tokens are issued here and revoked by an action. A new token's plaintext is shown once, on
the page that answers the POST issuing it: never in a message (Django keeps those in a cookie or
the session, signed but readable, and the browser sends them back), nor anywhere else.
"""

from datetime import timedelta

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables

from directory.audit_exports import FORMATS, audit_export
from directory.errors import NotAllowedNow
from directory.lockouts import unlocking_as
from directory.models import (
    ApiKey,
    AuditEvent,
    Group,
    Membership,
    ScimToken,
    Tenant,
    UserValue,
    WorkerHeartbeat,
)
from directory.request_selectors import token_requests_by_day
from directory.services.audit import Actor, audit_record
from directory.services.tenants import tenant_create, tenant_update
from directory.services.tokens import api_key_revoke, token_create, token_revoke, token_rotate


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_active", "on_deactivate", "on_delete", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["is_active", "on_deactivate", "on_delete"]

    def has_delete_permission(self, request, obj=None):
        return False  # a tenant's data is kept; deactivate it instead

    def save_model(self, request, obj, form, change):
        actor = Actor.for_admin(request.user)
        if change:
            tenant_update(tenant=obj, actor=actor, **{f: form.cleaned_data[f] for f in form.changed_data})
        else:
            values = {f: v for f, v in form.cleaned_data.items() if f != "slug"}
            obj.pk = tenant_create(slug=obj.slug, actor=actor, **values).pk


class TokenStandingFilter(admin.SimpleListFilter):
    """Tokens by standing: in use, expiring within EXPIRY_WARNING, expired, revoked."""

    title = "standing"
    parameter_name = "standing"

    def lookups(self, request, model_admin):
        return [
            ("expiring", f"Expiring within {EXPIRY_WARNING.days} days"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "expiring":
            return queryset.filter(
                revoked_at__isnull=True,
                rotated_to__isnull=True,  # a rotated token ends by design: its replacement is in use
                expires_at__gt=now,
                expires_at__lte=now + EXPIRY_WARNING,
            )
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


EXPIRY_WARNING = timedelta(days=14)
TOKEN_FIELDS = (
    "tenant",
    "name",
    "expires_at",
    "prefix",
    "created_by",
    "created_at",
    "last_used_at",
    "revoked_at",
    "rotated_to",
    "rotated_from",
)
REQUEST_DAYS = 30  # a token's page shows its requests and errors per day over these


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "standing",
        "revoked_at",
    ]
    list_filter = [TokenStandingFilter, "tenant"]

    @admin.display(description="Standing")
    def standing(self, token: ScimToken) -> str:
        """Revoked, expired, expiring soon (within EXPIRY_WARNING: rotate it) or in use."""
        now = timezone.now()
        if token.revoked_at is not None:
            return "revoked"
        if token.expires_at is not None and token.expires_at <= now:
            return "expired"
        if token.rotated_to_id is not None:
            return f"rotated: works until {token.expires_at:%Y-%m-%d %H:%M} UTC"
        if token.expires_at is not None and token.expires_at <= now + EXPIRY_WARNING:
            return f"⚠ expires in {max(0, (token.expires_at - now).days)} days: rotate it"
        return "in use"

    search_fields = ["name", "prefix"]
    change_form_template = "admin/directory/scimtoken/change_form.html"

    @admin.display(description="Rotated from")
    def rotated_from(self, token: ScimToken) -> str:
        replaced = ScimToken.objects.filter(rotated_to=token).first() if token.pk else None
        return str(replaced) if replaced else "-"

    fields = TOKEN_FIELDS
    readonly_fields = [f for f in TOKEN_FIELDS if f not in ("tenant", "name", "expires_at")]
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
        return self._issued(request, obj, obj.issued_plaintext)

    @sensitive_variables("plaintext", "context")
    def _issued(self, request, token: ScimToken, plaintext: str, replaced: ScimToken | None = None):
        """The token issued, shown this once, in place of the redirect (and its message) after an
        add or a rotation. ``no-store``: no cache keeps the page, nor the browser's back/forward
        cache."""
        context = {
            **self.admin_site.each_context(request),
            "title": "SCIM token issued",
            "opts": self.opts,
            "token": token,
            "plaintext": plaintext,
            "replaced": replaced,
            "scim_urls": [
                request.build_absolute_uri("/scim/v2/"),
                request.build_absolute_uri(f"/scim/{token.tenant.slug}/v2/"),
            ],
        }
        response = TemplateResponse(request, "admin/directory/scimtoken/issued.html", context)
        add_never_cache_headers(response)
        return response

    def get_urls(self):
        return [
            path(
                "<int:pk>/rotate/",
                self.admin_site.admin_view(self.rotate_view),
                name="directory_scimtoken_rotate",
            ),
            path(
                "<int:pk>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="directory_scimtoken_revoke",
            ),
            *super().get_urls(),
        ]

    @sensitive_variables("plaintext")
    def rotate_view(self, request, pk: int):
        """Rotate one token: the form (how long the old one keeps working, when the new one
        expires), then the new token's plaintext, once."""
        token = self._token_to_change(request, pk)
        form = TokenRotationForm(request.POST or None, token=token)
        if request.method == "POST" and form.is_valid():
            try:
                new, plaintext = token_rotate(
                    token=token,
                    actor=Actor.for_admin(request.user),
                    overlap_until=form.cleaned_data["overlap_until"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except NotAllowedNow as refused:
                form.add_error(None, str(refused))
            else:
                token.refresh_from_db()
                return self._issued(request, new, plaintext, replaced=token)
        return self._token_page(request, token, "rotate.html", f"Rotate {token}", form=form)

    def revoke_view(self, request, pk: int):
        """Revoke one token, after a confirmation page: SCIM refuses it from the next request on."""
        token = self._token_to_change(request, pk)
        if request.method == "POST":
            token_revoke(token=token, actor=Actor.for_admin(request.user))
            messages.success(
                request, f"Revoked {token}: the identity provider's next request with it gets 401."
            )
            return HttpResponseRedirect(reverse("admin:directory_scimtoken_change", args=[token.pk]))
        return self._token_page(request, token, "revoke.html", f"Revoke {token}")

    def _token_to_change(self, request, pk: int) -> ScimToken:
        token = ScimToken.objects.select_related("tenant").filter(pk=pk).first()
        if token is None:
            raise Http404("No such token.")
        if not self.has_change_permission(request, token):
            raise PermissionDenied
        return token

    def _token_page(self, request, token: ScimToken, template: str, title: str, **context):
        return TemplateResponse(
            request,
            f"admin/directory/scimtoken/{template}",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "token": token,
                **context,
            },
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pk = _int_or_none(object_id)
        token = ScimToken.objects.filter(pk=pk).first() if pk is not None else None
        extra: dict[str, object] = {
            "token_usable": token is not None and token.revoked_at is None and token.is_usable()
        }
        if token is not None:
            extra["token_can_rotate"] = extra["token_usable"] and token.rotated_to_id is None
            days = token_requests_by_day(token=token, days=REQUEST_DAYS)
            extra["request_days"] = [day for day in reversed(days) if day.requests]
            extra["request_totals"] = {
                "requests": sum(day.requests for day in days),
                "errors": sum(day.errors for day in days),
                "days": REQUEST_DAYS,
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token, actor=Actor.for_admin(request.user))
        messages.success(request, f"Revoked {queryset.count()} token(s).")


class TokenRotationForm(forms.Form):
    """How a rotation overlaps: the old token works until ``overlap_until``; the new one expires at
    ``expires_at`` (by default after as long as the old one was issued for)."""

    OVERLAPS = [(0, "Stop at once"), (1, "1 hour"), (24, "1 day"), (24 * 7, "7 days"), (24 * 30, "30 days")]
    overlap = forms.TypedChoiceField(
        label="The old token keeps working for",
        choices=OVERLAPS,
        coerce=int,
        initial=24 * 7,
        help_text="Time to give the identity provider the new token; both work meanwhile.",
    )
    expires_at = forms.DateTimeField(
        label="The new token expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: never. In the server's time zone (UTC).",
    )

    def __init__(self, *args, token: ScimToken, **kwargs):
        super().__init__(*args, **kwargs)
        if token.expires_at is not None:
            lifetime = token.expires_at - token.created_at
            self.fields["expires_at"].initial = (timezone.now() + lifetime).replace(second=0, microsecond=0)

    def clean(self):
        cleaned = super().clean() or {}
        if "overlap" in cleaned:
            cleaned["overlap_until"] = timezone.now() + timedelta(hours=cleaned["overlap"])
        return cleaned


API_KEY_FIELDS = (
    "tenant",
    "name",
    "prefix",
    "created_by",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Host applications' API keys (the event feed's credential, issue 22), listed and revoked here;
    issued with ``manage.py create_api_key``, which prints the key once."""

    list_display = ["name", "scope", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "prefix"]
    fields = readonly_fields = API_KEY_FIELDS
    actions = ["revoke"]

    @admin.display(description="Tenant")
    def scope(self, key: ApiKey) -> str:
        return key.tenant.slug if key.tenant else "every tenant"

    def has_add_permission(self, request, obj=None):
        return False  # manage.py create_api_key issues keys, shown once

    def has_delete_permission(self, request, obj=None):
        return False  # audit events refer to keys; revoke instead

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key, actor=Actor.for_admin(request.user))
        messages.success(request, f"Revoked {queryset.count()} key(s).")


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


# Users: the console in scim_api/admin.py (its pages render users as SCIM serves them).


@admin.register(UserValue)
class UserValueAdmin(ReadOnlyAdmin):
    list_display = ["user", "attribute", "position", "value", "type", "primary"]
    list_filter = ["attribute"]


@admin.register(Group)
class GroupAdmin(ReadOnlyAdmin):
    """Groups with their member counts (a count per group shown, from the membership index: the
    page's 100 groups, not every group's members), and a group's page listing its members a page
    of MEMBERS_PER_PAGE at a time, however many it has."""

    list_display = ["display_name", "tenant", "members", "external_id", "updated_at"]
    ordering = ["display_name_key", "pk"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["display_name", "external_id"]
    show_full_result_count = False
    change_form_template = "admin/directory/group/change_form.html"

    MEMBERS_PER_PAGE = 100

    def get_queryset(self, request):
        counted = (
            Membership.objects.filter(group=OuterRef("pk")).order_by().values("group").annotate(n=Count("*"))
        )
        return super().get_queryset(request).annotate(member_count=Subquery(counted.values("n")))

    @admin.display(description="Members", ordering="member_count")
    def members(self, group) -> int:
        return group.member_count or 0

    def change_view(self, request, object_id, form_url="", extra_context=None):
        group = self.get_object(request, object_id)  # None (and the admin's own answer) for a bad id
        memberships = Membership.objects.filter(group=group) if group else Membership.objects.none()
        members = (
            memberships.select_related("member_user", "member_group")
            .only(
                "pk",
                "member_user",
                "member_group",
                "member_user__user_name",
                "member_user__display_name",
                "member_group__display_name",
            )
            .order_by("pk")
        )
        page = Paginator(members, self.MEMBERS_PER_PAGE).get_page(request.GET.get("members"))
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "member_page": page}
        )


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["group", "member_user", "member_group", "created_at"]
    list_select_related = ["group", "member_user", "member_group"]
    # Read-only here; declared so that the admin's autocomplete endpoint answers for them (the users
    # console's group filter suggests groups through it: scim_api/static/scim_api/filters.js).
    autocomplete_fields = ["group", "member_user", "member_group"]
    show_full_result_count = False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The trail, read-only: filtered by tenant, actor type, action, target type and date, searched
    by actor, target or request id, and exported as it is filtered (``export/?format=``: CSV, JSON
    lines, OCSF; directory.audit_exports), streamed. Each export is itself an event."""

    list_display = ["occurred_at", "tenant", "actor_label", "action", "target_type", "target_label"]
    list_filter = [
        "tenant",
        "actor_type",
        "target_type",
        "action",
        ("occurred_at", admin.DateFieldListFilter),
    ]
    search_fields = ["target_id", "target_label", "actor_label", "request_id"]
    show_full_result_count = False
    change_list_template = "admin/directory/auditevent/change_list.html"
    readonly_fields = ["scim_request"]

    @admin.display(description="SCIM request")
    def scim_request(self, obj):
        """The logged request that caused the event (directory/admin_requests.py)."""
        return admin_requests.scim_request_link(obj)

    def get_urls(self):
        export = self.admin_site.admin_view(self.export)
        return [path("export/", export, name="directory_auditevent_export"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.copy()
        formats = [
            (fmt, f"{reverse('admin:directory_auditevent_export')}?{_with(query, format=fmt)}")
            for fmt in FORMATS
        ]
        return super().changelist_view(request, {**(extra_context or {}), "export_links": formats})

    def export(self, request):
        """The changelist's events, every page, in ``format``; 400 for a format it has not."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = request.GET.copy()
        fmt = query.pop("format", ["csv"])[-1]
        if fmt not in FORMATS:
            return HttpResponseBadRequest(
                f"format must be one of {', '.join(FORMATS)}", content_type="text/plain"
            )
        request.GET = query  # the changelist's own filters, without ours
        events = self.get_changelist_instance(request).get_queryset(request).order_by("id")
        audit_record(
            tenant=None,
            actor=Actor.for_admin(request.user),
            action="audit.exported",
            target_type="audit",
            target_id=fmt,
            changes={"filters": query.urlencode()},
        )
        response = StreamingHttpResponse(audit_export(events, fmt), content_type=EXPORT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="audit.{EXPORT_SUFFIXES[fmt]}"'
        response["Cache-Control"] = "no-store"
        return response


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "ocsf": "application/x-ndjson",
}
EXPORT_SUFFIXES = {"csv": "csv", "jsonl": "jsonl", "ocsf": "ocsf.jsonl"}


def _int_or_none(value) -> int | None:
    """An object id from a URL as an int, or None (what ``int()`` would refuse: "²", "abc")."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _with(query, **values) -> str:
    query = query.copy()
    for key, value in values.items():
        query[key] = value
    return query.urlencode()


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "seen_at"]


# The extension schemas' pages (directory/extension_admin.py), the SCIM request log's
# (directory/admin_requests.py) and the webhook endpoints' (directory/webhook_admin.py), registered
# with this site.
from directory import admin_requests, extension_admin, webhook_admin  # noqa: E402, F401
