"""The offboarding steps: what is done for a leaver once access has ended, each run by a Celery
task (``lifecycle.tasks.run_case_steps``), retried with exponential backoff, its status kept on the
case (``CaseStep``).

Roster ships three (registered by ``LifecycleConfig.ready``):

- ``revoke_sessions``: sends ``lifecycle.signals.revoke_sessions``; the host application's
  receivers end the leaver's sessions and API keys (an exception retries the step);
- ``record_data_successor``: records who takes over the leaver's data, the manager (HR may
  change it);
- ``notify_manager``: emails the manager (Django's email backend; the console in development).

A host application adds its own from its ``AppConfig.ready``::

    from lifecycle.steps import register

    def archive_mailbox(context):
        mailbox_service.archive(context.user.user_name)  # raise to retry; safe to run twice

    register("archive_mailbox", archive_mailbox, label="Archive the mailbox")

A step runs at least once and may run again (a worker killed mid-step): write it so that a second
run changes nothing. It gets a ``StepContext`` (the case, its tenant and user, the time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from lifecycle import signals


@dataclass(frozen=True)
class StepContext:
    case: Any  # lifecycle.models.OffboardingCase
    tenant: Any
    user: Any  # directory.models.User, hidden or not; None once purged
    now: Any


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[StepContext], None]
    label: str
    max_attempts: int = 6


_REGISTRY: dict[str, Step] = {}


def register(
    name: str, run: Callable[[StepContext], None], *, label: str = "", max_attempts: int = 6
) -> None:
    """Add a step (or replace the one of that name): it runs for every case opened from now on,
    after those registered before it."""
    _REGISTRY[name] = Step(
        name=name, run=run, label=label or name.replace("_", " "), max_attempts=max_attempts
    )


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered() -> list[Step]:
    return list(_REGISTRY.values())


def step_named(name: str) -> Step | None:
    return _REGISTRY.get(name)


# --- the steps Roster ships ----------------------------------------------------------------------


def revoke_sessions(context: StepContext) -> None:
    signals.revoke_sessions.send(
        sender=Step, tenant=context.tenant, user_id=context.case.subject_id, case=context.case
    )


def record_data_successor(context: StepContext) -> None:
    case = context.case
    if case.data_successor_id is None and context.user is not None and context.user.manager_id:
        type(case).objects.filter(pk=case.pk, data_successor=None).update(
            data_successor=context.user.manager_id
        )


def notify_manager(context: StepContext) -> None:
    user = context.user
    manager = user.manager if user is not None and user.manager_id else None
    address = _work_email(manager) if manager is not None else None
    if address is None:
        return  # nobody to tell: the step is done
    text = render_to_string(
        "emails/offboarding_manager.txt", {"user": user, "manager": manager, "case": context.case}
    )
    subject, _, body = text.partition("\n\n")
    send_mail(subject.strip(), body, settings.DEFAULT_FROM_EMAIL, [address])


def _work_email(user) -> str | None:
    emails = [e for e in (user.emails or []) if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), None) or next(iter(emails), None)
    return str(primary["value"]) if primary else None


def register_builtins() -> None:
    """Roster's steps, then those the LIFECYCLE_STEPS setting names (``module:function``)."""
    register("revoke_sessions", revoke_sessions, label="Revoke sessions and API keys")
    register("record_data_successor", record_data_successor, label="Record the data successor")
    register("notify_manager", notify_manager, label="Notify the manager")
    for path in settings.LIFECYCLE_STEPS:
        module, _, name = path.strip().partition(":")
        register(name, getattr(import_module(module), name))
