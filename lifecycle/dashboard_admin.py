"""The dashboard's page in the admin (``admin:dashboard``), linked from the admin index: the
figures of ``lifecycle.dashboard``, and a chart of the SCIM requests per day drawn in the page by
uPlot (MIT, 51 KB, served from our static files: lifecycle/static/lifecycle/vendor/, no CDN; the
CSP allows no other script)."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from lifecycle.dashboard import DUE_WITHIN, STALE_AFTER, TOKEN_WARNING, dashboard_read

VIEW_PERMISSION = "directory.view_user"


def dashboard_urls(site: AdminSite) -> list[URLPattern]:
    def view(request: HttpRequest) -> HttpResponseBase:
        return dashboard(request, site)

    return [path("dashboard/", site.admin_view(view), name="dashboard")]


def dashboard(request: HttpRequest, site: AdminSite) -> HttpResponseBase:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    figures = dashboard_read(now=now)
    chart = {
        "days": [day.day.isoformat() for day in figures.requests],
        "requests": [day.reads + day.writes for day in figures.requests],
        "errors": [day.errors for day in figures.requests],
    }
    context = {
        **site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        "chart": chart,
        "now": now,
        "due_days": DUE_WITHIN.days,
        "token_days": TOKEN_WARNING.days,
        "stale_days": STALE_AFTER.days,
        "requests_total": sum(day.reads + day.writes for day in figures.requests),
        "errors_total": sum(day.errors for day in figures.requests),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
