from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from directory.management.tenants import tenant_named
from directory.services.audit import Actor
from directory.services.tokens import token_create


class Command(BaseCommand):
    help = "Issue a SCIM bearer token for a tenant and print it (once: only its hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument("--name", required=True, help="Which connection uses it, e.g. okta.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Default: never expires.")

    def handle(self, *args, tenant: str, name: str, expires_in_days: int | None, **options):
        found = tenant_named(tenant)
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token, plaintext = token_create(
            tenant=found, name=name, expires_at=expires_at, actor=Actor.system("manage.py create_token")
        )
        self.stderr.write(f"Token {token.name} for tenant {found.slug}; store it now, it is not shown again:")
        self.stdout.write(plaintext)
