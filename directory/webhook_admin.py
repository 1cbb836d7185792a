"""Webhook endpoints in the admin (issue 22): created through ``webhook_endpoint_create`` (the
signing secret, and a SET endpoint's public key, shown on the page answering the POST), their
delivery state and newest attempts on their page, and one page per operation (send a test event,
rotate the secret, replay, disable or enable), each a POST calling one service of
``directory.services.webhooks`` and answering with an admin message. Attempts are listed, read-only,
by ``WebhookAttemptAdmin``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, OuterRef, Subquery, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_variables

from directory.models import Event, WebhookAttempt, WebhookEndpoint, WebhookFormat
from directory.outbound import outbound_url_problem
from directory.security_events import set_public_jwk
from directory.services.audit import Actor
from directory.services.events import EVENT_TYPES, event_public_id
from directory.services.webhooks import (
    MAX_ROTATION_OVERLAP,
    SET_EVENTS,
    endpoint_set_kid,
    webhook_enable,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_replay_event,
    webhook_replay_since,
    webhook_secret_rotate,
    webhook_send_test,
)

WAITING_CAP = 1000  # the list counts the events after a cursor up to this, then says "1000+"
ATTEMPTS_SHOWN = 50  # on an endpoint's page; the rest in the attempts list
EDITABLE = ("url", "description", "event_types")  # once created; tenant and format are fixed
TEMPLATES = "admin/directory/webhookendpoint/"


# Forms -------------------------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        max_length=500,
        widget=forms.URLInput(attrs={"class": "vURLField"}),
        help_text="Where the events are POSTed: https:// (http:// only where the server allows it).",
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=[(kind, kind) for kind in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "None ticked: every type, including those added later. The SET format (RFC 9967) has events "
            f"for {', '.join(sorted(SET_EVENTS))} only; the other types are refused for it."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "description", "event_types", "format"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "tenant" in self.fields:
            self.fields["tenant"].empty_label = "Every tenant"  # type: ignore[attr-defined]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        problem = outbound_url_problem(url)
        if problem:
            raise ValidationError(problem)
        return url

    def clean_event_types(self) -> list[str]:
        return sorted(set(self.cleaned_data["event_types"]))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen = self.cleaned_data.get("format", self.instance.format)
        beyond = [kind for kind in cleaned.get("event_types") or () if kind not in SET_EVENTS]
        if chosen == WebhookFormat.SET and beyond:
            self.add_error(
                "event_types",
                f"The SET format has no event for {', '.join(beyond)}: leave them out, or choose the "
                "Standard Webhooks format.",
            )
        return cleaned


class SecretRotationForm(forms.Form):
    overlap = forms.IntegerField(
        label="The previous secret keeps signing for (hours)",
        min_value=0,
        max_value=int(MAX_ROTATION_OVERLAP.total_seconds() // 3600),
        initial=24,
        help_text="0 to 720 (30 days). Meanwhile every delivery carries both signatures, so that the "
        "receiver can be given the new secret without a failed delivery.",
    )


class ReplaySinceForm(forms.Form):
    since = forms.DateTimeField(
        label="Send again every event published since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the server's time zone (UTC). Events older than the retention are gone.",
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise ValidationError("That is in the future: choose a time in the past.")
        return since


class ReplayEventForm(forms.Form):
    event = forms.CharField(
        label="Event",
        max_length=80,
        help_text="Its id (evt_…, the webhook-id header) or its cursor (a number).",
    )

    def __init__(self, *args: Any, endpoint: WebhookEndpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint

    def clean_event(self) -> Event:
        event = _event_named(self.cleaned_data["event"].strip())
        if event is None:
            raise ValidationError("No such event (or no longer: events are kept for the retention period).")
        endpoint = self.endpoint
        if endpoint.tenant_id is not None and event.tenant_id != endpoint.tenant_id:
            raise ValidationError(
                "That event is another tenant's: this endpoint receives its own tenant's only."
            )
        if endpoint.event_types and event.type not in endpoint.event_types:
            raise ValidationError(f"This endpoint is not subscribed to {event.type} events.")
        if endpoint.format == WebhookFormat.SET and event.type not in SET_EVENTS:
            raise ValidationError(f"The SET format has no event for {event.type}.")
        return event


def _event_named(name: str) -> Event | None:
    """The event of a public id (``evt_`` and its uid's hex) or of a cursor (its id)."""
    if name.startswith("evt_"):
        try:
            uid = uuid.UUID(hex=name.removeprefix("evt_"))
        except ValueError:
            return None
        return Event.objects.filter(uid=uid).first()
    pk = _int_or_none(name)
    return Event.objects.filter(pk=pk).first() if pk is not None else None


def _int_or_none(value: object) -> int | None:
    """An id from a URL or a form as an int, or None (what ``int()`` would refuse: "²", "abc")."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


# The endpoints -----------------------------------------------------------------------------------


class _CappedCount(Subquery):
    """COUNT(*) of a sliced subquery: at most its slice's length rows are read."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def _waiting() -> Case:
    """How many events are after the endpoint's cursor (of its tenant, or of all), up to
    WAITING_CAP + 1: the (tenant, id) index or the primary key read that far, no further."""

    def after_cursor(**tenant: Any) -> _CappedCount:
        events = Event.objects.filter(pk__gt=OuterRef("cursor"), **tenant).order_by().values("pk")
        return _CappedCount(events[: WAITING_CAP + 1])

    return Case(
        When(tenant__isnull=True, then=after_cursor()),
        default=after_cursor(tenant_id=OuterRef("tenant_id")),
        output_field=IntegerField(),
    )


def _last_attempt(column: str) -> Subquery:
    attempts = WebhookAttempt.objects.filter(endpoint=OuterRef("pk")).order_by("-pk")
    return Subquery(attempts.values(column)[:1])


class _TenantFilter(admin.RelatedFieldListFilter):
    """By tenant, the endpoints of no tenant's named for what they are: every tenant's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_value_display = SafeString("every tenant")


def _endpoint_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An operation's view, given the endpoint of the URL: an unknown or malformed id is a message on
    the endpoints' list; one needs the change permission."""

    @wraps(view)
    def wrapper(self: WebhookEndpointAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
        pk = _int_or_none(object_id)
        endpoint = WebhookEndpoint.objects.select_related("tenant").filter(pk=pk).first() if pk else None
        if endpoint is None:
            messages.warning(request, f"There is no webhook endpoint with the id “{object_id}”.")
            return HttpResponseRedirect(reverse("admin:directory_webhookendpoint_changelist"))
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return view(self, request, endpoint)

    return wrapper


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Where events are sent. Created and operated through the services; its URL, description and
    event types edited in place (audited as ``webhook.updated``); deleted by superusers only."""

    form = WebhookEndpointForm
    list_display = [
        "url",
        "scope",
        "format_name",
        "subscribed",
        "state",
        "failing_since",
        "next_attempt_at",
        "queue",
        "last_attempt",
    ]
    list_filter = [("tenant", _TenantFilter), "enabled", "format"]
    list_select_related = ["tenant"]
    search_fields = ["url"]
    change_form_template = TEMPLATES + "change_form.html"
    add_fieldsets = [(None, {"fields": ["tenant", "url", "description", "event_types", "format"]})]
    fieldsets = [
        (None, {"fields": ["scope", "format", "url", "description", "event_types"]}),
        (
            "Delivery",
            {"fields": ["state", "failing_since", "failures", "next_attempt_at", "queue", "leased_until"]},
        ),
        ("Signing", {"fields": ["signing_secret", "previous_secret_until", "public_jwk"]}),
        (None, {"fields": ["created_at", "created_by"]}),
    ]
    readonly_fields = [
        "scope",
        "format",
        "state",
        "failing_since",
        "failures",
        "next_attempt_at",
        "queue",
        "leased_until",
        "signing_secret",
        "previous_secret_until",
        "public_jwk",
        "created_at",
        "created_by",
    ]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .annotate(
                waiting=_waiting(),
                last_status=_last_attempt("status"),
                last_error=_last_attempt("error"),
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: WebhookEndpoint | None = None):
        if obj is None:
            return self.add_fieldsets
        if self.has_change_permission(request, obj):
            return self.fieldsets
        # Who may only view it does not see the secret (it would let them sign events).
        signing = ("Signing", {"fields": ["previous_secret_until", "public_jwk"]})
        return [signing if name == "Signing" else (name, options) for name, options in self.fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None):
        return [] if obj is None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)

    # The list's columns, and the page's read-only fields.

    @admin.display(description="Tenant", ordering="tenant")
    def scope(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.tenant.slug if endpoint.tenant else "every tenant"

    @admin.display(description="Format", ordering="format")
    def format_name(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.get_format_display().split(" (")[0]

    @admin.display(description="Event types")
    def subscribed(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types) if endpoint.event_types else "all"

    @admin.display(description="State", ordering="enabled")
    def state(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.enabled:
            failing = f", failing ({endpoint.failures} failed attempts)" if endpoint.failing_since else ""
            return f"enabled{failing}"
        when = f" on {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC" if endpoint.disabled_at else ""
        return f"disabled{when}: {endpoint.disabled_reason or 'no reason recorded'}"

    @admin.display(description="Queue")
    def queue(self, endpoint: WebhookEndpoint) -> str:
        waiting = getattr(endpoint, "waiting", None)
        if waiting is None:
            return f"#{endpoint.cursor}"
        count = f"{WAITING_CAP}+" if waiting > WAITING_CAP else str(waiting)
        return f"#{endpoint.cursor}, {count} events after it"

    @admin.display(description="Last attempt")
    def last_attempt(self, endpoint: WebhookEndpoint) -> str:
        status, error = getattr(endpoint, "last_status", None), getattr(endpoint, "last_error", "")
        if status is None and not error:
            return "-"
        return str(status) if status is not None else error[:80]

    @admin.display(description="Signing secret")
    def signing_secret(self, endpoint: WebhookEndpoint) -> str:
        return format_html(
            '<details class="webhook-secret"><summary>Reveal the secret</summary>'
            '<code id="webhook-secret">{}</code></details>',
            endpoint.secret,
        )

    @admin.display(description="Public key (JWK)")
    def public_jwk(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.format != WebhookFormat.SET or not endpoint.set_private_key:
            return "-"
        return format_html('<pre class="webhook-jwk">{}</pre>', _jwk_text(endpoint))

    # Creating and editing.

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        actor = Actor.for_admin(request.user)
        if change:
            webhook_endpoint_update(
                endpoint=obj, actor=actor, fields=[f for f in form.changed_data if f in EDITABLE]
            )
            return
        data = form.cleaned_data
        endpoint = webhook_endpoint_create(
            tenant=data["tenant"],
            url=data["url"],
            event_types=data["event_types"],
            format=data["format"],
            description=data["description"],
            actor=actor,
        )
        obj.pk = endpoint.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint=obj, actor=Actor.for_admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset:
            webhook_endpoint_delete(endpoint=endpoint, actor=Actor.for_admin(request.user))

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None
    ) -> HttpResponse:
        messages.success(request, f"Added the webhook endpoint {obj}.")
        return self._secret_page(request, obj, "Webhook endpoint added", obj.secret)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        pk = _int_or_none(object_id)
        attempts = WebhookAttempt.objects.filter(endpoint_id=pk).order_by("-pk")[:ATTEMPTS_SHOWN]
        extra = {
            "attempts": list(attempts) if pk is not None else [],
            "attempts_shown": ATTEMPTS_SHOWN,
            "attempts_url": reverse("admin:directory_webhookattempt_changelist")
            + f"?endpoint__id__exact={pk}",
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # The operations: one page each, answering a POST with a message.

    def get_urls(self):
        operations = [
            ("test", self.test_view),
            ("rotate", self.rotate_view),
            ("replay-since", self.replay_since_view),
            ("replay-event", self.replay_event_view),
            ("enable", self.enable_view),
            ("disable", self.disable_view),
        ]
        return [
            *(
                path(
                    f"<path:object_id>/{name}/",
                    self.admin_site.admin_view(view),
                    name=f"directory_webhookendpoint_{name.replace('-', '_')}",
                )
                for name, view in operations
            ),
            *super().get_urls(),
        ]

    @_endpoint_view
    def test_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        """Send a ``webhook.test`` event now; the message says what came back."""
        if request.method != "POST":
            return self._page(request, endpoint, "test.html", "Send a test event")
        attempt = webhook_send_test(endpoint=endpoint, actor=Actor.for_admin(request.user))
        level = messages.SUCCESS if attempt.delivered else messages.ERROR
        messages.add_message(request, level, _attempt_summary(attempt))
        return self._back(endpoint, "#webhook-attempts")

    @sensitive_variables("secret")
    @_endpoint_view
    def rotate_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        """A new secret, shown as a new endpoint's is; the previous one signs too for the overlap."""
        form = SecretRotationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            secret = webhook_secret_rotate(
                endpoint=endpoint,
                actor=Actor.for_admin(request.user),
                overlap=timedelta(hours=form.cleaned_data["overlap"]),
            )
            endpoint.refresh_from_db()
            until = _overlap_end(endpoint)
            messages.success(
                request,
                f"Rotated the signing secret of {endpoint}: the previous one signs too until "
                f"{until:%Y-%m-%d %H:%M} UTC."
                if until
                else f"Rotated the signing secret of {endpoint}: the previous one no longer signs.",
            )
            return self._secret_page(request, endpoint, "Signing secret rotated", secret, rotated=True)
        return self._page(request, endpoint, "rotate.html", "Rotate the signing secret", form=form)

    @_endpoint_view
    def replay_since_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        """Move the cursor back to before a time: the events since are sent again, in order."""
        form = ReplaySinceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            since = form.cleaned_data["since"]
            count = webhook_replay_since(endpoint=endpoint, actor=Actor.for_admin(request.user), since=since)
            messages.success(
                request,
                f"The queue of {endpoint} went back over {count} events, to those published since "
                f"{since:%Y-%m-%d %H:%M} UTC: the ones it is subscribed to are sent again, in order.",
            )
            return self._back(endpoint)
        return self._page(request, endpoint, "replay_since.html", "Replay events since a time", form=form)

    @_endpoint_view
    def replay_event_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        """Send one event again, ahead of the queue."""
        form = ReplayEventForm(request.POST or None, endpoint=endpoint)
        if request.method == "POST" and form.is_valid():
            event = form.cleaned_data["event"]
            webhook_replay_event(endpoint=endpoint, actor=Actor.for_admin(request.user), event=event)
            messages.success(
                request,
                f"The event {event_public_id(event)} ({event.type}, #{event.pk}) is sent again to "
                f"{endpoint.url}, ahead of its queue, with the same webhook-id.",
            )
            return self._back(endpoint)
        return self._page(request, endpoint, "replay_event.html", "Replay one event", form=form)

    @_endpoint_view
    def enable_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        return self._switch(request, endpoint, enabled=True)

    @_endpoint_view
    def disable_view(self, request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
        return self._switch(request, endpoint, enabled=False)

    def _switch(self, request: HttpRequest, endpoint: WebhookEndpoint, *, enabled: bool) -> HttpResponse:
        """Disable (its events wait in its queue) or enable (delivery resumes from the cursor)."""
        word = "enabled" if enabled else "disabled"
        if endpoint.enabled == enabled:
            messages.info(request, f"{endpoint} is {word} already.")
            return self._back(endpoint)
        if request.method == "POST":
            webhook_enable(endpoint=endpoint, actor=Actor.for_admin(request.user), enabled=enabled)
            messages.success(
                request,
                f"Enabled {endpoint}: delivery resumes from its queue."
                if enabled
                else f"Disabled {endpoint}: its events wait in its queue until it is enabled again.",
            )
            return self._back(endpoint)
        title = "Enable the endpoint" if enabled else "Disable the endpoint"
        return self._page(request, endpoint, "switch.html", title, enabled=enabled)

    def _page(self, request: HttpRequest, endpoint: WebhookEndpoint, template: str, title: str, **context):
        return TemplateResponse(
            request,
            TEMPLATES + template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "endpoint": endpoint,
                **context,
            },
        )

    @sensitive_variables("secret")
    def _secret_page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, title: str, secret: str, rotated: bool = False
    ) -> TemplateResponse:
        """The secret (and a SET endpoint's public key), prominently, with a copy button, on the page
        answering the POST; ``no-store``, and its history entry becomes the endpoint's page."""
        response = self._page(
            request,
            endpoint,
            "secret.html",
            title,
            secret=secret,
            rotated=rotated,
            previous_until=_overlap_end(endpoint),
            jwk=_jwk_text(endpoint) if endpoint.format == WebhookFormat.SET else "",
        )
        add_never_cache_headers(response)
        return response

    def _back(self, endpoint: WebhookEndpoint, anchor: str = "") -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:directory_webhookendpoint_change", args=[endpoint.pk]) + anchor
        )


