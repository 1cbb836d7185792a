"""The SCIM request log in the admin (directory.models.ScimRequest): read-only, filtered by tenant,
token, method, status (a class or one code) and date, searched by request id or path, without a
full count (it grows by every write). A request's page shows its redacted body, a Bulk's
operations, and the audit events it caused (same tenant and request id), each linking to its page;
an audit event's page links back here (``scim_request_link``, on ``AuditEventAdmin``)."""

import json
from datetime import timedelta

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from directory.admin import ReadOnlyAdmin
from directory.models import AuditEvent, ScimRequest, ScimToken

# How many of a request's audit events its page lists (a Bulk request's can be thousands); the
# rest are one link away, in the audit trail searched by the request id.
EVENTS_SHOWN = 50
# The audit events a request caused are sought from its arrival to a day later (a worker opens an
# offboarding case after the request, or after the sweep when the broker was down): a range of the
# audit trail's (tenant, time) index, where a search by request id alone would read every event of
# the tenant. A minute before, for clocks of different hosts.
CAUSED_WITHIN = (timedelta(minutes=1), timedelta(days=1))


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    CODES = (200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 500, 501, 503)

    def lookups(self, request, model_admin):
        return [("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx"), *((str(c), str(c)) for c in self.CODES)]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if len(value) == 3 and value.endswith("xx") and value[0] in "12345":
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        if value.isascii() and value.isdigit() and len(value) == 3:
            return queryset.filter(status=int(value))
        return queryset


class MethodFilter(admin.SimpleListFilter):
    """The methods SCIM has, rather than Django's SELECT DISTINCT over the whole log."""

    title = "method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return [(m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


class TokenFilter(admin.SimpleListFilter):
    """Tokens named with their tenant, read in one query (Django's related filter reads each
    token's tenant apart)."""

    title = "token"
    parameter_name = "token"

    def lookups(self, request, model_admin):
        tokens = ScimToken.objects.select_related("tenant").order_by("tenant__slug", "name", "pk")
        return [(str(token.pk), str(token)) for token in tokens]

    def queryset(self, request, queryset):
        value = self.value() or ""
        return queryset.filter(token_id=int(value)) if value.isdigit() else queryset


def caused_events(request: ScimRequest) -> QuerySet[AuditEvent]:
    """The audit events of ``request``'s tenant and request id (from its arrival to a day on)."""
    if request.tenant_id is None:
        return AuditEvent.objects.none()
    before, after = CAUSED_WITHIN
    return AuditEvent.objects.filter(
        tenant_id=request.tenant_id,
        occurred_at__gte=request.received_at - before,
        occurred_at__lte=request.received_at + after,
        request_id=request.request_id,
    ).order_by("id")


def scim_request_link(event: AuditEvent) -> str:
    """For an audit event's page: a link to the logged request that caused it, if any."""
    if not event.request_id or event.tenant_id is None:
        return "-"
    found = (
        ScimRequest.objects.filter(tenant_id=event.tenant_id, request_id=event.request_id)
        .order_by("id")
        .first()
    )
    if found is None:
        return "- (not in the request log: not a SCIM write, pruned, or not written yet)"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:directory_scimrequest_change", args=[found.pk]), found
    )


@admin.register(ScimRequest)
class ScimRequestAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "tenant", "token", "method", "path", "status", "scim_type", "latency_ms"]
    list_filter = [
        "tenant",
        TokenFilter,
        MethodFilter,
        StatusFilter,
        ("received_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=request_id", "path"]
    list_select_related = ["tenant", "token"]
    show_full_result_count = False
    fields = [
        "received_at",
        "request_id",
        "tenant",
        "token",
        "method",
        "path",
        "query",
        "status",
        "scim_type",
        "latency_ms",
        "request_body",
        "bulk_operations",
        "audit_events",
    ]
    readonly_fields = ["request_body", "bulk_operations", "audit_events"]

    @admin.display(description="body")
    def request_body(self, obj: ScimRequest) -> str:
        if not obj.body:
            return "-"
        if obj.body_truncated:
            return format_html("<pre>{}</pre><p>(cut at 16 KB)</p>", obj.body)
        return format_html("<pre>{}</pre>", json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False))

    @admin.display(description="Bulk operations")
    def bulk_operations(self, obj: ScimRequest) -> str:
        if not obj.operations:
            return "-"
        return format_html(
            "<table><tr><th>method</th><th>path</th><th>bulkId</th><th>status</th><th>scimType</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    tuple(op.get(k) or "" for k in ("method", "path", "bulkId", "status", "scimType"))
                    for op in obj.operations
                ),
            ),
        )

    @admin.display(description="audit events caused")
    def audit_events(self, obj: ScimRequest) -> str:
        events = list(caused_events(obj)[: EVENTS_SHOWN + 1])
        if not events:
            return "-"
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a></li>',
            ((reverse("admin:directory_auditevent_change", args=[e.pk]), e) for e in events[:EVENTS_SHOWN]),
        )
        more = ""
        if len(events) > EVENTS_SHOWN:
            url = f"{reverse('admin:directory_auditevent_changelist')}?{urlencode({'q': obj.request_id})}"
            more = format_html('<li><a href="{}">all of them, in the audit trail</a></li>', url)
        return format_html("<ul>{}{}</ul>", items, more)
