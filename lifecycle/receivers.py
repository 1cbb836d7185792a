"""The lifecycle's answers to the directory's announcements (``directory.signals``), in the
transaction of the SCIM write that made them: a deprovisioned user gets its case, a reactivated
one has its case cancelled. Connected in ``LifecycleConfig.ready``."""

from django.db import transaction

from directory.models import Tenant
from directory.services.audit import Actor
from lifecycle.models import Trigger
from lifecycle.services import case_cancel, case_open, groups_restore


def on_user_deactivated(*, tenant: Tenant, user_id, user_name: str, actor: Actor, at, **kwargs) -> None:
    case_open(
        tenant=tenant, user_id=user_id, user_name=user_name, trigger=Trigger.DEACTIVATE, actor=actor, at=at
    )


def on_user_deleted(*, tenant: Tenant, user_id, user_name: str, actor: Actor, at, groups, **kwargs) -> None:
    case_open(
        tenant=tenant,
        user_id=user_id,
        user_name=user_name,
        trigger=Trigger.DELETE,
        actor=actor,
        at=at,
        groups=groups,
    )


def on_user_activated(*, tenant: Tenant, user_id, actor: Actor, at, **kwargs) -> None:
    case_cancel(
        tenant=tenant, user_id=user_id, actor=actor, at=at, reason="reactivated by the identity provider"
    )


def on_user_restored(*, tenant: Tenant, user_id, actor: Actor, at, **kwargs) -> None:
    """A rehire: the case is cancelled, and once the restore commits the user is put back in the
    groups it was in when it was hidden (each add a group write of its own, in the lock order)."""
    case = case_cancel(
        tenant=tenant, user_id=user_id, actor=actor, at=at, reason="rehired: created again by the IdP"
    )
    groups = (case.restore or {}).get("groups", []) if case is not None else []
    if groups:
        transaction.on_commit(
            lambda: groups_restore(tenant=tenant, user_id=user_id, group_ids=groups, actor=actor)
        )
