"""The evidence pack in the admin: ``/admin/evidence/`` (``admin:evidence_pack``), for staff who may
view offboarding cases. A form (tenant, from, to; by default the last full calendar quarter), then
the summary and the table of the tenant's terminations (``lifecycle.evidence``), each linked to its
case's page. ``?format=csv`` streams the CSV and ``?format=print`` renders a page of its own to
print or save as PDF from the browser; each export is an audit event of the tenant
(``evidence_exported_record``). Input it cannot read is a message on the page (400), never a 500.

``directory/urls.py`` mounts ``evidence_urls`` among the admin site's own URLs, so that the admin
protects the page as it does its own (signed-in staff, CSRF, never cached).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import urlencode

from directory.models import Tenant
from lifecycle.evidence import (
    evidence_tenants,
    termination_durations,
    terminations_for,
    terminations_summary,
)
from lifecycle.evidence_exports import evidence_csv, evidence_exported_record

FORMATS = ("html", "csv", "print")
PAGE_ROWS = 500  # the page's table; the CSV and the printable page have every row
PRINT_ROWS = 5000  # more is no printout anyone reads: the CSV is the evidence then
MAX_YEARS = 5
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)
VIEW_PERMISSION = "lifecycle.view_offboardingcase"


def last_quarter(today: date) -> tuple[date, date]:
    """The last full calendar quarter before ``today``'s: its first and last day."""
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = this_quarter - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


class TenantField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.slug})"


class EvidenceForm(forms.Form):
    tenant = TenantField(
        queryset=Tenant.objects.none(),
        error_messages={"invalid_choice": "No tenant of that id that you may see: choose one from the list."},
    )
    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, query, *, tenants, today: date):
        """Bound when the query names a tenant or a format (a date it leaves out is the default's);
        else the form as first shown, with the default period."""
        since, until = last_quarter(today)
        defaults = {"since": since.isoformat(), "until": until.isoformat()}
        asked = any(key in query for key in ("tenant", "since", "until", "format"))
        super().__init__({**defaults, **query.dict()} if asked else None, initial=defaults)
        cast(TenantField, self.fields["tenant"]).queryset = tenants
        only = list(tenants[:2])
        if not asked and len(only) == 1:
            self.initial["tenant"] = only[0].pk

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        for name, day in (("since", since), ("until", until)):
            if day is not None and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Choose a day from {EARLIEST} to {LATEST}.")
                return cleaned
        if since is None or until is None:
            return cleaned
        if since > until:
            raise forms.ValidationError(f"“From” ({since}) is after “To” ({until}): swap them.")
        if until + timedelta(days=1) > _years_after(since, MAX_YEARS):
            raise forms.ValidationError(
                f"Choose a period of at most {MAX_YEARS} years (from {since}, up to "
                f"{_years_after(since, MAX_YEARS) - timedelta(days=1)})."
            )
        return cleaned

    def period(self) -> tuple[datetime, datetime]:
        """[from, the day after to), as instants of the current time zone's days."""
        zone = timezone.get_current_timezone()
        since, until = self.cleaned_data["since"], self.cleaned_data["until"] + timedelta(days=1)
        return (
            datetime.combine(since, time.min, tzinfo=zone),
            datetime.combine(until, time.min, tzinfo=zone),
        )


def evidence_urls(site: AdminSite) -> list[URLPattern]:
    """The pack's URL, for the admin site's URL list (its namespace: ``admin:evidence_pack``)."""

    def view(request: HttpRequest) -> HttpResponseBase:
        return evidence_pack(request, site)

    return [path("evidence/", site.admin_view(view), name="evidence_pack")]


def evidence_pack(request: HttpRequest, site: AdminSite) -> HttpResponseBase:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    form = EvidenceForm(request.GET, tenants=evidence_tenants(request.user), today=timezone.localdate())
    fmt = request.GET.get("format", "html")
    context = {**site.each_context(request), "title": "Evidence pack", "form": form, "problems": []}
    if fmt not in FORMATS:
        context["problems"].append(f"There is no format “{fmt}”: choose the page, csv or print.")
    if not form.is_bound or context["problems"] or not form.is_valid():
        status = 400 if form.is_bound else 200
        return TemplateResponse(request, "admin/lifecycle/evidence_pack.html", context, status=status)

    tenant: Tenant = form.cleaned_data["tenant"]
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    start, end = form.period()
    if fmt == "csv":
        evidence_exported_record(tenant=tenant, by=request.user, since=since, until=until, fmt=fmt)
        response = StreamingHttpResponse(
            evidence_csv(tenant=tenant, since=start, until=end), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="evidence-{tenant.slug}-{since}-{until}.csv"'
        return response

    now = timezone.now()
    summary = terminations_summary(tenant, start, end, now=now)
    query = {"tenant": tenant.pk, "since": since.isoformat(), "until": until.isoformat()}
    context |= {
        "tenant": tenant,
        "since": since,
        "until": until,
        "summary": summary,
        "durations": termination_durations(tenant, start, end),
        "zone": timezone.get_current_timezone_name(),
        "csv_url": f"{request.path}?{urlencode({**query, 'format': 'csv'})}",
        "print_url": f"{request.path}?{urlencode({**query, 'format': 'print'})}",
    }
    if fmt == "print":
        if summary.terminations > PRINT_ROWS:
            context["problems"].append(
                f"{summary.terminations} terminations are more than a printout of {PRINT_ROWS} holds: "
                "choose a shorter period, or take the CSV, which has them all."
            )
            return TemplateResponse(request, "admin/lifecycle/evidence_pack.html", context, status=400)
        evidence_exported_record(tenant=tenant, by=request.user, since=since, until=until, fmt=fmt)
        context |= {
            "rows": list(terminations_for(tenant, start, end, now=now)),
            "generated_at": now,
            "generated_by": request.user.get_username(),
        }
        return TemplateResponse(request, "lifecycle/evidence_print.html", context)
    context["rows"] = list(terminations_for(tenant, start, end, now=now, limit=PAGE_ROWS))
    context["page_rows"] = PAGE_ROWS
    return TemplateResponse(request, "admin/lifecycle/evidence_pack.html", context)
