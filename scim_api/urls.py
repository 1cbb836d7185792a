"""SCIM routes, at /scim/v2/ (tenant from the token) and /scim/<tenant>/v2/ (tenant named too);
each resource type's endpoint, its .search and its resources, from its binding."""

from django.urls import include, path, re_path

from scim_api import views
from scim_api.bindings import BY_ENDPOINT

endpoints = [
    re_path(r"^ServiceProviderConfigs?/?$", views.DiscoveryView.as_view(document="config")),
    re_path(r"^ResourceTypes/?$", views.DiscoveryView.as_view(document="resource_types")),
    re_path(r"^ResourceTypes/(?P<name>[^/]+)/?$", views.DiscoveryView.as_view(document="resource_types")),
    re_path(r"^Schemas/?$", views.DiscoveryView.as_view(document="schemas")),
    re_path(r"^Schemas/(?P<name>[^/]+)/?$", views.DiscoveryView.as_view(document="schemas")),
    *(
        route
        for endpoint in BY_ENDPOINT
        for route in (
            re_path(rf"^{endpoint}/?$", views.ResourceListView.as_view(resource=endpoint)),
            re_path(rf"^{endpoint}/\.search/?$", views.SearchView.as_view(resource=endpoint)),
            re_path(
                rf"^{endpoint}/(?P<resource_id>[^/]+)/?$", views.ResourceDetailView.as_view(resource=endpoint)
            ),
        )
    ),
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
