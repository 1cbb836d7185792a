"""The HR screen's pages (``/hr/``): the list of pending offboardings, a case, its decisions, a bulk
approval, the CSV export, and signing in and out. Thin: what they read is in
``lifecycle.hr.selectors``, every decision goes through ``lifecycle.decisions.case_decide`` (which
checks the permission, the reason and that the case did not move on meanwhile), and a refused
one is said on the page, with nothing changed."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from directory.errors import NotPermitted, ServiceError
from directory.models import Tenant
from lifecycle.decisions import (
    APPROVALS,
    CaseChanged,
    case_decide,
    case_decide_posted,
    case_decisions_available,
    case_stamp,
)
from lifecycle.hr.access import session_idle_expiry
from lifecycle.hr.exports import cases_csv
from lifecycle.hr.filters import SORTS, CaseFilter
from lifecycle.hr.selectors import (
    case_leaving,
    case_reviewable,
    cases_departments,
    cases_listed,
    cases_reviewable,
    page_of,
)
from lifecycle.models import CaseState, OffboardingCase
from lifecycle.records import case_history
from lifecycle.templatetags.hr import person_name

EXPORT_FILENAME = "offboardings.csv"
MAX_PAGE = 100_000  # beyond any list (and any OFFSET the database takes)


def _filtered(request) -> CaseFilter:
    tenants = Tenant.objects.order_by("name")
    if request.hr_tenant_ids is not None:
        tenants = tenants.filter(pk__in=request.hr_tenant_ids)
    return CaseFilter(request.GET, queryset=cases_listed(cases_reviewable(request.user)), tenants=tenants)


def _case_id(value: str) -> int | None:
    """A case id as a form posted it, or None for anything else (\"²\", 10**20)."""
    try:
        pk = int(value)
    except ValueError:
        return None
    return pk if str(pk) == value and 0 < pk < 2**63 else None


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


@require_safe
@never_cache
def case_list(request):
    """Pending cases, due first, filtered and sorted as the form says; 50 a page."""
    filtered = _filtered(request)
    page = page_of(filtered.qs, _page_number(request))
    context = {
        "filter": filtered,
        "page": page,
        "departments": cases_departments(request.user),
        "show_tenant": request.hr_tenant_ids is None or len(request.hr_tenant_ids) > 1,
        "no_tenants": request.hr_tenant_ids == [],
        "filtered": any(v for k, v in request.GET.items() if k not in ("page", "sort")),
    }
    return render(request, "hr/cases.html", context)


def _case_page(request, case, *, status: int = 200, error: str = "", posted=None):
    context = {
        "case": case,
        "decisions": case_decisions_available(case, request.user),
        "stamp": case_stamp(case),
        "history": case_history(case),
        "leaving": case_leaving(case),
        "steps": list(case.steps.order_by("position", "pk")),
        "error": error,
        "posted": posted or {},
    }
    return render(request, "hr/case.html", context, status=status)


def _missing(request, case_id):
    return render(request, "hr/missing.html", {"case_id": case_id}, status=404)


@require_safe
@never_cache
def case_detail(request, case_id: int):
    case = case_reviewable(request.user, case_id)
    if case is None:
        return _missing(request, case_id)
    return _case_page(request, case)


@require_POST
def case_decision(request, case_id: int):
    """One decision on one case, with its reason; refused: the page again, saying why."""
    if case_reviewable(request.user, case_id) is None:
        return _missing(request, case_id)
    try:
        case = case_decide_posted(case_id=case_id, by=request.user, posted=request.POST)
    except ServiceError as error:
        status = 409 if isinstance(error, CaseChanged) else 403 if isinstance(error, NotPermitted) else 400
        refused = case_reviewable(request.user, case_id)
        if refused is None:
            return _missing(request, case_id)
        return _case_page(request, refused, status=status, error=error.message, posted=request.POST)
    messages.success(request, _done(case, request.POST.get("decision", "")))
    return HttpResponseRedirect(reverse("hr:case", args=[case_id]))


def _done(case, decision: str) -> str:
    if decision in APPROVALS and case.state == CaseState.PENDING_REVIEW:
        return "Your approval is recorded: a second reviewer must approve the deletion too (four eyes)."
    if decision == "note":
        return "Note added to the case's history."
    return f"Done. The case is now: {case.get_state_display()}."


@require_POST
def bulk_approve(request):
    """Approve several cases: first a page naming every person (POST from the list), then, with
    ``confirm``, each approval on its own (one refused stops none of the others)."""
    ids = [pk for pk in map(_case_id, request.POST.getlist("case")) if pk is not None]
    if not ids:
        messages.error(request, "Select the cases to approve first (the boxes in the list).")
        return HttpResponseRedirect(reverse("hr:cases"))
    cases = list(cases_listed(cases_reviewable(request.user)).filter(pk__in=ids).order_by(*SORTS["due"]))
    early = request.POST.get("when") == "now"
    decision = "approve_early" if early else "approve"
    if "confirm" not in request.POST or not request.POST.get("reason", "").strip():
        rows = [
            (case, case_stamp(case), decision in case_decisions_available(case, request.user))
            for case in cases
        ]
        context = {
            "rows": rows,
            "approvable": sum(1 for *_, approvable in rows if approvable),
            "missing": len(set(ids)) - len(cases),
            "early": early,
            "error": "Say why you approve these deletions: a reason is required."
            if "confirm" in request.POST
            else "",
            "reason": request.POST.get("reason", ""),
        }
        return render(request, "hr/bulk_approve.html", context, status=400 if context["error"] else 200)
    stamps = dict(zip(request.POST.getlist("case"), request.POST.getlist("seen"), strict=False))
    done: list[OffboardingCase] = []
    first: list[OffboardingCase] = []
    refused: list[tuple[OffboardingCase, str]] = []
    for case in cases:
        try:
            decided = case_decide(
                case_id=case.pk,
                by=request.user,
                decision=decision,
                reason=request.POST["reason"],
                seen=stamps.get(str(case.pk)) or "-",
            )
        except ServiceError as error:
            refused.append((case, error.message))
        else:
            (first if decided.state == CaseState.PENDING_REVIEW else done).append(case)
    if done:
        names = ", ".join(person_name(case.user) for case in done)
        messages.success(request, f"Approved the deletion of {len(done)}: {names}.")
    if first:
        names = ", ".join(person_name(case.user) for case in first)
        messages.success(
            request,
            f"Your approval is recorded for {len(first)} (four eyes: a second reviewer must approve): "
            f"{names}.",
        )
    for case, why in refused:
        messages.error(request, f"Not approved: {person_name(case.user)}. {why}")
    return HttpResponseRedirect(reverse("hr:cases"))


@require_safe
def export(request):
    """The filtered list (every page) as CSV, in the reviewer's time zone; recorded in the audit
    trail of each tenant it may contain, as an export of personal data."""
    filtered = _filtered(request)
    rows = cases_csv(filtered.qs, by=request.user, query=request.GET.urlencode())
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{EXPORT_FILENAME}"'
    response["Cache-Control"] = "no-store"
    return response


class LoginView(auth_views.LoginView):
    """Django's login, styled as the screen; django-axes guards it as it guards the admin's."""

    template_name = "hr/login.html"
    redirect_authenticated_user = True
    next_page = "hr:cases"

    def form_valid(self, form):
        response = super().form_valid(form)
        session_idle_expiry(self.request, form.get_user())
        return response

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "idle_minutes": settings.HR_SESSION_IDLE_MINUTES}


class LogoutView(auth_views.LogoutView):
    next_page = "hr:login"
