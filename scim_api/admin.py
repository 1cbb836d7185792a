"""The administrators' users console (issue 21): search and filters that stay fast at 100,000
users, and a user's page showing it as SCIM serves it, its groups, its offboarding case and its
audit timeline. Here, not in ``directory``, because the page renders the SCIM document.

The identity provider is the source of every SCIM attribute: the page edits none of them (it says
so), so no change bypasses the services, the version or the audit trail. What an administrator may
do is what the IdP itself could: suspend (``active: false``, the tenant's deactivation policy
follows) and start offboarding (as the IdP's DELETE: the user is hidden and the tenant's deletion
policy follows; a rehire restores it), each after a confirmation, each audited as the admin.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from directory.csv_stream import csv_lines
from directory.errors import ServiceError
from directory.identifiers import parse_id
from directory.models import AuditEvent, Group, Membership, Tenant, User, UserState, UserValue, casefold_key
from directory.services.audit import Actor, audit_record
from directory.services.users import user_delete, user_update
from lifecycle.models import OPEN_STATES, OffboardingCase
from scim_api.projection import Projection
from scim_api.renderers import ScimJSONRenderer
from scim_api.resources import RESOURCES

TIMELINE = 100  # the newest events on a user's page
GROUPS_SHOWN = 200  # a user's groups on its page
SEARCH_MATCHES = 1000  # ids each indexed branch of a search contributes at most


class OpenCaseFilter(admin.SimpleListFilter):
    title = "offboarding case"
    parameter_name = "case"

    def lookups(self, request, model_admin):
        return [("open", "Open case"), ("none", "No open case")]

    def queryset(self, request, queryset):
        open_case = Exists(OffboardingCase.objects.filter(user_id=OuterRef("pk"), state__in=OPEN_STATES))
        if self.value() == "open":
            return queryset.filter(open_case)
        if self.value() == "none":
            return queryset.exclude(open_case)
        return queryset


class InputFilter(admin.SimpleListFilter):
    """A filter typed in (a department, a group's name), for values too many to list as links."""

    template = "admin/scim_api/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the filter shows only when it has lookups

    autocomplete = ""  # the query, to the admin's autocomplete endpoint, that suggests values

    def value(self):
        """What was typed, without the NUL PostgreSQL refuses in text (a hostile URL's)."""
        typed = super().value()
        return typed.replace("\x00", "") if isinstance(typed, str) else typed

    def choices(self, changelist):
        others = {k: v for k, v in changelist.get_filters_params().items() if k != self.parameter_name}
        yield {
            "value": self.value() or "",
            "others": others,
            "name": self.parameter_name,
            "autocomplete": f"{reverse('admin:autocomplete')}?{self.autocomplete}"
            if self.autocomplete
            else "",
        }


class DepartmentFilter(InputFilter):
    title = "department"
    parameter_name = "department"

    def queryset(self, request, queryset):
        return queryset.filter(department__iexact=self.value()) if self.value() else queryset


class GroupFilter(InputFilter):
    """Members of the group with this displayName (or id), directly."""

    title = "group"
    parameter_name = "group"
    # Django's autocomplete endpoint, for a field MembershipAdmin declares (directory/admin.py).
    autocomplete = "app_label=directory&model_name=membership&field_name=group"

    def queryset(self, request, queryset):
        wanted = (self.value() or "").strip()
        if not wanted:
            return queryset
        groups = Group.objects.filter(display_name_key=casefold_key(wanted))
        if (group_id := parse_id(wanted)) is not None:
            groups = Group.objects.filter(Q(pk=group_id) | Q(pk__in=groups.values("pk")))
        members = Membership.objects.filter(group__in=groups, member_user=OuterRef("pk"))
        return queryset.filter(Exists(members))


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = [
        "user_name",
        "display_name",
        "email",
        "employee_number",
        "department",
        "tenant",
        "state",
        "is_active",
        "updated_at",
    ]
    list_filter = [
        "tenant",
        "state",
        DepartmentFilter,
        GroupFilter,
        OpenCaseFilter,
        ("updated_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["tenant"]
    list_per_page = 50
    search_fields = ["user_name"]  # the search box; get_search_results says what it matches
    search_help_text = "userName, name, email, externalId, employee number or id."
    show_full_result_count = False
    ordering = ["user_name_key"]
    actions = ["suspend", "start_offboarding", "export_csv"]
    change_form_template = "admin/scim_api/user/change_form.html"

    class Media:
        js = ["scim_api/filters.js"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the IdP's: read-only; the actions ask for change permission themselves

    def get_queryset(self, request):
        # The deleted are hidden until purged, as SCIM hides them; their trail stays in the audit log.
        return super().get_queryset(request).exclude(state=UserState.DELETED).defer(*LARGE)

    # The raw column would show an unassigned active (an IdP removed it) as "unknown": it is not
    # active. The password hash is no one's business here.
    exclude = ["active", "password"]
    readonly_fields = ["is_active"]

    @admin.display(boolean=True, description="Active")
    def is_active(self, user: User) -> bool:
        return user.active is True

    @admin.display(description="Email")
    def email(self, user: User) -> str:
        emails = user.emails or []
        primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
        first = primary or next((e for e in emails if isinstance(e, dict)), None)
        return (first or {}).get("value", "")

    def get_search_results(self, request, queryset, search_term):
        """Each kind of match through its own index (a prefix of userName or displayName, the
        family name, an email address, externalId, employee number, id), at most SEARCH_MATCHES
        ids each, rather than one OR that PostgreSQL can only answer by reading every user."""
        term = search_term.replace("\x00", "").strip()  # PostgreSQL refuses a NUL in text
        if not term:
            return queryset, False
        key = casefold_key(term)
        branches = [
            Q(user_name_key__startswith=key),
            Q(display_name_key__startswith=key),
            Q(name_family_name__istartswith=term),
            Q(external_id=term),
            Q(employee_number=term),
        ]
        if (user_id := parse_id(term)) is not None:
            branches.append(Q(pk=user_id))
        ids: set = set()
        for branch in branches:
            ids.update(queryset.filter(branch).values_list("pk", flat=True)[:SEARCH_MATCHES])
        if "@" in term or len(key) >= 3:
            emails = UserValue.objects.filter(
                user__in=queryset.values("pk"), attribute="emails", value_key__startswith=key
            )
            ids.update(emails.values_list("user_id", flat=True)[:SEARCH_MATCHES])
        return queryset.filter(pk__in=ids), False

    # The user's page -------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if user is not None:
            extra |= user_console_context(request, user)
        return super().change_view(request, object_id, form_url, extra)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(description="Suspend the selected users (active: false)", permissions=["change_state"])
    def suspend(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "suspend",
            "Suspend these users? Access ends now, and the tenant's deactivation policy follows (an "
            "offboarding case opens). The identity provider may set them active again on its next sync.",
            lambda user, actor: user_update(
                tenant=user.tenant, actor=actor, user_id=user.pk, fields={"active": False}
            ),
        )

    @admin.action(description="Start offboarding the selected users", permissions=["change_state"])
    def start_offboarding(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "start_offboarding",
            "Start offboarding these users? They are hidden from SCIM at once, as an identity provider's "
            "DELETE hides them, and the tenant's deletion policy follows (review, grace period, purge). "
            "If the identity provider creates them again, they are restored.",
            lambda user, actor: user_delete(tenant=user.tenant, actor=actor, user_id=user.pk),
        )

    @admin.action(description="Export the selected users as CSV", permissions=["change_state"])
    def export_csv(self, request, queryset):
        """Personal data leaving Roster: only for those who may change users, and an audit event
        (``users.exported``) of each tenant in the file, with how many users."""
        actor = Actor.for_admin(request.user)
        for tenant_id, count in queryset.order_by().values_list("tenant").annotate(n=Count("pk")):
            audit_record(
                tenant=Tenant.objects.get(pk=tenant_id),
                actor=actor,
                action="users.exported",
                target_type="users",
                target_id=tenant_id,
                changes={"users": count, "format": "csv"},
            )
        users = queryset.select_related("tenant").order_by("tenant__slug", "user_name_key")
        header = [
            "tenant",
            "id",
            "userName",
            "displayName",
            "email",
            "externalId",
            "employeeNumber",
            "department",
            "title",
            "state",
            "active",
            "created",
            "lastModified",
        ]
        rows = (
            [
                u.tenant.slug,
                u.pk,
                u.user_name,
                u.display_name,
                self.email(u),
                u.external_id or "",
                u.employee_number,
                u.department,
                u.title,
                u.state,
                u.active is True,
                u.created_at.isoformat(),
                u.updated_at.isoformat(),
            ]
            for u in users.iterator(chunk_size=2000)
        )
        response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="users.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def has_change_state_permission(self, request) -> bool:
        return request.user.has_perm("directory.change_user")

    def _confirmed(self, request, queryset, action: str, question: str, act):
        """Ask first (the page lists whom); on the confirmation's POST, act on each user on its own,
        so that one refused (changed meanwhile, already deleted) stops none of the others."""
        users = list(queryset.select_related("tenant")[:500])
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/scim_api/user/confirm_action.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Are you sure?",
                    "opts": self.opts,
                    "users": users,
                    "action": action,
                    "question": question,
                    "checkbox": ACTION_CHECKBOX_NAME,
                    "more": queryset.count() > len(users),
                },
            )
        actor = Actor.for_admin(request.user)
        done, refused = 0, []
        for user in users:
            try:
                act(user, actor)
                done += 1
            except ServiceError as error:
                refused.append(f"{user.user_name}: {error}")
        messages.success(request, f"Done for {done} user(s).")
        for line in refused:
            messages.error(request, line)
        return HttpResponseRedirect(request.get_full_path())


# Columns a list page has no use for (a user's JSON lists other than emails, its extensions).
LARGE = [*(f for f in User.MULTI_VALUED_FIELDS if f != "emails"), "extensions"]


def user_console_context(request, user: User) -> dict:
    """What a user's page shows besides its fields: the SCIM document (as a GET serves it), its
    groups, its offboarding cases and its audit timeline (newest TIMELINE events)."""
    handler = RESOURCES["Users"]
    tenant = user.tenant
    row = handler.get(tenant, str(user.pk))
    base_url = request.build_absolute_uri(f"/scim/{tenant.slug}/v2")
    document = handler.render(tenant, row, Projection.of(handler.type_for(tenant), {}), base_url)
    groups = list(
        Group.objects.filter(Exists(Membership.objects.filter(group=OuterRef("pk"), member_user=user)))
        .order_by("display_name_key")
        .values("pk", "display_name")[: GROUPS_SHOWN + 1]
    )
    cases = list(OffboardingCase.objects.filter(subject_id=user.pk).order_by("-pk")[:5])
    timeline = list(
        AuditEvent.objects.filter(tenant=tenant, target_type="user", target_id=str(user.pk)).order_by("-pk")[
            :TIMELINE
        ]
    )
    return {
        # Rendered as SCIM sends it (its JSON fragments spliced in), then indented for reading.
        "scim_json": json.dumps(
            json.loads(ScimJSONRenderer().render(document)), indent=2, ensure_ascii=False
        ),
        "user_groups": groups[:GROUPS_SHOWN],
        "more_groups": len(groups) > GROUPS_SHOWN,
        "user_cases": cases,
        "timeline": timeline,
        "timeline_limit": TIMELINE,
        "idp_owned_notice": format_html(
            "Every attribute here belongs to <b>{}</b>'s identity provider, which sets it through SCIM: "
            "it is read-only here, so that no change bypasses the version, the IdP's next sync or the "
            "audit trail.",
            tenant.name,
        ),
    }
