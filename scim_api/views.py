"""SCIM endpoints. Views parse the request, call one resource handler, and render."""

import re
import uuid
from functools import partial
from typing import cast

from django.db.models import QuerySet
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.models import ScimToken
from directory.query_memory import QueryMemory
from directory.services.audit import Actor
from directory.services.errors import (
    AlreadyExists,
    DoesNotExist,
    InvalidIdentifier,
    InvalidReference,
    VersionMismatch,
)
from scim_api import bulk, discovery, etags, openapi
from scim_api.authentication import HasScimToken, ScimBearerAuthentication
from scim_api.errors import (
    InvalidFilter,
    InvalidSyntax,
    InvalidValue,
    NotFound,
    NotImplementedScim,
    PreconditionFailed,
    Uniqueness,
    exception_handler,
    scim_json_response,
)
from scim_api.filters import column_equality, filtered
from scim_api.negotiation import ScimContentNegotiation
from scim_api.paging import Page, cursor_page, index_page, page_bounds, wants_cursor
from scim_api.parsers import ScimJSONParser
from scim_api.projection import Projection
from scim_api.renderers import ScimJSONRenderer
from scim_api.resources import RESOURCES
from scim_api.schema import LIST_RESPONSE
from scim_api.sorting import Sort, parse_sort
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
_REQUEST_ID = re.compile(r"^[\w.:-]{1,64}$")

