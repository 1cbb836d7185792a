"""SCIM endpoints. Views parse the request, call one resource handler, and render."""

import re
import uuid

from rest_framework.response import Response
from rest_framework.views import APIView

from directory.services.audit import Actor
from directory.services.errors import AlreadyExists, DoesNotExist, InvalidReference, VersionMismatch
from scim_api import discovery
from scim_api.authentication import HasScimToken, ScimBearerAuthentication
from scim_api.errors import (
    InvalidValue,
    NotFound,
    PreconditionFailed,
    Uniqueness,
    exception_handler,
    scim_json_response,
)
from scim_api.negotiation import ScimContentNegotiation
from scim_api.paging import index_page
from scim_api.parsers import ScimJSONParser
from scim_api.projection import Projection
from scim_api.renderers import ScimJSONRenderer
from scim_api.resources import RESOURCES
from scim_api.schema import LIST_RESPONSE
from scim_api.throttling import TokenRateThrottle

_ETAG = re.compile(r'^\s*(?:W/)?"(?P<version>\d+)"\s*$')
_REQUEST_ID = re.compile(r"^[\w.:-]{1,64}$")

# Service refusals, as SCIM errors.
SERVICE_ERRORS = {
    DoesNotExist: NotFound,
    AlreadyExists: Uniqueness,
    InvalidReference: InvalidValue,
    VersionMismatch: PreconditionFailed,
}


def scim_exception_handler(exc, context):
    for service_error, scim_error in SERVICE_ERRORS.items():
        if isinstance(exc, service_error):
            exc = scim_error(exc.message)
            break
    return exception_handler(exc, context)


class ScimView(APIView):
    authentication_classes = [ScimBearerAuthentication]
    permission_classes = [HasScimToken]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [ScimJSONParser]
    renderer_classes = [ScimJSONRenderer]
    content_negotiation_class = ScimContentNegotiation

    def get_exception_handler(self):
        return scim_exception_handler

    def initial(self, request, *args, **kwargs):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        self.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-ID"] = getattr(self, "request_id", "")
        return response

    @property
    def tenant(self):
        return self.request.auth.tenant

    @property
    def actor(self) -> Actor:
        return Actor.for_token(self.request.auth, self.request_id)

    @property
    def base_url(self) -> str:
        """The SCIM root the client called: /scim/v2 or /scim/<tenant>/v2, absolute."""
        path = self.request.path
        return self.request.build_absolute_uri(path[: path.index("/v2") + 3])

    def projection(self, resource_type) -> Projection:
        params = self.request.query_params
        return Projection.from_params(
            resource_type, params.get("attributes"), params.get("excludedAttributes")
        )


class ResourceListView(ScimView):
    resource = ""

    def get(self, request, **kwargs):
        handler = RESOURCES[self.resource]
        projection = self.projection(handler.resource_type)
        queryset = handler.queryset(self.tenant).order_by("pk")
        page = index_page(queryset, request.query_params)
        return Response(
            {
                "schemas": [LIST_RESPONSE],
                "totalResults": page.total,
                "startIndex": page.start_index,
                "itemsPerPage": len(page.items),
                "Resources": handler.render_many(self.tenant, page.items, projection, self.base_url),
            }
        )

    def post(self, request, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.create(self.tenant, self.actor, request.data)
        return self.resource_response(handler, instance, status=201)

    def resource_response(self, handler, instance, status=200):
        body = handler.render(self.tenant, instance, self.projection(handler.resource_type), self.base_url)
        location = f"{self.base_url}{handler.resource_type.endpoint}/{instance.pk}"
        headers = {"ETag": instance.etag}
        if status == 201:
            headers["Location"] = location
        return Response(body, status=status, headers=headers)


class ResourceDetailView(ResourceListView):
    def get(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.get(self.tenant, resource_id)
        if _matches(request.META.get("HTTP_IF_NONE_MATCH"), instance.version):
            return Response(status=304, headers={"ETag": instance.etag})
        return self.resource_response(handler, instance)

    def put(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.replace(
            self.tenant, self.actor, resource_id, request.data, self.expected_version()
        )
        return self.resource_response(handler, instance)

    def patch(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.patch(self.tenant, self.actor, resource_id, request.data, self.expected_version())
        return self.resource_response(handler, instance)

    def delete(self, request, resource_id, **kwargs):
        RESOURCES[self.resource].delete(self.tenant, self.actor, resource_id, self.expected_version())
        return Response(status=204)

    def post(self, request, **kwargs):
        return self.http_method_not_allowed(request, **kwargs)

    def expected_version(self) -> int | None:
        """The version If-Match demands; None when any version will do (no header, or *)."""
        header = self.request.META.get("HTTP_IF_MATCH")
        if header is None or header.strip() == "*":
            return None
        match = _ETAG.match(header.split(",")[0])
        if not match:
            raise PreconditionFailed(f"If-Match {header!r} is not an entity tag this server issued.")
        return int(match.group("version"))


def _matches(header: str | None, version: int) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any((m := _ETAG.match(tag)) and int(m.group("version")) == version for tag in header.split(","))


class DiscoveryView(ScimView):
    """Discovery is public (RFC 7644 section 4): it describes the server, never a tenant's data.
    A token, if sent, must still be valid."""

    permission_classes = []
    throttle_classes = []
    document = ""

    def get(self, request, name=None, **kwargs):
        return Response(discovery.DOCUMENTS[self.document](self.base_url, name))


def not_found(request, *args, **kwargs):
    return scim_json_response(404, f"No SCIM endpoint at {request.path}.")
