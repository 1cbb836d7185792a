"""Background tasks of the directory app."""

import socket
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from directory.models import WorkerHeartbeat
from directory.services.audit_chain import audit_chain_seal_all
from directory.services.requests import scim_requests_prune


@shared_task(bind=True, name="directory.tasks.heartbeat")
def heartbeat(self) -> None:
    """Stamp this worker's last sign of life (scheduled every minute by beat)."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or socket.gethostname(), defaults={"seen_at": timezone.now()}
    )


@shared_task(name="directory.tasks.audit_seal")
def audit_seal() -> int:
    """Append what has committed to each tenant's audit hash chain (beat: ``audit-seal``, every
    minute). Idempotent, and several workers split the chains (directory.services.audit_chain)."""
    return audit_chain_seal_all()


@shared_task(name="directory.tasks.scim_request_log_prune")
def scim_request_log_prune() -> int:
    """Delete the SCIM request log's rows older than SCIM_REQUEST_LOG_DAYS (scheduled hourly by beat:
    migration 0026); the number deleted."""
    before = timezone.now() - timedelta(days=settings.SCIM_REQUEST_LOG_DAYS)
    return scim_requests_prune(before=before)
