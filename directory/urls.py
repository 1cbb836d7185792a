"""Top-level URLs: the admin, the HR screen (lifecycle.hr) and, mounted from scim_api, the SCIM
endpoint."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from directory.event_feed import events_feed
from directory.health import healthz
from directory.metrics import metrics
from lifecycle.dashboard_admin import dashboard_urls
from lifecycle.evidence_admin import evidence_urls

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/events", events_feed, name="events_feed"),
    # The admin's own URLs, and the pages it shows beside its models' (admin:dashboard,
    # admin:evidence_pack).
    path(
        "admin/",
        (
            dashboard_urls(admin.site) + evidence_urls(admin.site) + admin.site.get_urls(),
            "admin",
            admin.site.name,
        ),
    ),
    path("hr/", include("lifecycle.hr.urls")),
    path("", include("scim_api.urls")),
]

handler400 = "scim_api.errors.handler400"
handler404 = "scim_api.errors.handler404"
handler500 = "scim_api.errors.handler500"

admin.site.site_header = "Roster administration"
admin.site.site_title = "Roster"
admin.site.index_title = "Directory"
