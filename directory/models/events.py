"""Outbound events (issue 22): what the host application learns of every change, by feed
(``GET /api/events``), by signed webhooks, and as Django signals.

The audit trail is the outbox. Every change already appends its audit event in the transaction
(often the very statement) that makes it; a database trigger on that insert (migration 0028) adds
an ``EventSource`` row holding the resource's row as the change left it. So no write path can
forget its event, an event exists exactly when its change committed, and a write costs one small
insert more, in the same round trip. After commit, the *sequencer* (``directory.services.events``)
turns sources into ``Event`` rows numbered in commit order: their ids are the feed's cursor.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventSource(models.Model):
    """An audit event still to be published, with the resource's row as its transaction wrote it
    (``snapshot``, the row's columns as JSON). Written by the trigger of migration 0028, consumed
    (deleted) by the sequencer. On PostgreSQL the database adds ``xact``, the id of the transaction
    that wrote it (like ``AuditEvent.xact``), which the sequencer orders by."""

    audit_event = models.OneToOneField(
        "directory.AuditEvent",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    tenant_id = models.BigIntegerField(null=True)
    snapshot = models.JSONField(null=True)

    def __str__(self) -> str:
        return f"source of audit event {self.pk}"


class Event(models.Model):
    """One published event. ``id`` is its place in commit order, and the feed's cursor; ``uid``
    names it outside (the webhook-id, the SET's jti): the same on every delivery and replay."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40)
    tenant = models.ForeignKey(
        "directory.Tenant", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    audit_event_id = models.BigIntegerField(null=True, help_text="The audit event it was drawn from.")
    txn = models.CharField(max_length=32, blank=True, default="", help_text="The writing transaction's id.")
    resource_type = models.CharField(max_length=32, blank=True, default="")
    resource_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    published_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(help_text="The event as the feed and webhooks send it.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "id"], name="event_tenant_id"),
            models.Index(fields=["published_at"], name="event_published"),
            models.Index(fields=["tenant", "resource_id"], name="event_resource"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class EventFeedState(models.Model):
    """One row: how far the retention has pruned (``pruned_through``: the last id deleted), so a
    reader whose cursor is older learns that it missed events instead of silently skipping."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"events pruned through {self.pruned_through}"


class WebhookFormat(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (JSON, signed with the endpoint's secret)"
    SET = "set", "Security Event Tokens (RFC 9967 / RFC 8935 push, signed ES256)"


class WebhookEndpoint(models.Model):
    """Where one tenant's events (or every tenant's) are sent, which of them, and how far delivery
    has come: ``cursor`` is the id of the last event delivered (or not meant for it). Delivery is
    one worker at a time per endpoint (``leased_until``), in id order, so it receives a tenant's
    events in commit order, and a failing endpoint holds only its own queue."""

    tenant = models.ForeignKey(
        "directory.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
        help_text="Whose events it receives; empty: every tenant's.",
    )
    url = models.URLField(max_length=500, help_text="https:// address of the receiver.")
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = models.JSONField(
        default=list, blank=True, help_text="The event types it is subscribed to; empty: all of them."
    )
    format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.STANDARD)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    set_private_key = models.TextField(blank=True, default="", editable=False)
    set_audience = models.CharField(
        max_length=200, blank=True, default="", help_text="The SETs' aud claim (RFC 8417); default: the URL."
    )
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Delivery state (directory.services.webhooks).
    cursor = models.BigIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["tenant", "url"]

    def __str__(self) -> str:
        return f"{self.tenant.slug if self.tenant else 'every tenant'} → {self.url}"


class WebhookAttempt(models.Model):
    """One delivery attempt: to which endpoint, of which event (none for a test event), what came
    back and how long it took."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    webhook_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=40)
    attempted_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    answer = models.TextField(blank=True, default="", help_text="The start of the receiver's answer.")
    delivered = models.BooleanField(default=False)
    kind = models.CharField(max_length=8, default="event", help_text="event, replay or test")

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="attempt_endpoint"),
            models.Index(fields=["attempted_at"], name="attempt_time"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} → {self.status or self.error}"


class WebhookReplay(models.Model):
    """One event to send again to an endpoint, out of the ordered queue (an administrator's
    request); deleted once delivered."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="replays")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="replay_once")]

    def __str__(self) -> str:
        return f"replay of event {self.event_id} to endpoint {self.endpoint_id}"
