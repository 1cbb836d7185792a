"""Top-level URLs: the admin, the HR screen (lifecycle.hr) and, mounted from scim_api, the SCIM
endpoint."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from directory.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("hr/", include("lifecycle.hr.urls")),
    path("", include("scim_api.urls")),
]

handler400 = "scim_api.errors.handler400"
handler404 = "scim_api.errors.handler404"
handler500 = "scim_api.errors.handler500"

admin.site.site_header = "Roster administration"
admin.site.site_title = "Roster"
admin.site.index_title = "Directory"
