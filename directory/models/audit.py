"""The audit trail: one append-only row per change to directory data, and per failed login,
lockout and unlock of the admin (events of no tenant: directory/lockouts.py).

Rows are never updated (the model refuses, and a database trigger refuses too). The trail is to
double as the outbox for events sent to the host application; note that ids are taken in insert
order, not commit order, so a reader resuming after the last id it saw can miss an event of a
transaction that committed late. On PostgreSQL each row also records the id of the transaction
that wrote it (``xact``, a column the model does not name: the database fills it, migration 0010),
which with a snapshot tells exactly what a reader has not seen yet (``directory.db.query_memory``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ActorType(models.TextChoices):
    TOKEN = "token", "SCIM token"
    ADMIN = "admin", "Administrator"
    SYSTEM = "system", "System task"
    # Someone not logged in: a failed admin login (directory/lockouts.py), named by its address.
    CLIENT = "client", "Unauthenticated client"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only.")

    def delete(self):
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    # Not indexed alone: audit_tenant_time leads with it (one index less to write per event).
    # None for events of no tenant: the admin login's failures, lockouts and unlocks.
    tenant = models.ForeignKey(
        "directory.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,
    )
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_token = models.ForeignKey(
        "directory.ScimToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted, as they were named then.")
    action = models.CharField(max_length=64, help_text="e.g. user.created, group.members_added")
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=300, blank=True, default="")
    changes = models.JSONField(
        default=dict, blank=True, help_text='{"attribute": {"before": ..., "after": ...}}'
    )
    request_id = models.CharField(max_length=64, blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "target_type", "target_id"], name="audit_tenant_target"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label or self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only.")


class AuditSeal(models.Model):
    """One event's place in its chain (directory.services.audit_chain): each tenant's events, and
    the events of no tenant, form one chain each, in the order the sealer found them committed.
    ``link`` is an HMAC of the previous link, this place and the event (its fields, and a digest
    of its personal values: ``personal_digest``, so that the purge may erase the values and the
    chain still holds). Append-only like the events (migration 0024); never updated."""

    chain = models.BigIntegerField(help_text="The tenant's id; 0 for the events of no tenant.")
    position = models.BigIntegerField()
    # Not a foreign key: an event deleted behind the model's back must leave its seal to tell.
    event_id = models.BigIntegerField(unique=True)
    personal_digest = models.CharField(max_length=64)
    link = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "position"], name="audit_seal_place")]

    def __str__(self) -> str:
        return f"chain {self.chain} #{self.position}: event {self.event_id}"


class AuditChain(models.Model):
    """The head of one chain: its last place and link, and where the sealer resumes (``horizon``:
    PostgreSQL, the snapshot its last run saw; SQLite, the last event id it sealed)."""

    chain = models.BigIntegerField(primary_key=True)
    position = models.BigIntegerField(default=0)
    link = models.CharField(max_length=64, default="")
    horizon = models.TextField(blank=True, default="")
    sealed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"chain {self.chain} at #{self.position}"
