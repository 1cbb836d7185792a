from django.core.management.base import BaseCommand

from directory.management.tenants import tenant_named
from lifecycle.sweep import lifecycle_sweep


class Command(BaseCommand):
    help = (
        "Run the lifecycle sweep once, now: due deletions, then purges; what bursts of deprovisions left to "
        "do; offboarding steps a lost message left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant's cases (its slug).")

    def handle(self, *args, tenant: str | None, **options):
        found = tenant_named(tenant) if tenant else None
        done = lifecycle_sweep(tenant=found)
        bursts = (
            f" Bursts: {done['quarantined']} case(s) quarantined, {done['alerts']} alert(s) sent, "
            f"{done['burst_cases']} case(s) released or reverted."
            if done["quarantined"] or done["alerts"] or done["burst_cases"]
            else ""
        )
        self.stdout.write(
            f"Deleted {done['deleted']}, purged {done['purged']}; steps sent again for "
            f"{done['steps_resent']} case(s).{bursts}"
        )
