"""Users and Groups as SCIM resources: reading, rendering and writing each through the directory's
selectors and services. The views are generic over these two handlers."""

from __future__ import annotations

from typing import Any

import orjson
from django.db.models import QuerySet

from directory import selectors
from directory.models import Group, Tenant, User
from directory.rows import iso_utc
from directory.services import groups as group_services
from directory.services import users as user_services
from directory.services.audit import Actor
from directory.services.groups import MemberRef
from scim_api.documents import normalize_resource
from scim_api.errors import InvalidValue, Mutability
from scim_api.patch import apply_operations, member_refs, parse_operations
from scim_api.projection import Projection
from scim_api.schema import ENTERPRISE_USER, GROUP, USER, ResourceType
from scim_api.sorting import SORT_KEY
from scim_api.storage import document_from_instance, fields_from_document, stored_fields


def meta(resource_type: ResourceType, instance, base_url: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type.name,
        "created": iso_utc(instance.created_at),
        "lastModified": iso_utc(instance.updated_at),
        "location": f"{base_url}{resource_type.endpoint}/{instance.pk}",
        "version": instance.etag,
    }


def _check_required(resource_type: ResourceType, doc: dict) -> None:
    for attribute in resource_type.schema.attributes:
        if attribute.required and doc.get(attribute.name) in (None, ""):
            raise InvalidValue(f'"{attribute.name}" is required for a {resource_type.name}.')


