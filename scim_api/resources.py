"""Resources as SCIM sees them: reading, rendering and writing each resource type through the
directory's selectors and services, by its binding (``scim_api.bindings``).

``ResourceHandler`` is what every type shares (its queryset, the document of a stored resource
with ``id``, ``schemas`` and ``meta``, the references it renders as locations, the checks of a
full replace, delete); each type's handler adds its writes and the derived attributes it reads
(a user's groups, a group's members). The views, Bulk and the list selectors are generic over
``RESOURCES``, keyed by endpoint."""

from __future__ import annotations

from typing import Any

import orjson
from django.db.models import QuerySet

from directory import selectors
from directory.db.rows import iso_utc
from directory.errors import SchemaChanged
from directory.models import Group, Tenant, User
from directory.services import groups as group_services
from directory.services import users as user_services
from directory.services.audit import Actor
from directory.services.groups import MemberRef
from scim_api.bindings import BINDINGS, GROUP_BINDING, USER_BINDING, Binding, Reference
from scim_api.documents import normalize_resource
from scim_api.errors import InvalidValue, Mutability
from scim_api.patch import apply_operations, member_refs, parse_operations
from scim_api.projection import Projection
from scim_api.schema import ENTERPRISE_USER, Attribute, ResourceType
from scim_api.sorting import SORT_KEY
from scim_api.storage import (
    EXTENSIONS_FIELD,
    document_from_instance,
    extensions_of,
    fields_from_document,
    stored_fields,
)
from scim_api.tenant_types import resource_type_of

# A write worked out against extension declarations that changed meanwhile is worked out anew
# (``with_current_schemas``) at most this many times in all.
SCHEMA_ATTEMPTS = 3


def with_current_schemas(tenant: Tenant, write):
    """``write(tenant)``; should the tenant's extension declarations change while it runs (the
    service refuses with ``SchemaChanged``), again with the tenant read anew, so that the request
    is worked out against the declarations that hold. Returns the result and the tenant it used."""
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            return write(tenant), tenant
        except SchemaChanged:
            if attempt == SCHEMA_ATTEMPTS - 1:
                raise
            tenant = Tenant.objects.get(pk=tenant.pk)
    raise AssertionError("unreachable")


