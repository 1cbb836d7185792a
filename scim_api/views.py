"""SCIM endpoints. Views parse the request, call one resource handler, and render."""

from itertools import groupby
from operator import itemgetter
from typing import cast

from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.models import ScimToken
from directory.services.audit import Actor
from scim_api import bulk, discovery, etags, openapi
from scim_api.authentication import HasScimToken, ScimBearerAuthentication
from scim_api.errors import (
    InvalidSyntax,
    InvalidValue,
    NotImplementedScim,
    exception_handler,
    scim_json_response,
)
from scim_api.listing import ResourceList, resource_list, resources_search
from scim_api.negotiation import ScimContentNegotiation
from scim_api.parsers import ScimJSONParser
from scim_api.projection import Projection
from scim_api.renderers import ScimJSONRenderer
from scim_api.request_ids import request_id_of
from scim_api.resources import RESOURCES, with_current_schemas
from scim_api.schema import LIST_RESPONSE
from scim_api.throttling import TokenRateThrottle

SEARCH_PARAMETERS = (
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "attributes",
    "excludedAttributes",
    "cursor",
)


class ScimView(APIView):
    authentication_classes = [ScimBearerAuthentication]
    permission_classes = [HasScimToken]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [ScimJSONParser]
    renderer_classes = [ScimJSONRenderer]
    content_negotiation_class = ScimContentNegotiation

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        self.request_id = request_id_of(request._request)  # ScimErrorMiddleware chose it
        try:
            super().initial(request, *args, **kwargs)
        finally:
            # Who called, for the request's log record (directory.request_log) and the request log
            # (scim_api.traffic), should the view fail too: the token, never its secret.
            request._request.scim_token = request.auth if isinstance(request.auth, ScimToken) else None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-ID"] = getattr(self, "request_id", "")
        return response

    # request.auth is ScimBearerAuthentication's ScimToken (djangorestframework-stubs name DRF's
    # own authtoken Token).
    @property
    def tenant(self):
        """The token's tenant; read anew once a write met changed extension declarations."""
        return getattr(self, "_tenant", None) or cast(ScimToken, self.request.auth).tenant

    def write(self, write):
        """``write(tenant)``, worked out anew should the tenant's extension declarations change
        under it (``with_current_schemas``); what follows (rendering) sees the same tenant."""
        result, self._tenant = with_current_schemas(self.tenant, write)
        return result

    @property
    def actor(self) -> Actor:
        return Actor.for_token(cast(ScimToken, self.request.auth), self.request_id)

    @property
    def base_url(self) -> str:
        """The SCIM root the client called: /scim/v2 or /scim/<tenant>/v2, absolute."""
        slug = self.kwargs.get("tenant_slug")
        return self.request.build_absolute_uri(f"/scim/{slug}/v2" if slug else "/scim/v2")

    def projection(self, handler) -> Projection:
        return Projection.of(handler.type_for(self.tenant), self.request.query_params)


class ResourceView(ScimView):
    """Shared by the endpoints of one resource type; each subclass defines only the methods its
    URL allows, so that 405 answers list the right ones in Allow."""

    resource = ""

    def query(self, handler, params) -> dict:
        """A ListResponse for GET on the endpoint and for POST .search (same parameters, RFC 9865
        section 3): the page ``resource_list`` selects, rendered."""
        projection = Projection.of(handler.type_for(self.tenant), params)
        found = resource_list(tenant=self.tenant, handler=handler, params=params, projection=projection)
        return self.list_body(found, {handler: projection})

    def list_body(self, found: ResourceList, projections: dict) -> dict:
        """A ListResponse (RFC 7644 section 3.4.2): with index paging startIndex; with cursor
        paging nextCursor except on the last page, previousCursor except on the first, and no
        startIndex (RFC 9865 section 2)."""
        body: dict = {"schemas": [LIST_RESPONSE], "totalResults": found.total}
        if found.start_index is not None:
            body["startIndex"] = found.start_index
        body["itemsPerPage"] = len(found.items)
        if found.previous_cursor:
            body["previousCursor"] = found.previous_cursor
        if found.next_cursor:
            body["nextCursor"] = found.next_cursor
        resources: list[dict] = []
        for handler, run in groupby(found.items, key=itemgetter(0)):
            items = [item for _, item in run]
            resources += handler.render_many(self.tenant, items, projections[handler], self.base_url)
        body["Resources"] = resources
        return body

    def resource_response(self, handler, instance, status=200):
        body = handler.render(self.tenant, instance, self.projection(handler), self.base_url)
        location = f"{self.base_url}{handler.resource_type.endpoint}/{instance.pk}"
        headers = {"ETag": instance.etag}
        if status == 201:
            headers["Location"] = location
        return Response(body, status=status, headers=headers)


class ResourceListView(ResourceView):
    def get(self, request, **kwargs):
        return Response(self.query(RESOURCES[self.resource], request.query_params))

    def post(self, request, **kwargs):
        handler = RESOURCES[self.resource]
        instance = self.write(lambda tenant: handler.create(tenant, self.actor, request.data))
        return self.resource_response(handler, instance, status=201)


