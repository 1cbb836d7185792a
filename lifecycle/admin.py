"""The lifecycle in the admin: bursts of deprovisions (an open one is a banner on every admin page,
``lifecycle.context_processors``, and is decided here: release or revert, with a reason); the
offboarding cases, each page with its steps, its history and the decisions its state and the
person's permissions allow; and the tenant's offboarding policy, whose change says what it does
to the cases already open.

Every decision goes through ``lifecycle.burst_decisions`` or ``lifecycle.decisions``; a refused
one is a message on the page.
"""

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from directory.admin import ReadOnlyAdmin
from directory.admin import TenantAdmin as DirectoryTenantAdmin
from directory.errors import ServiceError
from directory.models import Tenant
from directory.services.audit import Actor
from lifecycle.burst_decisions import burst_release, burst_revert
from lifecycle.decisions import case_decide_posted, case_decisions_available, case_stamp
from lifecycle.models import OPEN_STATES, Burst, BurstState, CaseState, CaseStep, OffboardingCase, Reviewer
from lifecycle.records import case_history
from lifecycle.reviewers import reviewer_assign, reviewer_unassign, reviewers_group

# The tenant's fields whose change applies to new cases only.
POLICY_FIELDS = ("on_deactivate", "on_delete", "offboarding_grace_period", "purge_after")


@admin.register(Burst)
class BurstAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "tenant",
        "state",
        "detected_at",
        "deprovisions",
        "rule",
        "decided_by",
        "finished_at",
    ]
    list_filter = ["state", "tenant"]
    date_hierarchy = "detected_at"
    change_form_template = "admin/lifecycle/burst/change_form.html"

    def get_urls(self):
        decide = self.admin_site.admin_view(require_POST(self.decide))
        return [path("<int:burst_id>/decide/", decide, name="lifecycle_burst_decide"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        burst = get_object_or_404(Burst, pk=object_id)
        counts = dict(
            OffboardingCase.objects.filter(burst=burst)
            .values_list("state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        extra_context = {
            **(extra_context or {}),
            "burst": burst,
            "cases_by_state": [(CaseState(s).label, n) for s, n in sorted(counts.items())],
            "quarantined": counts.get(CaseState.QUARANTINED, 0),
            "can_decide": burst.state == BurstState.OPEN and request.user.has_perm("lifecycle.decide_burst"),
            "cases_url": reverse("admin:lifecycle_offboardingcase_changelist")
            + f"?burst__id__exact={burst.pk}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide(self, request, burst_id: int):
        """Release or revert (the button pressed), with the reason typed."""
        outcome = request.POST.get("outcome")
        decision = {"release": burst_release, "revert": burst_revert}.get(outcome or "")
        if decision is None:
            messages.error(request, "Choose to release or to revert the burst.")
        else:
            try:
                decision(burst_id=burst_id, by=request.user, reason=request.POST.get("reason", ""))
            except ServiceError as error:
                messages.error(request, str(error))
            else:
                messages.success(
                    request,
                    f"Burst {burst_id} released: its cases go on."
                    if outcome == "release"
                    else f"Burst {burst_id} reverted: its users are being given their access back.",
                )
        return HttpResponseRedirect(reverse("admin:lifecycle_burst_change", args=[burst_id]))


class CaseStepInline(admin.TabularInline):
    """The case's offboarding steps: each one's status, attempts and last error (lifecycle.steps)."""

    model = CaseStep
    fields = readonly_fields = ("name", "status", "attempts", "last_error", "next_attempt_at", "finished_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OffboardingCase)
class OffboardingCaseAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "tenant",
        "state",
        "trigger",
        "action",
        "deprovisioned_at",
        "deletion_due_at",
        "steps_failed",
    ]
    list_filter = ["state", "tenant", "trigger", "action", "steps_failed", "burst"]
    search_fields = ["subject_id", "user__user_name"]
    date_hierarchy = "deprovisioned_at"
    list_select_related = ["tenant"]
    raw_id_fields = ["user", "data_successor", "held_by", "burst"]
    inlines = [CaseStepInline]
    change_form_template = "admin/lifecycle/offboardingcase/change_form.html"

    def get_urls(self):
        decide = self.admin_site.admin_view(require_POST(self.decide))
        return [
            path("<int:case_id>/decide/", decide, name="lifecycle_offboardingcase_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = get_object_or_404(OffboardingCase.objects.select_related("held_by"), pk=object_id)
        extra_context = {
            **(extra_context or {}),
            "case": case,
            "decisions": case_decisions_available(case, request.user),
            "stamp": case_stamp(case),
            "history": case_history(case),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide(self, request, case_id: int):
        """The decision chosen, with its reason (and its date or successor)."""
        try:
            case = case_decide_posted(case_id=case_id, by=request.user, posted=request.POST)
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Done: the case is now {case.get_state_display().lower()}.")
        return HttpResponseRedirect(reverse("admin:lifecycle_offboardingcase_change", args=[case_id]))


@admin.register(Reviewer)
class ReviewerAdmin(admin.ModelAdmin):
    """HR reviewers and their tenants: saving one puts its user in the group "HR reviewers", and
    each tenant given or taken is an audit event of that tenant (lifecycle.reviewers)."""

    list_display = ["__str__", "tenant_names", "timezone"]
    list_filter = ["tenants"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["tenants"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").prefetch_related("tenants")

    @admin.display(description="Tenants")
    def tenant_names(self, obj):
        return ", ".join(t.slug for t in obj.tenants.all()) or "none yet"

    def save_related(self, request, form, formsets, change):
        reviewer = form.instance
        wanted, have = set(form.cleaned_data["tenants"]), set(reviewer.tenants.all())
        actor = Actor.for_admin(request.user)
        reviewer_assign(reviewer=reviewer, tenants=wanted - have, actor=actor)
        reviewer_unassign(reviewer=reviewer, tenants=have - wanted, actor=actor)
        reviewer.user.groups.add(reviewers_group())


admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantAdmin(DirectoryTenantAdmin):
    """The directory's tenant admin, with the offboarding policy grouped, and a message on what a
    change of it does to the cases already open."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [f for f in POLICY_FIELDS if f in form.changed_data]
        if not change or not changed:
            return
        open_cases = OffboardingCase.objects.filter(tenant=obj, state__in=OPEN_STATES).count()
        if not open_cases:
            messages.info(request, "The new offboarding policy applies to every case opened from now on.")
            return
        names = ", ".join(str(form.fields[f].label).lower() for f in changed)
        messages.warning(
            request,
            f"The new offboarding policy ({names}) applies to cases opened from now on. The "
            f"{open_cases} case(s) already open keep the policy and the dates they were opened with; "
            "HR can extend, approve early or cancel each of them.",
        )
