from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from axes.models import AccessAttempt
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_delete

        from directory import lockouts

        # The admin login's failures, lockouts and unlocks, in the audit trail.
        user_login_failed.connect(lockouts.record_login_failure, dispatch_uid="roster_login_failed")
        user_locked_out.connect(lockouts.record_lockout, dispatch_uid="roster_locked_out")
        post_delete.connect(lockouts.record_unlock, sender=AccessAttempt, dispatch_uid="roster_unlocked")
