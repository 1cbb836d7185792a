"""Background tasks of the directory app."""

import socket

from celery import shared_task
from django.utils import timezone

from directory.models import WorkerHeartbeat


@shared_task(bind=True, name="directory.tasks.heartbeat")
def heartbeat(self) -> None:
    """Stamp this worker's last sign of life (scheduled every minute by beat)."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or socket.gethostname(), defaults={"seen_at": timezone.now()}
    )
