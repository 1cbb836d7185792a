"""How the HR screen (and its emails) name a person and a date: the person's name as the list
sorts it (``lifecycle.hr.selectors.person_sort_name``), its work email, and days left."""

from __future__ import annotations

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def person_name(user) -> str:
    """displayName, else the formatted name, else given and family name, else userName."""
    if user is None:
        return "(purged)"
    given_family = f"{user.name_given_name} {user.name_family_name}".strip()
    return user.display_name or user.name_formatted or given_family or user.user_name


@register.filter
def person_email(user) -> str:
    """The primary email (RFC 7643 section 2.4: at most one is primary), else the first."""
    emails = [e for e in (getattr(user, "emails", None) or []) if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    return str(primary["value"]) if primary else ""


@register.filter
def days_left(when) -> str:
    """ "in 3 days", "today", "2 days overdue", or "" without a date."""
    if when is None:
        return ""
    days = (timezone.localdate(when) - timezone.localdate()).days
    if days > 1:
        return f"in {days} days"
    if days == 1:
        return "tomorrow"
    if days == 0:
        return "today"
    return f"{-days} day{'s' if days < -1 else ''} overdue"


EVENT_LABELS = {
    "offboarding.opened": "Case opened",
    "offboarding.review_requested": "Sent for HR review",
    "offboarding.approval_recorded": "First approval (four eyes)",
    "offboarding.approved": "Deletion approved",
    "offboarding.extended": "Grace period extended",
    "offboarding.held": "Legal hold placed",
    "offboarding.released": "Released",
    "offboarding.cancelled": "Cancelled",
    "offboarding.deleted": "Deleted",
    "offboarding.purged": "Purged",
    "offboarding.quarantined": "Quarantined in a burst",
    "offboarding.revert_failed": "Burst revert failed",
    "offboarding.idp_deleted": "Deleted by the identity provider",
    "offboarding.noted": "Note",
    "offboarding.successor_named": "Data successor named",
    "user.created": "Account created",
    "user.updated": "Account changed",
    "user.deleted": "Account deleted",
    "user.restored": "Account restored (rehire)",
}


@register.filter
def event_label(action: str) -> str:
    """An audit event's action as a reader says it (the code itself for one not listed)."""
    return EVENT_LABELS.get(action, action)


@register.filter
def state_label(state: str | None) -> str:
    """A case state's label ("Pending HR review"), or "—"."""
    from lifecycle.models import CaseState

    return CaseState(state).label if state in CaseState.values else (state or "—")