class ResourceHandler:
    def __init__(self, binding: Binding) -> None:
        self.binding = binding
        self.resource_type: ResourceType = binding.resource_type
        self.model = binding.model
        self.patch_returns_resource = binding.patch_returns_resource
        # Read for every resource rendered (a page of 100 users): looked up once.
        self._core_id, self._name = binding.resource_type.schema.id, binding.resource_type.name
        self._endpoint = binding.resource_type.endpoint
        self._extension_ids = tuple(s.id for s in binding.resource_type.extensions)
        # (extension URN or None for the core schema, attribute name, target endpoint) of each
        # reference the binding declares (``Reference``), rendered with its location.
        self._references = [
            (
                None if schema is binding.resource_type.schema else schema.id,
                name,
                BINDINGS[ref.target].endpoint,
            )
            for name, ref in binding.derived.items()
            if isinstance(ref, Reference)
            for schema in binding.resource_type.schemas
            if schema.attribute(name)
        ]

    def queryset(self, tenant: Tenant) -> QuerySet:
        return self.model._default_manager.filter(tenant=tenant)

    def type_for(self, tenant: Tenant) -> ResourceType:
        """The resource type as ``tenant`` has it: with the extensions it declared."""
        return resource_type_of(tenant, self.binding.name)

    # What each type's handler implements, through the directory's selectors and services.

    def get(self, tenant: Tenant, resource_id: str, projection: Projection | None = None) -> Any:
        raise NotImplementedError

    def create(self, tenant: Tenant, actor: Actor, body: Any) -> Any:
        raise NotImplementedError

    def replace(self, tenant: Tenant, actor: Actor, resource_id: str, body: Any, expected_version) -> Any:
        raise NotImplementedError

    def patch(self, tenant: Tenant, actor: Actor, resource_id: str, body: Any, expected_version) -> Any:
        raise NotImplementedError

    def delete(self, tenant: Tenant, actor: Actor, resource_id: str, expected_version) -> None:
        raise NotImplementedError

    def readable(self, queryset: QuerySet, projection: Projection, *, sort_key=False, searched=False):
        """``queryset`` as what ``render_many`` takes (types read as rows override it)."""
        return queryset

    def render_many(self, tenant, instances, projection: Projection, base_url: str) -> list[dict]:
        return [self.render(tenant, instance, projection, base_url) for instance in instances]

    def render(self, tenant, instance, projection: Projection, base_url: str) -> dict:
        return self.render_many(tenant, [instance], projection, base_url)[0]

    def document(self, instance, doc: dict, base_url: str, resource_type: ResourceType) -> dict:
        """The resource's document from its stored attributes ``doc`` (``storage``): ``schemas``
        (the core schema and each extension it has values of), ``id``, the references it holds as
        locations (RFC 7643 section 2.3.7), and ``meta`` (section 3.1)."""
        ids = self._extension_ids
        if resource_type is not self.resource_type:
            ids = tuple(s.id for s in resource_type.extensions)
        extensions = [urn for urn in ids if urn in doc]
        for container, name, endpoint in self._references:
            value = (doc if container is None else doc.get(container, {})).get(name)
            if value and "value" in value:
                value["$ref"] = f"{base_url}/{endpoint}/{value['value']}"
        return {
            "schemas": [self._core_id, *extensions],
            "id": str(instance.pk),
            **doc,
            "meta": self.meta(instance, base_url),
        }

    def meta(self, instance, base_url: str) -> dict[str, Any]:
        return {
            "resourceType": self._name,
            "created": iso_utc(instance.created_at),
            "lastModified": iso_utc(instance.updated_at),
            "location": f"{base_url}{self._endpoint}/{instance.pk}",
            "version": instance.etag,
        }

    def check_required(self, doc: dict, resource_type: ResourceType, extensions: dict | None = None) -> None:
        """The attributes declared required are there (RFC 7643 section 2.2), the sub-attributes
        declared required in each value of a complex one, and the extensions the type requires
        (schemaExtensions required, section 6). ``extensions``: the tenant-defined extensions'
        values as they will be stored (else as ``doc`` has them)."""
        for attribute in resource_type.schema.attributes:
            if attribute.required and doc.get(attribute.name) in (None, ""):
                raise InvalidValue(f'"{attribute.name}" is required for a {resource_type.name}.')
        for schema in resource_type.tenant_schemas:
            values = (extensions if extensions is not None else doc).get(schema.id) or {}
            if not values and schema.id.lower() in resource_type.required_extensions:
                raise InvalidValue(
                    f"A {resource_type.name} must carry the extension {schema.id} (its schemaExtensions "
                    "entry is required, RFC 7643 section 6)."
                )
            for attribute in schema.attributes:
                label = f"{schema.id}:{attribute.name}"
                value = values.get(attribute.name)
                if attribute.required and attribute.mutability != "readOnly" and value in (None, "", []):
                    raise InvalidValue(f'"{label}" is required for a {resource_type.name}.')
                _check_required_subs(attribute, value, label)

    def written(
        self, doc: dict, resource_type: ResourceType, current=None, *, patched: bool = False
    ) -> dict[str, Any]:
        """Model field values of a full replace by ``doc`` (``storage.fields_from_document``), once
        checked to hold what is required (``check_required``, over the extension values as they
        will be, kept ones included). ``current``: the resource as it is, whose extension values a
        client cannot see or write are kept; ``patched``: ``doc`` is a PATCH's result, worked from
        the resource with all its values (``document_from_instance(..., complete=True)``)."""
        extensions = extensions_of(current) if current is not None else None
        fields = fields_from_document(resource_type, doc, replace=True, current=extensions, complete=patched)
        self.check_required(doc, resource_type, fields.get(EXTENSIONS_FIELD))
        return fields


