import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory.errors import ServiceError
from directory.services.audit import Actor
from lifecycle.reviewers import reviewer_add


class Command(BaseCommand):
    help = (
        "Make USERNAME an HR reviewer of the tenants named (--tenant, repeatable): it may then sign in "
        "at /hr/login/ and review those tenants' offboardings, and reach nothing else. The user is "
        "created if missing, with the password from ROSTER_PASSWORD or typed at a prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--tenant", action="append", required=True, metavar="SLUG", help="A tenant's slug (repeatable)."
        )
        parser.add_argument("--email", default="", help="Where review notices and the daily digest go.")

    def handle(self, *args, username: str, tenant: list[str], email: str, **options):
        model = get_user_model()
        exists = model.objects.filter(**{model.USERNAME_FIELD: username}).exists()
        password = None if exists else self._password()
        try:
            user, created = reviewer_add(
                username=username,
                tenant_slugs=tenant,
                actor=Actor.system("manage.py add_hr_reviewer"),
                password=password,
                email=email,
            )
        except ValidationError as error:
            raise CommandError("The password is refused: " + " ".join(error.messages)) from None
        except ServiceError as error:
            raise CommandError(error.message) from None
        what = "Created HR reviewer" if created else "HR reviewer"
        self.stdout.write(f"{what} {user.get_username()}: tenants {', '.join(sorted(set(tenant)))}.")

    def _password(self) -> str:
        """ROSTER_PASSWORD, or typed twice at a prompt (never as an argument: it would show in
        the process list and the shell's history)."""
        password = os.environ.get("ROSTER_PASSWORD")
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError("Set ROSTER_PASSWORD, or run this in a terminal to type the password.")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords differ.")
        if not password:
            raise CommandError("The password is empty.")
        return password
