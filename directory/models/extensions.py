"""Tenant-defined extension schemas (RFC 7643 section 3.3) and the values they hold.

A tenant declares, per resource type, extension schemas of its own (``ExtensionSchema``), each
with its attributes (``ExtensionAttribute``, the characteristics of RFC 7643 section 7; a complex
attribute's sub-attributes point to it by ``parent``). The declarations are rows, not code: an
administrator edits them in the admin or loads an RFC 7643 schema document
(``manage.py load_schema``), always through ``directory.services.extensions``.

The values live where the resource lives, in its ``extensions`` JSON column
(``{"<schema URN>": {"<attribute>": value}}``, spelled as declared), so that a resource is still
read from its row alone. Each leaf value (a simple attribute's value, each element of a
multi-valued one, each sub-attribute of a complex one) is also copied into an *extension value*
row in a typed column (``UserExtensionValue``, ``GroupExtensionValue``), which filters, sorting
and ``uniqueness: server`` use: indexed, on both databases. The services that write a resource
rewrite those rows in the same transaction.

Removing an attribute or a schema marks it ``removed_at``: it is no longer served, accepted or
filterable, but its values (column and rows) are kept until an explicit purge deletes the
declaration, its rows with it.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

SHORT = 256


class ExtensionSchema(models.Model):
    class ResourceType(models.TextChoices):
        USER = "User", "User"
        GROUP = "Group", "Group"

    tenant = models.ForeignKey(
        "directory.Tenant", on_delete=models.PROTECT, related_name="extension_schemas", db_index=False
    )
    resource_type = models.CharField(max_length=16, choices=ResourceType.choices)
    urn = models.CharField(
        max_length=SHORT, help_text="The schema's id, e.g. urn:...:extension:acme:2.0:User"
    )
    # The URN casefolded: URNs are compared ignoring case (RFC 7644 section 3.10), one per tenant.
    urn_key = models.CharField(max_length=SHORT * 3, editable=False)
    name = models.CharField(max_length=SHORT, blank=True, default="")
    description = models.TextField(blank=True, default="")
    # schemaExtensions[].required of the resource type (RFC 7643 section 6): every resource of the
    # type must carry this extension.
    required = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="Removed: no longer served; its values are kept until purged."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint("tenant", "urn_key", name="extension_schema_urn_unique"),
        ]
        ordering = ["tenant", "resource_type", "urn"]

    def __str__(self) -> str:
        return self.urn


class ExtensionAttribute(models.Model):
    TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex")
    MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
    RETURNED = ("always", "never", "default", "request")
    UNIQUENESS = ("none", "server", "global")

    schema = models.ForeignKey(ExtensionSchema, on_delete=models.CASCADE, related_name="attributes")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_attributes"
    )
    name = models.CharField(max_length=64)
    name_key = models.CharField(max_length=64, editable=False)
    type = models.CharField(max_length=16, choices=[(t, t) for t in TYPES], default="string")
    multi_valued = models.BooleanField(default=False)
    description = models.TextField(blank=True, default="")
    required = models.BooleanField(default=False)
    case_exact = models.BooleanField(default=False)
    mutability = models.CharField(max_length=16, choices=[(m, m) for m in MUTABILITY], default="readWrite")
    returned = models.CharField(max_length=16, choices=[(r, r) for r in RETURNED], default="default")
    uniqueness = models.CharField(max_length=16, choices=[(u, u) for u in UNIQUENESS], default="none")
    canonical_values = models.JSONField(default=list, blank=True)
    reference_types = models.JSONField(default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="Removed: no longer served; its values are kept until purged."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "schema", "name_key", condition=Q(parent__isnull=True), name="extension_attribute_unique"
            ),
            models.UniqueConstraint(
                "parent", "name_key", condition=Q(parent__isnull=False), name="extension_sub_attribute_unique"
            ),
        ]
        ordering = ["schema", "position", "id"]

    def __str__(self) -> str:
        return f"{self.parent.name}.{self.name}" if self.parent_id and self.parent else self.name


class ExtensionValue(models.Model):
    """One leaf value of an extension attribute, in the column of its type: ``key`` (strings:
    casefolded unless caseExact, indexed for ``eq`` and ``sw``), ``number`` (integer, decimal),
    ``moment`` (dateTime), ``flag`` (boolean), ``text`` (the value as sent, for string-like types).
    ``element`` is its position in a multi-valued attribute (0 for a singular one); the sub-attribute
    values of one element of a complex attribute share it. ``unique`` copies the attribute's
    ``uniqueness: server``, so that one partial unique index enforces it for every attribute."""

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    attribute = models.ForeignKey(
        ExtensionAttribute, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    element = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=SHORT * 3, null=True, blank=True)
    # Integers and decimals of up to 35 digits before the point and 30 after (checked on input).
    number = models.DecimalField(max_digits=65, decimal_places=30, null=True, blank=True)
    moment = models.DateTimeField(null=True, blank=True)
    flag = models.BooleanField(null=True, blank=True)
    text = models.TextField(null=True, blank=True)
    unique = models.BooleanField(default=False)

    class Meta:
        abstract = True


def _value_meta(prefix: str) -> dict:
    """The indexes and constraints of one owner's value table (``prefix``: its name's stem)."""
    return {
        "constraints": [
            models.UniqueConstraint(
                "tenant",
                "attribute",
                "key",
                condition=Q(unique=True, key__isnull=False),
                name=f"{prefix}_unique_key",
            ),
            models.UniqueConstraint(
                "tenant",
                "attribute",
                "number",
                condition=Q(unique=True, number__isnull=False),
                name=f"{prefix}_unique_number",
            ),
        ],
        "indexes": [
            # eq and sw on strings: LIKE 'x%' can use a B-tree index only when it compares in the
            # C collation, hence varchar_pattern_ops on PostgreSQL (which serves = too; SQLite has
            # no operator classes and ignores it).
            models.Index(
                fields=["tenant", "attribute", "key"],
                opclasses=["", "", "varchar_pattern_ops"],
                condition=Q(key__isnull=False),
                name=f"{prefix}_key",
            ),
            models.Index(
                fields=["tenant", "attribute", "number"],
                condition=Q(number__isnull=False),
                name=f"{prefix}_number",
            ),
            models.Index(
                fields=["tenant", "attribute", "moment"],
                condition=Q(moment__isnull=False),
                name=f"{prefix}_moment",
            ),
            # The rows of one resource: rewritten with it, and probed per resource by filters.
            models.Index(fields=["owner", "attribute", "element"], name=f"{prefix}_owner"),
        ],
    }


class UserExtensionValue(ExtensionValue):
    owner = models.ForeignKey(
        "directory.User", on_delete=models.CASCADE, related_name="extension_values", db_index=False
    )

    class Meta:
        constraints = _value_meta("user_ext")["constraints"]
        indexes = _value_meta("user_ext")["indexes"]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.attribute_id}[{self.element}]"


class GroupExtensionValue(ExtensionValue):
    # Deleted by group_delete itself, only in a tenant that has declared extensions: a cascade would
    # cost every group delete a query for rows that most tenants never have.
    owner = models.ForeignKey(
        "directory.Group", on_delete=models.DO_NOTHING, related_name="extension_values", db_index=False
    )

    class Meta:
        constraints = _value_meta("group_ext")["constraints"]
        indexes = _value_meta("group_ext")["indexes"]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.attribute_id}[{self.element}]"