class UserResource(ResourceHandler):
    def queryset(self, tenant: Tenant) -> QuerySet:
        return selectors.users_visible(tenant=tenant)

    def get(self, tenant: Tenant, resource_id: str, projection: Projection | None = None):
        """The user as a row (``directory.db.rows``) with what rendering it needs."""
        projection = projection or Projection.of(self.type_for(tenant), {})
        return selectors.user_get(tenant=tenant, user_id=resource_id, rows=self._rows(projection))

    def readable(self, queryset: QuerySet, projection: Projection, *, sort_key=False, searched=False):
        """The users of ``queryset`` as rows with what rendering them needs, read in one
        statement (``directory.db.rows.RowQuery``; ``searched``: the queryset is a filter's); with
        ``sort_key``, each row also carries the queryset's ``SORT_KEY`` (cursor paging resumes
        from it)."""
        if sort_key:
            return self._rows(projection, (SORT_KEY,)).select(queryset)
        return self._rows(projection).of(queryset, searched=searched)

    def find(self, tenant, column: str, value: str, *, count: int, projection: Projection) -> list | None:
        """The first ``count`` visible users (by id) whose ``column`` equals ``value``, as rows
        with what rendering them needs; None when no prepared query serves this lookup."""
        return selectors.users_where(
            tenant=tenant, column=column, value=value, count=count, rows=self._rows(projection)
        )

    def _rows(self, projection: Projection, annotations: tuple[str, ...] = ()):
        """Rows with the fields the projection's type renders (its tenant's extensions included)."""
        return selectors.user_rows(
            fields=stored_fields(projection.resource_type),
            groups=projection.includes("groups"),
            annotations=annotations,
        )

    def render_many(self, tenant, users, projection: Projection, base_url: str) -> list[dict]:
        """Documents of ``users``: model instances, or rows of ``readable``/``get``/``find``."""
        groups = {}
        if projection.includes("groups"):
            groups = selectors.groups_of_users(tenant=tenant, users=users)
        managers = selectors.manager_names(tenant=tenant, users=users)
        # JSON text that a row carries is sent as it is unless the projection must look inside.
        json_text = orjson.Fragment if projection.keeps_everything else orjson.loads
        resource_type = projection.resource_type
        return [
            projection.apply(
                self._document(
                    u, groups.get(u.pk, []), managers.get(u.manager_id), base_url, json_text, resource_type
                )
            )
            for u in users
        ]

    def _document(self, user, groups: list, manager_name, base_url: str, json_text, resource_type) -> dict:
        stored = document_from_instance(resource_type, user, json_text=json_text)
        manager = stored.get(ENTERPRISE_USER, {}).get("manager")
        if manager and manager_name:
            manager["displayName"] = manager_name
        if groups:
            groups_at = f"{base_url}/{GROUP_BINDING.endpoint}"
            stored["groups"] = [
                {"value": str(pk), "$ref": f"{groups_at}/{pk}", "display": name, "type": kind}
                for pk, name, kind in groups
            ]
        return self.document(user, stored, base_url, resource_type)

    def create(self, tenant: Tenant, actor: Actor, body: Any) -> User:
        resource_type, ignored = self.type_for(tenant), list[str]()
        doc = normalize_resource(resource_type, body, ignored)
        user = user_services.user_create(
            tenant=tenant, actor=actor, fields=self.written(doc, resource_type), ignored=ignored
        )
        # A new user is in no group: nothing to read for its rendering. The attribute is the
        # RELATED_WITH_GROUPS annotation's, which only some instances have: not declared on User.
        user.direct_groups = None  # type: ignore[attr-defined]
        return user

    def replace(self, tenant, actor, resource_id, body, expected_version):
        resource_type, ignored = self.type_for(tenant), list[str]()

        def replaced(current) -> dict:
            ignored.clear()
            doc = normalize_resource(resource_type, body, ignored)
            _check_id(body, resource_id)
            return self.written(doc, resource_type, current)

        return self._update(tenant, actor, resource_id, replaced, expected_version, ignored)

    def patch(self, tenant, actor, resource_id, body, expected_version):
        operations = parse_operations(body)
        resource_type, ignored = self.type_for(tenant), list[str]()

        def patched(current) -> dict:
            ignored.clear()
            stored = document_from_instance(resource_type, current, complete=True)
            doc, _ = apply_operations(resource_type, stored, operations, ignored)
            fields = self.written(doc, resource_type, current, patched=True)
            if "active" not in doc:
                # Removed (RFC 7644 section 3.5.2.2): unassigned, which is not active (suspended).
                # Unlike PUT's omission (Binding.kept_when_omitted), a PATCH says what it changes.
                fields["active"] = None
            return fields

        return self._update(tenant, actor, resource_id, patched, expected_version, ignored)

    def _update(self, tenant, actor, resource_id, fields, expected_version, ignored):
        """``fields(current)`` works the change out from the user as it is, and the change is
        written only over that state: of two concurrent PATCHes of one user (Okta and Entra send
        them) neither writes back what it read before the other wrote (``user_update``)."""
        return user_services.user_update(
            tenant=tenant,
            actor=actor,
            user_id=resource_id,
            fields=fields,
            expected_version=expected_version,
            ignored=ignored,
        )

    def delete(self, tenant, actor, resource_id, expected_version) -> None:
        user_services.user_delete(
            tenant=tenant, actor=actor, user_id=resource_id, expected_version=expected_version
        )


