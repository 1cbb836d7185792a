"""Creating tenants and changing their settings."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from directory.models import Tenant
from directory.services.audit import Actor, audit_record


def _jsonable(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@transaction.atomic
def tenant_create(*, slug: str, actor: Actor, name: str = "", **settings) -> Tenant:
    """Create a tenant; ``settings`` are other Tenant fields (offboarding_policy, ...)."""
    tenant = Tenant(slug=slug, name=name or slug.replace("-", " ").title(), **settings)
    tenant.full_clean()
    tenant.save()
    audit_record(
        tenant=tenant,
        actor=actor,
        action="tenant.created",
        target_type="tenant",
        target_id=tenant.pk,
        target_label=tenant.slug,
        changes={
            field: {"before": None, "after": _jsonable(getattr(tenant, field))}
            for field in ("slug", "name", *settings)
        },
    )
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, actor: Actor, **values) -> Tenant:
    """Change a tenant's name or settings; records the fields that really changed."""
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    changes = {}
    for field, value in values.items():
        if getattr(current, field) != value:
            changes[field] = {"before": _jsonable(getattr(current, field)), "after": _jsonable(value)}
            setattr(current, field, value)
    if changes:
        current.full_clean()
        current.save(update_fields=list(changes))
        audit_record(
            tenant=current,
            actor=actor,
            action="tenant.updated",
            target_type="tenant",
            target_id=current.pk,
            target_label=current.slug,
            changes=changes,
        )
    return current
