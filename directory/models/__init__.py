from directory.models.audit import ActorType, AuditChain, AuditEvent, AuditSeal
from directory.models.base import casefold_key, new_id
from directory.models.events import (
    Event,
    EventFeedState,
    EventSource,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookFormat,
    WebhookReplay,
)
from directory.models.extensions import (
    ExtensionAttribute,
    ExtensionSchema,
    GroupExtensionValue,
    UserExtensionValue,
)
from directory.models.groups import Group, Membership
from directory.models.health import WorkerHeartbeat
from directory.models.requests import ScimRequest, ScimRequestDay
from directory.models.tenants import DeprovisionAction, Tenant
from directory.models.tokens import ApiKey, ScimToken
from directory.models.users import PendingDeactivation, User, UserState, UserValue

__all__ = [
    "ActorType",
    "ApiKey",
    "AuditChain",
    "AuditEvent",
    "AuditSeal",
    "DeprovisionAction",
    "Event",
    "EventFeedState",
    "EventSource",
    "ExtensionAttribute",
    "ExtensionSchema",
    "Group",
    "GroupExtensionValue",
    "Membership",
    "PendingDeactivation",
    "ScimRequest",
    "ScimRequestDay",
    "ScimToken",
    "Tenant",
    "User",
    "UserExtensionValue",
    "UserState",
    "UserValue",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookFormat",
    "WebhookReplay",
    "WorkerHeartbeat",
    "casefold_key",
    "new_id",
]
