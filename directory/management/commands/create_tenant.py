from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory.services.audit import Actor
from directory.services.tenants import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (one customer's directory)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Short name used in URLs and commands, e.g. acme.")
        parser.add_argument("--name", default="", help="Display name (default: from the slug).")

    def handle(self, *args, slug: str, name: str, **options):
        try:
            tenant = tenant_create(slug=slug, name=name, actor=Actor.system("manage.py create_tenant"))
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created tenant {tenant.slug} ({tenant.name}).")
