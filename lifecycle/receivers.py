"""The lifecycle's answers to the directory's announcements (``directory.signals``), in the
transaction of the SCIM write that made them: a deleted user gets its case, a reactivated one has
its case cancelled; a deactivated one is announced to the host, and its case opened by a worker
(``lifecycle.deactivations``). Connected in ``LifecycleConfig.ready``."""

import logging

from django.db import transaction

from directory.models import Tenant
from directory.services.audit import Actor
from lifecycle import signals
from lifecycle.deactivations import deactivations_nudge
from lifecycle.models import OffboardingCase, Trigger
from lifecycle.services import case_cancel, case_open, groups_restore

logger = logging.getLogger(__name__)


def on_user_deactivated(*, tenant: Tenant, user_id, user_name: str, actor: Actor, at, **kwargs) -> None:
    """Access has ended with the write (committed by now): the host application hears of it at
    once; a worker opens the case from the pending deactivation the write left. A receiver that
    raises is logged, not the identity provider's failure (the write has committed; the
    ``revoke_sessions`` step, retried by the worker, is the host's guaranteed hook)."""
    deactivations_nudge()
    answers = signals.user_suspended.send_robust(
        sender=OffboardingCase, tenant=tenant, user_id=user_id, user_name=user_name, at=at, case=None
    )
    for receiver, answer in answers:
        if isinstance(answer, Exception):
            logger.error("user_suspended receiver %r failed for user %s", receiver, user_id, exc_info=answer)


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
