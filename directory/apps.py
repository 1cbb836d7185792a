from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        import atexit

        from axes.models import AccessAttempt
        from axes.signals import user_locked_out
        from celery.signals import task_failure, task_retry, task_success
        from django.conf import settings
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_delete, post_save

        from directory import lockouts, metrics, request_buffer
        from directory.db import token_cache
        from directory.models import ScimToken, Tenant

        # The admin login's failures, lockouts and unlocks, in the audit trail.
        user_login_failed.connect(lockouts.record_login_failure, dispatch_uid="roster_login_failed")
        user_locked_out.connect(lockouts.record_lockout, dispatch_uid="roster_locked_out")
        post_delete.connect(lockouts.record_unlock, sender=AccessAttempt, dispatch_uid="roster_unlocked")

        # A thread's own change to a token or tenant empties its token cache at once.
        for model in (ScimToken, Tenant):
            name = model.__name__
            post_save.connect(token_cache.changed, sender=model, dispatch_uid=f"token_cache_{name}_save")
            post_delete.connect(token_cache.changed, sender=model, dispatch_uid=f"token_cache_{name}_delete")

        # A process exiting writes the SCIM request log's rows and counts it kept (request_buffer).
        atexit.register(request_buffer.flush_at_exit)
        if settings.METRICS_ENABLED:
            # Celery tasks' outcomes, by task name, for /metrics (directory/metrics.py).
            task_success.connect(metrics.task_succeeded, dispatch_uid="metrics_task_success")
            task_failure.connect(metrics.task_failed, dispatch_uid="metrics_task_failure")
            task_retry.connect(metrics.task_retried, dispatch_uid="metrics_task_retry")
