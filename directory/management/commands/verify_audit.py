from django.core.management.base import BaseCommand, CommandError

from directory.models import Tenant
from directory.services.audit_chain import NO_TENANT, audit_chain_seal, audit_chain_verify, audit_chains


class Command(BaseCommand):
    help = (
        "Seal the audit events committed since the last seal, then verify each tenant's hash chain "
        "from its start and report the first broken link (an event altered or deleted, a seal "
        "removed). Exit status 1 when a chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="A tenant's slug (default: every chain).")
        parser.add_argument("--no-seal", action="store_true", help="Verify what is sealed; seal nothing.")

    def handle(self, *args, tenant, no_seal, **options):
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"No tenant {tenant!r}.")
            chains = [found]
        else:
            chains = audit_chains()
        names = dict(Tenant.objects.filter(pk__in=chains).values_list("pk", "slug"))
        broken = 0
        for chain in chains:
            if not no_seal:
                audit_chain_seal(chain)
            report = audit_chain_verify(chain)
            name = "(no tenant)" if chain == NO_TENANT else names.get(chain, chain)
            if report.holds:
                self.stdout.write(
                    f"{name}: intact, {report.sealed} events, head {report.head or '-'}"
                    + (f", {report.unsealed} not sealed yet" if report.unsealed else "")
                )
            else:
                broken += 1
                self.stdout.write(f"{name}: BROKEN after {report.sealed} events: {report.broken}")
        if broken:
            raise CommandError(f"{broken} chain(s) broken.", returncode=1)
