"""Who reaches the HR screen, and what an HR reviewer reaches: ``/hr/`` only.

- ``reviewer_required``: the screen's views are for HR reviewers (their tenants' cases) and
  administrators (every tenant's); anyone else signed in gets 403, anyone signed out the screen's
  login page.
- ``ReviewerMiddleware``: a reviewer's request for the admin is 403 (the admin itself would offer
  its login page to sign in as someone else, which is no answer); on ``/hr/`` the session expires
  after ``HR_SESSION_IDLE_MINUTES`` without a request (Django's own expiry, renewed on each
  request), and dates are in the reviewer's time zone: its own setting, else its browser's (a
  cookie ``static/lifecycle/hr.js`` sets), else UTC.
"""

from __future__ import annotations

import zoneinfo
from functools import cache, wraps
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import Reviewer
from lifecycle.reviewers import is_reviewer, reviewer_tenant_ids

TIMEZONE_COOKIE = "roster_tz"


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def reviewer_zone(request) -> zoneinfo.ZoneInfo:
    """The time zone the HR screen shows dates in for this request."""
    user = request.user
    name = ""
    if user.is_authenticated:
        name = Reviewer.objects.filter(user=user).values_list("timezone", flat=True).first() or ""
    if not name:
        name = unquote(request.COOKIES.get(TIMEZONE_COOKIE, ""))  # hr.js encodes it (Asia%2FTokyo)
    return zoneinfo.ZoneInfo(name if name in _zones() else "UTC")


def session_idle_expiry(request, user) -> None:
    """A reviewer's session ends HR_SESSION_IDLE_MINUTES after its last request (set again by
    each); an administrator's is the admin's to keep."""
    if not user.is_staff:
        request.session.set_expiry(settings.HR_SESSION_IDLE_MINUTES * 60)


def forbidden(request, message: str):
    return render(request, "hr/forbidden.html", {"message": message}, status=403)


def reviewer_required(view):
    """Let HR reviewers and administrators in; the tenants the person sees are
    ``request.hr_tenant_ids`` (None: every tenant)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            # After signing in, back to the page (a form's POST-only address would answer 405).
            back = request.get_full_path() if request.method in ("GET", "HEAD") else reverse("hr:cases")
            return redirect_to_login(back, reverse("hr:login"))
        tenant_ids = reviewer_tenant_ids(user)
        if tenant_ids == [] and not is_reviewer(user):
            return forbidden(
                request,
                f"{user.get_username()} is neither an HR reviewer nor an administrator who may view "
                "offboarding cases. Ask an administrator to add you to the group “HR reviewers”.",
            )
        request.hr_tenant_ids = tenant_ids
        return view(request, *args, **kwargs)

    return wrapped


class ReviewerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info  # without the prefix the site may be mounted under
        if path.startswith("/admin/") and is_reviewer(request.user):
            return forbidden(request, "HR reviewers use the HR screen only: the admin is for administrators.")
        if path == "/" and is_reviewer(request.user):
            return HttpResponseRedirect(reverse("hr:cases"))  # not to the admin, which refuses them
        if not path.startswith("/hr/"):
            return self.get_response(request)
        if request.user.is_authenticated:
            session_idle_expiry(request, request.user)
        with timezone.override(reviewer_zone(request)):
            return self.get_response(request)