class SearchView(ResourceView):
    """POST /Users/.search, /Groups/.search (RFC 7644 section 3.4.3): a query in the body."""

    def post(self, request, **kwargs):
        return Response(self.query(RESOURCES[self.resource], self.search_params(request.data)))

    def search_params(self, body) -> dict:
        if not isinstance(body, dict):
            raise InvalidSyntax("A search request must be a JSON object.")
        params = {key: value for key, value in body.items() if key.lower() != "schemas"}
        canonical = {name.lower(): name for name in SEARCH_PARAMETERS}
        unknown = [key for key in params if key.lower() not in canonical]
        if unknown:
            raise InvalidValue(f"Unknown search parameter(s): {', '.join(unknown)}.")
        params = {canonical[key.lower()]: value for key, value in params.items()}
        for name in ("attributes", "excludedAttributes"):
            names = params.get(name)
            if isinstance(names, list) and all(isinstance(item, str) for item in names):
                params[name] = ",".join(names)  # as in a query string (projections are kept by it)
        return params


class RootSearchView(SearchView):
    """POST /.search: every resource type at once, Users then Groups (``resources_search``). Its
    parameters are read as each type's own search reads them, so that both refuse a request alike."""

    def post(self, request, **kwargs):
        params = self.search_params(request.data)
        found, projections = resources_search(
            tenant=self.tenant, handlers=list(RESOURCES.values()), params=params
        )
        return Response(self.list_body(found, projections))


class ResourceDetailView(ResourceView):
    def get(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.get(self.tenant, resource_id, self.projection(handler))
        if etags.matches(request.META.get("HTTP_IF_NONE_MATCH"), instance.version):
            return Response(status=304, headers={"ETag": instance.etag})
        return self.resource_response(handler, instance)

    def put(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        expected = self.expected_version()
        instance = self.write(
            lambda tenant: handler.replace(tenant, self.actor, resource_id, request.data, expected)
        )
        return self.resource_response(handler, instance)

    def patch(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        expected = self.expected_version()
        instance = self.write(
            lambda tenant: handler.patch(tenant, self.actor, resource_id, request.data, expected)
        )
        asked = request.query_params.get("attributes") or request.query_params.get("excludedAttributes")
        if not handler.patch_returns_resource and not asked:
            return Response(status=204, headers={"ETag": instance.etag})
        return self.resource_response(handler, instance)

    def delete(self, request, resource_id, **kwargs):
        RESOURCES[self.resource].delete(self.tenant, self.actor, resource_id, self.expected_version())
        return Response(status=204)

    def expected_version(self) -> int | None:
        """The version If-Match demands; None when any version will do (no header, or *)."""
        return etags.expected_version(self.request.META.get("HTTP_IF_MATCH"))


class DiscoveryView(ScimView):
    """Discovery is public (RFC 7644 section 4): it describes the server, never a tenant's data.
    A token, if sent, must still be valid."""

    permission_classes = []
    throttle_classes = []
    document = ""

    def get(self, request, name=None, **kwargs):
        token = request.auth if isinstance(request.auth, ScimToken) else None
        tenant = self.tenant if token is not None else None
        return Response(discovery.DOCUMENTS[self.document](self.base_url, name, tenant))


class OpenAPIView(DiscoveryView):
    """GET openapi.json: an OpenAPI 3 description of this endpoint (scim_api/openapi.py), public
    like the discovery documents, as application/json (errors stay SCIM errors)."""

    def get(self, request, name=None, **kwargs):
        return Response(openapi.openapi_document(self.base_url), content_type="application/json")


class BulkView(ScimView):
    """POST /Bulk (RFC 7644 section 3.7): many operations in one request, each run through the
    resource handlers in its own transaction (see scim_api/bulk.py). Its body limit is its own,
    SCIM_BULK_MAX_PAYLOAD_BYTES, larger than a single resource's."""

    @property
    def max_payload_bytes(self) -> int:
        return bulk.max_payload_bytes()

    def post(self, request, **kwargs):
        body = bulk.read_body(request)
        return Response(
            bulk.process(
                body,
                tenant=self.tenant,
                actor=self.actor,
                base_url=self.base_url,
            )
        )


class MeView(ScimView):
    """/Me (RFC 7644 section 3.11), whatever the method or sub-path: "A service provider that does
    NOT support this feature SHOULD respond with HTTP status code 501 (Not Implemented)". Roster's
    bearer tokens belong to a tenant's identity provider, not to a user, so no user is the
    authenticated subject. The token is checked first, as on every tenant endpoint: a client
    without a valid one learns nothing but the 401."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotImplementedScim(
            "/Me is not supported (RFC 7644 section 3.11): a SCIM token here stands for an identity "
            "provider, not for a user. Address the user as /Users/{id}."
        )


@csrf_exempt
def not_found(request, *args, **kwargs):
    return scim_json_response(404, f"No SCIM endpoint at {request.path}.")