class GroupResource(ResourceHandler):
    """Members are read per group, and only when asked for."""

    def get(self, tenant: Tenant, resource_id: str, projection: Projection | None = None) -> Group:
        return selectors.group_get(tenant=tenant, group_id=resource_id)

    def render(self, tenant, group, projection: Projection, base_url: str) -> dict:
        resource_type = projection.resource_type
        doc = document_from_instance(resource_type, group)
        if projection.includes("members"):
            members = selectors.group_members(tenant=tenant, group_id=group.pk)
            if members:
                doc["members"] = [
                    {
                        "value": str(pk),
                        "$ref": f"{base_url}/{BINDINGS[kind].endpoint}/{pk}",
                        "display": display,
                        "type": kind,
                    }
                    for kind, pk, display in members
                ]
        return projection.apply(self.document(group, doc, base_url, resource_type))

    def create(self, tenant: Tenant, actor: Actor, body: Any) -> Group:
        resource_type, ignored = self.type_for(tenant), list[str]()
        doc, members = self._split_members(resource_type, body, ignored)
        return group_services.group_create(
            tenant=tenant,
            actor=actor,
            fields=self.written(doc, resource_type),
            members=members or [],
            ignored=ignored,
        )

    def replace(self, tenant, actor, resource_id, body, expected_version) -> Group:
        resource_type, ignored = self.type_for(tenant), list[str]()
        self.get(tenant, resource_id)
        doc, members = self._split_members(resource_type, body, ignored)
        _check_id(body, resource_id)
        return group_services.group_update(
            tenant=tenant,
            actor=actor,
            group_id=resource_id,
            fields=lambda locked: self.written(doc, resource_type, locked),
            replace_members=members,
            expected_version=expected_version,
            ignored=ignored,
        )

    def patch(self, tenant, actor, resource_id, body, expected_version) -> Group:
        operations = parse_operations(body)
        resource_type, ignored = self.type_for(tenant), list[str]()
        current = self.get(tenant, resource_id)
        # Member changes are set operations, whatever the group holds by the time it is locked; the
        # attributes are worked out again from the group as locked (``changed``).
        _, members = apply_operations(
            resource_type, document_from_instance(resource_type, current), operations
        )

        def changed(locked: Group) -> dict:
            ignored.clear()
            stored = document_from_instance(resource_type, locked, complete=True)
            doc, _ = apply_operations(resource_type, stored, operations, ignored)
            fields = self.written(doc, resource_type, locked, patched=True)
            # Only what the operations change (Okta re-sends the name with membership changes).
            return {field: value for field, value in fields.items() if getattr(locked, field) != value}

        return group_services.group_update(
            tenant=tenant,
            actor=actor,
            group_id=resource_id,
            fields=changed,
            add=_refs(members.add),
            remove=_refs(members.remove),
            replace_members=_refs(members.replace) if members.replace is not None else None,
            expected_version=expected_version,
            ignored=ignored,
        )

    def delete(self, tenant, actor, resource_id, expected_version) -> None:
        group_services.group_delete(
            tenant=tenant, actor=actor, group_id=resource_id, expected_version=expected_version
        )

    def _split_members(
        self, resource_type: ResourceType, body: Any, ignored: list[str]
    ) -> tuple[dict, list[MemberRef] | None]:
        """The group document without members, and the members (None when omitted)."""
        if isinstance(body, dict):
            body = dict(body)
            key = next((k for k in body if k.lower() == "members"), None)
            raw = body.pop(key) if key else None
        else:
            raw = None
        doc = normalize_resource(resource_type, body, ignored)
        if raw is None:
            return doc, None
        return doc, [MemberRef(r["value"], r["type"]) for r in member_refs(raw, "members")]


def _check_required_subs(attribute: Attribute, value, label: str) -> None:
    required = [sub.name for sub in attribute.sub_attributes if sub.required]
    if not required or value is None:
        return
    for element in value if isinstance(value, list) else [value]:
        missing = [name for name in required if isinstance(element, dict) and element.get(name) in (None, "")]
        if missing:
            raise InvalidValue(f'"{label}.{missing[0]}" is required in every value of {label}.')


def _refs(by_id: dict) -> list[MemberRef]:
    return [MemberRef(ref["value"], ref.get("type")) for ref in by_id.values()]


def _check_id(body: Any, resource_id: str) -> None:
    """A PUT may echo the id (Okta does); a different id is an attempt to change it."""
    if isinstance(body, dict):
        given = next((v for k, v in body.items() if k.lower() == "id"), None)
        if given is not None and str(given) != str(resource_id):
            raise Mutability(f'"id" is {given!r} in the body but {resource_id} in the URL; id is read-only.')


RESOURCES: dict[str, ResourceHandler] = {
    handler.binding.endpoint: handler
    for handler in (UserResource(USER_BINDING), GroupResource(GROUP_BINDING))
}
