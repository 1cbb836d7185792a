"""SCIM routes, at /scim/v2/ (tenant from the token) and /scim/<tenant>/v2/ (tenant named too)."""

from django.urls import include, path, re_path

from scim_api import views

endpoints = [
    re_path(r"^ServiceProviderConfigs?/?$", views.DiscoveryView.as_view(document="config")),
    re_path(r"^ResourceTypes/?$", views.DiscoveryView.as_view(document="resource_types")),
    re_path(r"^ResourceTypes/(?P<name>[^/]+)/?$", views.DiscoveryView.as_view(document="resource_types")),
    re_path(r"^Schemas/?$", views.DiscoveryView.as_view(document="schemas")),
    re_path(r"^Schemas/(?P<name>[^/]+)/?$", views.DiscoveryView.as_view(document="schemas")),
    re_path(r"^Users/?$", views.ResourceListView.as_view(resource="Users")),
    re_path(r"^Users/\.search/?$", views.SearchView.as_view(resource="Users")),
    re_path(r"^Users/(?P<resource_id>[^/]+)/?$", views.ResourceDetailView.as_view(resource="Users")),
    re_path(r"^Groups/?$", views.ResourceListView.as_view(resource="Groups")),
    re_path(r"^Groups/\.search/?$", views.SearchView.as_view(resource="Groups")),
    re_path(r"^Groups/(?P<resource_id>[^/]+)/?$", views.ResourceDetailView.as_view(resource="Groups")),
    re_path(r"^\.search/?$", views.RootSearchView.as_view()),
    re_path(r"^Bulk/?$", views.BulkView.as_view()),
    re_path(r"^Me(?:/.*)?$", views.MeView.as_view()),
    re_path(r"^openapi\.json$", views.OpenAPIView.as_view()),
    re_path(r"^.*$", views.not_found),
]

urlpatterns = [
    path("scim/v2/", include(endpoints)),
    path("scim/<slug:tenant_slug>/v2/", include(endpoints)),
    re_path(r"^scim(?:/.*)?$", views.not_found),
]
