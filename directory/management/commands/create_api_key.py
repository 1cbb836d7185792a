from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from directory.management.tenants import tenant_named
from directory.services.audit import Actor
from directory.services.tokens import api_key_create


class Command(BaseCommand):
    help = (
        "Issue a host application's API key (Roster's own API: the event feed), of one tenant or of "
        "every tenant, and print it (once: only its hash is kept). Not a SCIM token."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="The tenant's slug (default: a key of every tenant).")
        parser.add_argument("--name", required=True, help="Which host application uses it, e.g. billing.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Default: never expires.")

    def handle(self, *args, tenant: str | None, name: str, expires_in_days: int | None, **options):
        found = tenant_named(tenant) if tenant else None
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days.")
        if not name.strip():
            raise CommandError("--name must not be empty.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        key, plaintext = api_key_create(
            tenant=found,
            name=name.strip(),
            expires_at=expires_at,
            actor=Actor.system("manage.py create_api_key"),
        )
        scope = f"tenant {found.slug}" if found else "every tenant"
        self.stderr.write(f"API key {key.name} for {scope}; store it now, it is not shown again:")
        self.stdout.write(plaintext)