class UserResource:
    resource_type = USER
    model = User
    patch_returns_resource = True  # Okta reads the user back from the PATCH response

    def queryset(self, tenant: Tenant) -> QuerySet:
        return selectors.users_visible(tenant=tenant)

    def get(self, tenant: Tenant, resource_id: str, projection: Projection | None = None):
        """The user as a row (``directory.rows``) with what rendering it needs."""
        return selectors.user_get(tenant=tenant, user_id=resource_id, rows=self._rows(projection))

    def readable(self, queryset: QuerySet, projection: Projection, *, sort_key=False, searched=False):
        """The users of ``queryset`` as rows with what rendering them needs, read in one
        statement (``directory.rows.RowQuery``; ``searched``: the queryset is a filter's); with
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

    def _rows(self, projection: Projection | None, annotations: tuple[str, ...] = ()):
        groups = projection is None or projection.includes("groups")
        return selectors.user_rows(fields=stored_fields(USER), groups=groups, annotations=annotations)

    def render_many(self, tenant, users, projection: Projection, base_url: str) -> list[dict]:
        """Documents of ``users``: model instances, or rows of ``readable``/``get``/``find``."""
        groups = {}
        if projection.includes("groups"):
            groups = selectors.groups_of_users(tenant=tenant, users=users)
        managers = selectors.manager_names(tenant=tenant, users=users)
        # JSON text that a row carries is sent as it is unless the projection must look inside.
        json_text = orjson.Fragment if projection.keeps_everything else orjson.loads
        return [
            projection.apply(
                self._document(u, groups.get(u.pk, []), managers.get(u.manager_id), base_url, json_text)
            )
            for u in users
        ]

    def render(self, tenant, user, projection: Projection, base_url: str) -> dict:
        return self.render_many(tenant, [user], projection, base_url)[0]

    def _document(self, user, groups: list, manager_name: str | None, base_url: str, json_text) -> dict:
        doc = document_from_instance(USER, user, json_text=json_text)
        enterprise = doc.get(ENTERPRISE_USER)
        if enterprise and "manager" in enterprise:
            manager = enterprise["manager"]
            manager["$ref"] = f"{base_url}/Users/{manager['value']}"
            if manager_name:
                manager["displayName"] = manager_name
        if groups:
            doc["groups"] = [
                {"value": str(pk), "$ref": f"{base_url}/Groups/{pk}", "display": name, "type": kind}
                for pk, name, kind in groups
            ]
        schemas = [USER.schema.id] + ([ENTERPRISE_USER] if enterprise else [])
        return {"schemas": schemas, "id": str(user.pk), **doc, "meta": meta(USER, user, base_url)}

    def create(self, tenant: Tenant, actor: Actor, body: Any) -> User:
        doc = normalize_resource(USER, body)
        _check_required(USER, doc)
        fields = fields_from_document(USER, User, doc, replace=True)
        user = user_services.user_create(tenant=tenant, actor=actor, fields=fields)
        # A new user is in no group: nothing to read for its rendering. The attribute is the
        # RELATED_WITH_GROUPS annotation's, which only some instances have: not declared on User.
        user.direct_groups = None  # type: ignore[attr-defined]
        return user

    def replace(self, tenant, actor, resource_id, body, expected_version):
        def replaced(current) -> dict:
            doc = normalize_resource(USER, body)
            _check_required(USER, doc)
            _check_id(body, resource_id)
            return fields_from_document(USER, User, doc, replace=True)

        return self._update(tenant, actor, resource_id, replaced, expected_version)

    def patch(self, tenant, actor, resource_id, body, expected_version):
        operations = parse_operations(body)

        def patched(current) -> dict:
            doc, _ = apply_operations(USER, document_from_instance(USER, current), operations)
            _check_required(USER, doc)
            fields = fields_from_document(USER, User, doc, replace=True)
            if "active" not in doc:
                # Removed (RFC 7644 section 3.5.2.2): unassigned, which is not active (suspended).
                # Unlike PUT's omission (storage.KEPT_WHEN_OMITTED), a PATCH says what it changes.
                fields["active"] = None
            return fields

        return self._update(tenant, actor, resource_id, patched, expected_version)

    def _update(self, tenant, actor, resource_id, fields, expected_version):
        """``fields(current)`` works the change out from the user as it is, and the change is
        written only over that state: of two concurrent PATCHes of one user (Okta and Entra send
        them) neither writes back what it read before the other wrote (``user_update``)."""
        return user_services.user_update(
            tenant=tenant,
            actor=actor,
            user_id=resource_id,
            fields=fields,
            expected_version=expected_version,
        )

    def delete(self, tenant, actor, resource_id, expected_version) -> None:
        user_services.user_delete(
            tenant=tenant, actor=actor, user_id=resource_id, expected_version=expected_version
        )


class GroupResource:
    resource_type = GROUP
    model = Group
    # A successful group PATCH answers 204 (RFC 7644 section 3.5.2 allows it; Entra expects it)
    # unless the client asks for attributes: rendering the result would read the whole member
    # list, making a one-member change cost O(members).
    patch_returns_resource = False

    def queryset(self, tenant: Tenant) -> QuerySet:
        return Group.objects.filter(tenant=tenant)

    def readable(self, queryset: QuerySet, projection: Projection, *, sort_key=False, searched=False):
        return queryset  # members are read per group, and only when asked for

    def get(self, tenant: Tenant, resource_id: str, projection: Projection | None = None) -> Group:
        return selectors.group_get(tenant=tenant, group_id=resource_id)

    def render_many(self, tenant, groups, projection: Projection, base_url: str) -> list[dict]:
        return [self.render(tenant, g, projection, base_url) for g in groups]

    def render(self, tenant, group, projection: Projection, base_url: str) -> dict:
        doc = document_from_instance(GROUP, group)
        if projection.includes("members"):
            members = selectors.group_members(tenant=tenant, group_id=group.pk)
            if members:
                doc["members"] = [
                    {"value": str(pk), "$ref": f"{base_url}/{kind}s/{pk}", "display": display, "type": kind}
                    for kind, pk, display in members
                ]
        return projection.apply(
            {"schemas": [GROUP.schema.id], "id": str(group.pk), **doc, "meta": meta(GROUP, group, base_url)}
        )

    def create(self, tenant: Tenant, actor: Actor, body: Any) -> Group:
        doc, members = self._split_members(body)
        _check_required(GROUP, doc)
        fields = fields_from_document(GROUP, Group, doc, replace=True)
        return group_services.group_create(tenant=tenant, actor=actor, fields=fields, members=members or [])

    def replace(self, tenant, actor, resource_id, body, expected_version) -> Group:
        self.get(tenant, resource_id)
        doc, members = self._split_members(body)
        _check_required(GROUP, doc)
        _check_id(body, resource_id)
        fields = fields_from_document(GROUP, Group, doc, replace=True)
        return group_services.group_update(
            tenant=tenant,
            actor=actor,
            group_id=resource_id,
            fields=fields,
            replace_members=members,
            expected_version=expected_version,
        )

    def patch(self, tenant, actor, resource_id, body, expected_version) -> Group:
        operations = parse_operations(body)
        current = self.get(tenant, resource_id)
        doc, members = apply_operations(GROUP, document_from_instance(GROUP, current), operations)
        _check_required(GROUP, doc)
        fields = fields_from_document(GROUP, Group, doc, replace=True)
        # Only what the operations change: the rest was read without a lock, and writing it back
        # would undo a concurrent rename (Okta re-sends the name with membership changes). Member
        # changes are set operations.
        fields = {field: value for field, value in fields.items() if getattr(current, field) != value}
        return group_services.group_update(
            tenant=tenant,
            actor=actor,
            group_id=resource_id,
            fields=fields,
            add=_refs(members.add),
            remove=_refs(members.remove),
            replace_members=_refs(members.replace) if members.replace is not None else None,
            expected_version=expected_version,
        )

    def delete(self, tenant, actor, resource_id, expected_version) -> None:
        group_services.group_delete(
            tenant=tenant, actor=actor, group_id=resource_id, expected_version=expected_version
        )

    def _split_members(self, body: Any) -> tuple[dict, list[MemberRef] | None]:
        """The group document without members, and the members (None when omitted)."""
        if isinstance(body, dict):
            body = dict(body)
            key = next((k for k in body if k.lower() == "members"), None)
            raw = body.pop(key) if key else None
        else:
            raw = None
        doc = normalize_resource(GROUP, body)
        if raw is None:
            return doc, None
        return doc, [MemberRef(r["value"], r["type"]) for r in member_refs(raw, "members")]


def _refs(by_id: dict) -> list[MemberRef]:
    return [MemberRef(ref["value"], ref.get("type")) for ref in by_id.values()]


def _check_id(body: Any, resource_id: str) -> None:
    """A PUT may echo the id (Okta does); a different id is an attempt to change it."""
    if isinstance(body, dict):
        given = next((v for k, v in body.items() if k.lower() == "id"), None)
        if given is not None and str(given) != str(resource_id):
            raise Mutability(f'"id" is {given!r} in the body but {resource_id} in the URL; id is read-only.')


RESOURCES: dict[str, UserResource | GroupResource] = {"Users": UserResource(), "Groups": GroupResource()}