def _overlap_end(endpoint: WebhookEndpoint):
    """Until when the previous secret signs too; None when it no longer does."""
    until = endpoint.previous_secret_until
    return until if endpoint.previous_secret and until and until > timezone.now() else None


def _jwk_text(endpoint: WebhookEndpoint) -> str:
    return json.dumps(set_public_jwk(endpoint.set_private_key, endpoint_set_kid(endpoint)), indent=2)


def _attempt_summary(attempt: WebhookAttempt) -> str:
    answer = f"answered {attempt.status}" if attempt.status is not None else "no answer"
    outcome = "delivered" if attempt.delivered else "not delivered"
    error = f": {attempt.error}" if attempt.error else ""
    return (
        f"Test event {attempt.webhook_id} {outcome}: {answer} in {attempt.latency_ms:.1f} ms{error}."
        if attempt.delivered or error
        else f"Test event {attempt.webhook_id} {outcome}: {answer} in {attempt.latency_ms:.1f} ms: "
        f"{attempt.answer[:200] or 'an empty body'}."
    )


# Attempts ----------------------------------------------------------------------------------------


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    """Every delivery attempt, newest first, filtered by endpoint (an endpoint's page links here),
    read-only."""

    list_display = [
        "attempted_at",
        "endpoint",
        "webhook_id",
        "event_type",
        "kind",
        "status",
        "latency",
        "error",
        "answer_start",
    ]
    list_filter = ["endpoint", "kind", "delivered"]
    list_select_related = ["endpoint__tenant"]
    search_fields = ["webhook_id"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-pk"]

    @admin.display(description="Latency (ms)", ordering="latency_ms")
    def latency(self, attempt: WebhookAttempt) -> str:
        return f"{attempt.latency_ms:.1f}"

    @admin.display(description="Answer")
    def answer_start(self, attempt: WebhookAttempt) -> str:
        return attempt.answer[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookAttempt | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookAttempt | None = None) -> bool:
        return False
