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


@shared_task(name="directory.tasks.events_sequence")
def events_sequence_task() -> int:
    """Publish what has committed (directory.services.events): enqueued after writes, and by beat
    (``events-sequence``) as the sweep. Runs again while a run fills its batch."""
    from directory.services.events import SEQUENCE_BATCH, events_sequence

    total = 0
    for _ in range(20):  # then the sweep carries on: a run never monopolises a worker
        published = events_sequence()
        total += published
        if published < SEQUENCE_BATCH:
            break
    return total


@shared_task(name="directory.tasks.webhook_deliver")
def webhook_deliver_task(endpoint_id: int) -> int:
    """Deliver an endpoint's due events (directory.services.webhooks); idempotent: a second worker
    finds the endpoint leased and returns."""
    from directory.services.webhooks import webhook_deliver

    return webhook_deliver(endpoint_id)


@shared_task(name="directory.tasks.events_sweep")
def events_sweep() -> int:
    """Beat's ``events-sequence`` (every 5 s): publish what a lost message left behind, and wake the
    endpoints with events due."""
    from directory.services.webhooks import webhooks_sweep

    events_sequence_task()
    return webhooks_sweep()


@shared_task(name="directory.tasks.events_prune")
def events_prune_task() -> int:
    """Delete events and delivery attempts older than EVENTS_RETENTION_DAYS (beat: daily)."""
    from directory.services.events import events_prune

    return events_prune(before=timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS))
