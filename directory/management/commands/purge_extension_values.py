from django.core.management.base import BaseCommand, CommandError

from directory.management.tenants import tenant_named
from directory.services.audit import Actor
from directory.services.extensions import extension_values_purge


class Command(BaseCommand):
    help = (
        "Delete, for good, the stored values of a tenant's removed extension schemas and attributes "
        "(of one schema with --urn), and their declarations."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument(
            "--urn", help="Only this schema's removed attributes (or the whole schema, if removed)."
        )
        parser.add_argument("--yes", action="store_true", help="Confirm: the values cannot be recovered.")

    def handle(self, *args, tenant: str, urn: str | None, yes: bool, **options):
        found = tenant_named(tenant)
        if not yes:
            raise CommandError("Purging deletes the values for good: run again with --yes.")
        purged = extension_values_purge(
            tenant=found, actor=Actor.system("manage.py purge_extension_values"), urn=urn
        )
        if not purged:
            self.stdout.write("Nothing removed to purge.")
        for what, count in purged.items():
            self.stdout.write(f"{what}: purged from {count} resource(s).")
