"""The lifecycle's answers to the directory's announcements (``directory.signals``), in the
transaction of the SCIM write that made them: a deprovisioned user gets its case, a reactivated
one has its case cancelled. Connected in ``LifecycleConfig.ready``."""

from directory.models import Tenant
from directory.services.audit import Actor
from lifecycle.models import Trigger
from lifecycle.services import case_cancel, case_open


def on_user_deactivated(*, tenant: Tenant, user_id, actor: Actor, at, **kwargs) -> None:
    case_open(tenant=tenant, user_id=user_id, trigger=Trigger.DEACTIVATE, actor=actor, at=at)


def on_user_deleted(*, tenant: Tenant, user_id, actor: Actor, at, groups, **kwargs) -> None:
    case_open(tenant=tenant, user_id=user_id, trigger=Trigger.DELETE, actor=actor, at=at, groups=groups)


def on_user_activated(*, tenant: Tenant, user_id, actor: Actor, at, **kwargs) -> None:
    case_cancel(
        tenant=tenant, user_id=user_id, actor=actor, at=at, reason="reactivated by the identity provider"
    )
