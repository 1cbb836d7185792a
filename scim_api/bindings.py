"""Resource-type bindings: how each SCIM resource type of the registry is stored.

The schema registry (``scim_api.schema``) says what a resource type's attributes are, as RFC 7643
defines them; its binding, declared here beside it, says where they live: the model, the table of
its multi-valued elements, its casefolded key columns, what a PUT that omits an attribute keeps,
and the resolvers of its derived attributes (``id``, ``meta``, and those stored as relations:
``groups``, ``members``, ``manager``). Filtering, sorting, storage, PATCH, Bulk, the URLs and the
resource handlers read the binding; nothing else tests a resource type's name or an attribute's
storage. A new resource type is a registry declaration, a binding, its model and migration, and
its handler (``scim_api.resources``); docs/ARCHITECTURE.md says how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import models

from directory.models import Group, GroupExtensionValue, Membership, User, UserExtensionValue, UserValue
from scim_api.schema import GROUP, USER, Attribute, ResourceType

# Resolvers of derived attributes: what each attribute is made of, for filters, sorting, PATCH and
# rendering, which each apply their own logic to the declaration.


@dataclass(frozen=True)
class Identity:
    """``id`` (RFC 7643 section 3.1): the primary key, issued by the server."""

    column: str = "pk"


@dataclass(frozen=True)
class Metadata:
    """``meta`` (RFC 7643 section 3.1): the columns behind its timestamps and its version."""

    created: str = "created_at"
    last_modified: str = "updated_at"
    version: str = "version"

    def column(self, sub_name: str) -> str | None:
        return {"created": self.created, "lastModified": self.last_modified}.get(sub_name)


@dataclass(frozen=True)
class Members:
    """A group's ``members`` (RFC 7643 section 4.2): memberships (``through``, keyed by ``owner``),
    each of one member type a column of the membership allows (``columns``: resource type name ->
    foreign key). Resolved by the group services, which lock and check each member."""

    through: type[models.Model]
    owner: str
    columns: Mapping[str, str]


@dataclass(frozen=True)
class MemberOf:
    """A user's ``groups`` (RFC 7643 section 4.1.2): read-only, the groups whose memberships
    (``through``) name the user in ``column``, directly or through nested groups."""

    through: type[models.Model]
    column: str


@dataclass(frozen=True)
class Reference:
    """A singular complex attribute naming another resource of the tenant by a foreign key
    (``manager``, RFC 7643 section 4.3): ``value`` is its id, ``$ref`` its location, and
    ``displayName`` (read-only) the target's ``display`` column."""

    field: str
    target: str
    display: str = "display_name"
    display_key: str = "display_name_key"

    @property
    def column(self) -> str:
        return f"{self.field}_id"


Derived = Identity | Metadata | Members | MemberOf | Reference


@dataclass(frozen=True)
class ValuesTable:
    """The rows the elements of a type's multi-valued attributes are copied into, so that a filter
    on an element is an indexed ``EXISTS`` (``directory.models.UserValue``): ``owner`` is the
    foreign key to the resource, ``attribute`` the column naming the model field, and ``columns``
    the sub-attributes each element has a (casefolded) column for; others are read from ``data``."""

    model: type[models.Model]
    owner: str
    attribute: str = "attribute"
    columns: Mapping[str, str] = field(
        default_factory=lambda: {"type": "type", "primary": "primary", "display": "display"}
    )


@dataclass(frozen=True)
class Binding:
    resource_type: ResourceType
    model: type[models.Model]
    # Columns holding a casefolded copy of a case-insensitive attribute (indexed): field -> column.
    key_columns: Mapping[str, str]
    derived: Mapping[str, Derived]
    values: ValuesTable | None = None
    # Fields a full replace (POST, PUT) leaves as they are when the document omits them
    # (scim_api.storage says why for each).
    kept_when_omitted: frozenset[str] = frozenset()
    # Whether a successful PATCH answers 200 with the resource (else 204 unless attributes are
    # asked for): RFC 7644 section 3.5.2 allows either.
    patch_returns_resource: bool = True
    # The rows the leaf values of the tenant's extension attributes are copied into, typed and
    # indexed, for filters, sorting and uniqueness (directory/models/extensions.py).
    extension_values: type[models.Model] | None = None

    @property
    def name(self) -> str:
        return self.resource_type.name

    @cached_property
    def endpoint(self) -> str:
        """The endpoint's path segment, e.g. ``Users``."""
        return self.resource_type.endpoint.strip("/")

    def resolver(self, attribute: Attribute) -> Derived | None:
        return self.derived.get(attribute.name)

    def members(self, attribute: Attribute) -> Members | None:
        """The attribute's ``Members`` resolver, when it is this type's members."""
        resolver = self.derived.get(attribute.name)
        return resolver if isinstance(resolver, Members) else None

    def reference(self, attribute: Attribute) -> Reference | None:
        resolver = self.derived.get(attribute.name)
        return resolver if isinstance(resolver, Reference) else None


_COMMON: dict[str, Any] = {"id": Identity(), "meta": Metadata()}

USER_BINDING = Binding(
    resource_type=USER,
    model=User,
    key_columns=User.KEY_COLUMNS,
    values=ValuesTable(model=UserValue, owner="user"),
    derived={
        **_COMMON,
        "groups": MemberOf(through=Membership, column="member_user"),
        "manager": Reference(field="manager", target="User"),
    },
    # password: writeOnly, so a client can never echo it back; active: so that a PUT built from a
    # partial view can neither re-enable a disabled account nor disable one by accident.
    kept_when_omitted=frozenset({"password", "active"}),
    patch_returns_resource=True,  # Okta reads the user back from the PATCH response
    extension_values=UserExtensionValue,
)

GROUP_BINDING = Binding(
    resource_type=GROUP,
    model=Group,
    key_columns=Group.KEY_COLUMNS,
    derived={
        **_COMMON,
        "members": Members(through=Membership, owner="group", columns=Membership.MEMBER_COLUMNS),
    },
    # A successful group PATCH answers 204 (Entra expects it) unless the client asks for
    # attributes: rendering the result would read the whole member list, making a one-member
    # change cost O(members).
    patch_returns_resource=False,
    extension_values=GroupExtensionValue,
)

BINDINGS: dict[str, Binding] = {b.name: b for b in (USER_BINDING, GROUP_BINDING)}
BY_ENDPOINT: dict[str, Binding] = {b.endpoint: b for b in BINDINGS.values()}


def binding_of(resource_type: ResourceType) -> Binding:
    return BINDINGS[resource_type.name]
