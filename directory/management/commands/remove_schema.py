from django.core.management.base import BaseCommand, CommandError

from directory.extension_declarations import DeclarationError
from directory.management.tenants import tenant_named
from directory.services.audit import Actor
from directory.services.extensions import extension_schema_remove


class Command(BaseCommand):
    help = (
        "Remove a tenant's extension schema: no longer served or accepted. Its values are kept until "
        "purge_extension_values; load_schema with the same URN restores it."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument("urn", help="The schema's URN.")

    def handle(self, *args, tenant: str, urn: str, **options):
        found = tenant_named(tenant)
        try:
            schema = extension_schema_remove(
                tenant=found, actor=Actor.system("manage.py remove_schema"), urn=urn
            )
        except DeclarationError as error:
            raise CommandError(" ".join(error.problems)) from None
        self.stdout.write(f"{schema.urn}: removed; its values are kept until purge_extension_values.")
