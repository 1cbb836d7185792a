"""The admin login's brute-force lockout (django-axes): the page a locked-out login gets, and the
audit trail's record of failed logins, lockouts and unlocks.

django-axes counts the failures and refuses a locked-out login before any password is checked
(``AXES_*`` in settings.py says how, and why per username and per address). What it leaves to us:

- the answer to a refused login, ``lockout_response`` (``AXES_LOCKOUT_CALLABLE``): the admin's
  login page again, 429, saying until when logging in is locked, where axes would answer a bare
  line of text;
- the audit events, all of no tenant, wired in ``DirectoryConfig.ready()``:
  ``admin.login_failed`` for each failure axes counts (not for the attempts it refuses while
  locked: nothing bounds their number, and each would be a row kept for ever),
  ``admin.locked_out`` when the failures reach the limit, and ``admin.unlocked`` for each record
  of failures that an administrator (in the admin, under *Access attempts*) or a command
  (``manage.py axes_reset_username``, ``axes_reset_ip``, ``axes_reset``) deletes before its
  cool-off ran out. Records deleted because their cool-off ran out unlock nothing and are not
  recorded.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from directory.services.audit import Actor, audit_record

# Who deletes axes' records of failures: set by the admin (directory/admin.py); a deletion
# outside it is one of axes' commands (or code calling axes.utils.reset).
_unlocking_actor: ContextVar[Actor | None] = ContextVar("unlocking_actor", default=None)
COMMAND_ACTOR = Actor.system("axes reset command")


@contextmanager
def unlocking_as(actor: Actor) -> Iterator[None]:
    """Attribute the unlocks (deletions of records of failures) made inside to ``actor``."""
    token = _unlocking_actor.set(actor)
    try:
        yield
    finally:
        _unlocking_actor.reset(token)


def locked_until(request: HttpRequest, credentials: dict | None) -> datetime:
    """When the lockout of this request's username or address ends.

    Each record of failures (one username from one address) counts while its last failure is
    younger than the cool-off; a lockout lasts while the records that count add up to the limit.
    So it ends when the record that made the newest ones reach the limit grows too old.
    """
    limit = get_failure_limit(request, credentials)
    cool_off = get_cool_off(request)
    ends = []
    for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
        failures = 0
        for attempt_time, count in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            failures += count
            if failures >= limit:
                ends.append(attempt_time + cool_off)
                break
    return max(ends, default=timezone.now() + cool_off)


def lockout_response(request: HttpRequest, original_response: HttpResponse, credentials: dict):
    """The login page (the admin's, or the HR screen's), 429 with Retry-After, saying that and
    until when it is locked."""
    until = locked_until(request, credentials)
    username = get_client_username(request, credentials) or ""
    if request.path.startswith("/hr/"):  # the HR screen's own login (lifecycle.hr)
        template = "hr/login.html"
        context = {
            "form": AuthenticationForm(request, initial={"username": username}),
            "next": request.POST.get(REDIRECT_FIELD_NAME, ""),
            "idle_minutes": settings.HR_SESSION_IDLE_MINUTES,
        }
    else:
        template = "admin/login_locked_out.html"
        context = {
            **admin.site.each_context(request),
            "title": _("Log in"),
            "app_path": request.get_full_path(),
            "next": request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, "")),
            "form": AdminAuthenticationForm(request, initial={"username": username}),
        }
    response = render(request, template, {**context, "locked_until": until}, status=429)
    response["Retry-After"] = str(max(1, int((until - timezone.now()).total_seconds())))
    return response


def _client_address(request: HttpRequest) -> str | None:
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request)


def _refused_while_locked(request: HttpRequest) -> bool:
    # axes' backend flags a refused attempt before the signal; a counted failure gets its count.
    counted = getattr(request, "axes_failures_since_start", None) is not None
    return getattr(request, "axes_locked_out", False) and not counted


def record_login_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """``user_login_failed``: a wrong password (or unknown username) that axes counts."""
    if request is None or _refused_while_locked(request):
        return
    username = credentials.get("username") or ""
    audit_record(
        tenant=None,
        actor=Actor.for_client(_client_address(request)),
        action="admin.login_failed",
        target_type="admin",
        target_id=username[:64],
        target_label=username,
    )


def record_lockout(
    sender, request: HttpRequest | None, username: str | None, ip_address: str | None, **kwargs
):
    """axes' ``user_locked_out``: sent when the failures reach the limit, and again for each
    attempt refused while locked (those are not recorded)."""
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return
    username = username or ""
    until = locked_until(request, getattr(request, "axes_credentials", None))
    audit_record(
        tenant=None,
        actor=Actor.for_client(ip_address),
        action="admin.locked_out",
        target_type="admin",
        target_id=username[:64],
        target_label=username,
        changes={"locked_until": {"before": None, "after": until.isoformat()}},
    )


def record_unlock(sender, instance: AccessAttempt, **kwargs) -> None:
    """``post_delete`` of an AccessAttempt: its failures no longer count. Recorded unless its
    cool-off had run out already (axes deletes those itself)."""
    if instance.attempt_time <= timezone.now() - get_cool_off(None):
        return
    username = instance.username or ""
    audit_record(
        tenant=None,
        actor=_unlocking_actor.get() or COMMAND_ACTOR,
        action="admin.unlocked",
        target_type="admin",
        target_id=username[:64],
        target_label=f"{username} from {instance.ip_address}",
        changes={"failed_attempts": {"before": instance.failures_since_start, "after": 0}},
    )
