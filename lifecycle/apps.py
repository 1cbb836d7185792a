from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Lifecycle"

    def ready(self) -> None:
        # The directory announces deprovisions and reactivations in the write's transaction; the
        # cases are opened and cancelled in it (lifecycle/receivers.py).
        from django.db.models.signals import post_migrate

        from directory import metrics, signals
        from lifecycle import receivers, reviewers, steps
        from lifecycle.metrics import LifecycleCollector

        post_migrate.connect(
            reviewers.reviewers_group_ensure, sender=self, dispatch_uid="lifecycle.reviewers"
        )

        steps.register_builtins()
        signals.user_deactivated.connect(receivers.on_user_deactivated, dispatch_uid="lifecycle.deactivated")
        signals.user_deleted.connect(receivers.on_user_deleted, dispatch_uid="lifecycle.deleted")
        signals.user_activated.connect(receivers.on_user_activated, dispatch_uid="lifecycle.activated")
        signals.user_restored.connect(receivers.on_user_restored, dispatch_uid="lifecycle.restored")

        # Open cases and bursts, read at each scrape of /metrics.
        metrics.scrape_collector_register(LifecycleCollector())
