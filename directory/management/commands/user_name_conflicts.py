from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from directory.models import AuditEvent, Tenant, User
from directory.user_names import describe, user_name_findings, user_names_rekey


class Command(BaseCommand):
    help = (
        "List the users whose userName is another user's once normalised (RFC 8265: hidden behind "
        "it) or is one the rule refuses; both were written before the rule applied (migration 0012). "
        "With --rekey, first recompute every key, so that a hidden user whose name is free again "
        "(the other renamed or deleted) is found by it again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant's users (its slug).")
        parser.add_argument("--rekey", action="store_true", help="Recompute every user's key first.")

    def handle(self, *args, tenant: str | None, rekey: bool, **options):
        if tenant is not None and not Tenant.objects.filter(slug=tenant).exists():
            raise CommandError(f"No tenant {tenant!r}.")
        if rekey:
            with transaction.atomic():
                hidden = user_names_rekey(User, AuditEvent, actor_label="manage.py user_name_conflicts")
            self.stdout.write(f"Keys recomputed; {hidden} user(s) hidden now.")
        findings = user_name_findings(User, tenant=tenant)
        for line in describe(findings):
            self.stdout.write(line)
        self.stdout.write(f"{len(findings)} userName(s) need an administrator." if findings else "None.")
