"""The SCIM request log (``ScimRequest``): one row per SCIM write and per failed request, kept
``SCIM_REQUEST_LOG_DAYS`` and then pruned (directory.services.requests.scim_requests_prune); and
each token's requests per day (``ScimRequestDay``), where successful reads are only counted.

A request's row and the audit events it caused share the tenant and the request id (SCIM's
``X-Request-ID``), which the admin follows both ways. Rows are written after the request's
transaction ended, so a write that failed and rolled back is still in the log.
"""

from django.db import models
from django.utils import timezone


class ScimRequest(models.Model):
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    # None for a request without a valid token (401), whose tenant nobody can vouch for.
    tenant = models.ForeignKey(
        "directory.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    token = models.ForeignKey(
        "directory.ScimToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500, help_text="Without the query string.")
    query = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="The query's parameter names, never their values (a filter names people).",
    )
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField("scimType", max_length=32, blank=True, default="")
    latency_ms = models.FloatField("latency (ms)")
    request_id = models.CharField(max_length=64)
    body = models.TextField(
        blank=True,
        default="",
        help_text="The request's JSON body without passwords, secrets or attributes returned never.",
    )
    body_truncated = models.BooleanField(default=False)
    # POST /Bulk: each operation's method, path, bulkId, status and scimType, as answered.
    operations = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "SCIM request"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["received_at"], name="scimrequest_received"),
            models.Index(fields=["tenant", "received_at"], name="scimrequest_tenant_received"),
            models.Index(fields=["request_id"], name="scimrequest_request_id"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status} ({self.request_id})"


class ScimRequestDay(models.Model):
    """One token's SCIM requests on one day (UTC): reads answered, writes answered, and requests
    refused or failed (any status of 400 and more), with their total latency."""

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    token = models.ForeignKey(
        "directory.ScimToken", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    day = models.DateField()
    reads = models.PositiveBigIntegerField(default=0)
    writes = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    latency_ms = models.FloatField("total latency (ms)", default=0)

    class Meta:
        verbose_name = "SCIM requests of a day"
        verbose_name_plural = "SCIM requests per day"
        constraints = [models.UniqueConstraint(fields=["token", "day"], name="scimrequestday_token_day")]
        indexes = [
            models.Index(fields=["tenant", "day"], name="scimrequestday_tenant_day"),
            models.Index(fields=["day"], name="scimrequestday_day"),
        ]

    def __str__(self) -> str:
        counts = f"{self.reads} reads, {self.writes} writes, {self.errors} errors"
        return f"token {self.token_id} on {self.day}: {counts}"
