from django.core.management.base import BaseCommand

from directory.management.tenants import tenant_named
from lifecycle.services import cases_sweep
from lifecycle.step_runs import steps_resend


class Command(BaseCommand):
    help = "Advance the offboarding cases that are due, now: deletions whose time has come, then purges."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant's cases (its slug).")

    def handle(self, *args, tenant: str | None, **options):
        found = tenant_named(tenant) if tenant else None
        done = cases_sweep(tenant=found)
        resent = steps_resend(tenant=found)
        self.stdout.write(
            f"Deleted {done['deleted']}, purged {done['purged']}; steps sent again for {resent} case(s)."
        )