# Service refusals, as SCIM errors.
SERVICE_ERRORS = {
    DoesNotExist: NotFound,
    AlreadyExists: Uniqueness,
    InvalidReference: InvalidValue,
    InvalidIdentifier: InvalidValue,
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

    # request.auth is ScimBearerAuthentication's ScimToken (djangorestframework-stubs name DRF's
    # own authtoken Token).
    @property
    def tenant(self):
        return cast(ScimToken, self.request.auth).tenant

    @property
    def actor(self) -> Actor:
        return Actor.for_token(cast(ScimToken, self.request.auth), self.request_id)

    @property
    def base_url(self) -> str:
        """The SCIM root the client called: /scim/v2 or /scim/<tenant>/v2, absolute."""
        slug = self.kwargs.get("tenant_slug")
        return self.request.build_absolute_uri(f"/scim/{slug}/v2" if slug else "/scim/v2")

    def projection(self, resource_type) -> Projection:
        params = self.request.query_params
        return Projection.from_params(
            resource_type, params.get("attributes"), params.get("excludedAttributes")
        )


class ResourceView(ScimView):
    """Shared by the endpoints of one resource type; each subclass defines only the methods its
    URL allows, so that 405 answers list the right ones in Allow."""

    resource = ""

    def query(self, handler, params) -> dict:
        """A ListResponse for GET on the endpoint and for POST .search (same parameters, RFC 9865
        section 3). Index paging unless the request has a cursor, empty for the first page (RFC 9865
        section 2.4: index stays the default); a cursor-paged response has nextCursor except on the
        last page, previousCursor except on the first, and no startIndex (RFC 9865 section 2)."""

        text, projection = self._filter_text(params), self._projection(handler, params)
        page = self._column_lookup(handler, text, params, projection)
        if page is not None:
            return self._index_body(handler, page, projection)
        queryset, sort = self._queryset(handler, params)
        memory = QueryMemory(self.tenant, (handler.resource_type.name, text or ""))
        if wants_cursor(params):
            scope = (str(self.tenant.pk), handler.resource_type.name, text or "")
            # A cursor holds the last resource's sort key: its rows must carry it.
            readable = partial(
                handler.readable, projection=projection, sort_key=sort.by is not None, searched=bool(text)
            )
            cursor = cursor_page(
                queryset, sort, params, scope=scope, total_of=memory.count, readable=readable
            )
            body = {
                "schemas": [LIST_RESPONSE],
                "totalResults": cursor.total,
                "itemsPerPage": len(cursor.items),
            }
            if cursor.previous_cursor:
                body["previousCursor"] = cursor.previous_cursor
            if cursor.next_cursor:
                body["nextCursor"] = cursor.next_cursor
            body["Resources"] = handler.render_many(self.tenant, cursor.items, projection, self.base_url)
            return body
        page = index_page(
            sort.apply(queryset),
            params,
            total_of=memory.count,
            readable=partial(handler.readable, projection=projection, searched=bool(text)),
            positions=memory if sort.by is None and not sort.descending else None,
        )
        return self._index_body(handler, page, projection)

    # The parameters read once for every query, of one resource type or of all (/.search): each
    # endpoint refuses a parameter alike.

    def _filter_text(self, params) -> str | None:
        text = params.get("filter")
        if text not in (None, "") and not isinstance(text, str):
            raise InvalidFilter("filter must be a string.")
        return text or None

    def _projection(self, handler, params) -> Projection:
        return Projection.from_params(
            handler.resource_type, params.get("attributes"), params.get("excludedAttributes")
        )

    def _queryset(self, handler, params) -> tuple[QuerySet, Sort]:
        """The tenant's resources of ``handler``'s type that the filter selects, annotated with
        the sort key, and the Sort to order them by."""
        text = self._filter_text(params)
        queryset = handler.queryset(self.tenant)
        if text:
            queryset = filtered(handler.resource_type, text, tenant=self.tenant, queryset=queryset)
        return parse_sort(handler.resource_type, queryset, params.get("sortBy"), params.get("sortOrder"))

    def _index_body(self, handler, page: Page, projection: Projection) -> dict:
        return {
            "schemas": [LIST_RESPONSE],
            "totalResults": page.total,
            "startIndex": page.start_index,
            "itemsPerPage": len(page.items),
            "Resources": handler.render_many(self.tenant, page.items, projection, self.base_url),
        }

    def _column_lookup(self, handler, text, params, projection) -> Page | None:
        """The first page of ``filter=<attribute> eq "<value>"`` on a column (``column_equality``),
        unsorted, read by the handler's prepared query: the lookup identity providers send before
        every write, in one statement that needs no compiling. None when the request is not that,
        or its page is full (then totalResults needs counting, and the general path does it)."""
        if not text or not hasattr(handler, "find") or wants_cursor(params):
            return None
        if params.get("sortBy") not in (None, "") or params.get("sortOrder") not in (None, ""):
            return None
        start, count = page_bounds(params)
        equality = column_equality(handler.resource_type, text) if start == 1 and count else None
        if equality is None:
            return None
        items = handler.find(self.tenant, *equality, count=count, projection=projection)
        if items is None or len(items) >= count:
            return None
        return Page(total=len(items), start_index=1, items=items)

    def resource_response(self, handler, instance, status=200):
        body = handler.render(self.tenant, instance, self.projection(handler.resource_type), self.base_url)
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
        instance = handler.create(self.tenant, self.actor, request.data)
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
    """POST /.search: every resource type at once, Users then Groups (Groups then Users, each
    newest first, with "sortOrder": "descending"). A filter attribute that a type does not have
    matches none of that type's resources (RFC 7644 section 3.4.3). Its parameters are read as
    each type's own search reads them (``query``), so that both refuse a request alike."""

    def post(self, request, **kwargs):
        params = self.search_params(request.data)
        if params.get("sortBy") or params.get("cursor") is not None:
            raise InvalidValue(
                "sortBy and cursor apply to one resource type: use /Users/.search or /Groups/.search."
            )
        start, count = page_bounds(params)
        searched, unknown = [], []
        for handler in RESOURCES.values():
            projection = self._projection(handler, params)
            try:
                queryset, sort = self._queryset(handler, params)
            except InvalidFilter as error:
                if "is not an attribute of" not in error.detail:
                    raise
                unknown.append(error)
                continue
            searched.append((handler, sort.apply(queryset), projection))
        if unknown and len(unknown) == len(RESOURCES):
            raise InvalidFilter(
                f"No resource type has that attribute: {'; '.join(e.detail for e in unknown)}"
            )
        # Bound: unless every type's filter failed (which raised above), an iteration set it.
        if sort.descending:  # type: ignore[possibly-undefined]
            searched.reverse()
        resources: list[dict] = []
        total, skip = 0, start - 1
        for handler, queryset, projection in searched:
            matched = queryset.count()
            total += matched
            take = max(0, min(count - len(resources), matched - skip))
            if take:
                readable = handler.readable(queryset, projection, searched=True)
                items = list(readable[skip : skip + take])
                resources += handler.render_many(self.tenant, items, projection, self.base_url)
            skip = max(0, skip - matched)
        return Response(
            {
                "schemas": [LIST_RESPONSE],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(resources),
                "Resources": resources,
            }
        )


class ResourceDetailView(ResourceView):
    def get(self, request, resource_id, **kwargs):
        handler = RESOURCES[self.resource]
        instance = handler.get(self.tenant, resource_id, self.projection(handler.resource_type))
        if etags.matches(request.META.get("HTTP_IF_NONE_MATCH"), instance.version):
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
        return Response(discovery.DOCUMENTS[self.document](self.base_url, name))


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
                service_errors=SERVICE_ERRORS,
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
