import json
import sys

from django.core.management.base import BaseCommand, CommandError

from directory.extension_declarations import RESERVED_URNS, DeclarationError, schema_documents
from directory.management.tenants import tenant_named
from directory.services.audit import Actor
from directory.services.extensions import extension_schema_declare


class Command(BaseCommand):
    help = (
        "Declare (or change) a tenant's extension schema from an RFC 7643 section 7 schema document: "
        "one schema, a list of them, or a ListResponse as GET /Schemas returns. Attributes the document "
        "no longer lists are removed (their values are kept until purge_extension_values)."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument("file", help="The schema document (JSON); - reads standard input.")
        parser.add_argument(
            "--resource-type",
            choices=["User", "Group"],
            help="What the schema extends. Default: the last segment of its URN (…:2.0:User).",
        )
        required = parser.add_mutually_exclusive_group()
        required.add_argument(
            "--required", action="store_true", default=None, help="Every resource of the type must carry it."
        )
        required.add_argument("--optional", dest="required", action="store_false", help="It is optional.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the document and the stored values only."
        )

    def handle(self, *args, tenant: str, file: str, resource_type, required, dry_run: bool, **options):
        found = tenant_named(tenant)
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            documents = schema_documents(json.loads(text))
        except (ValueError, RecursionError) as error:  # JSONDecodeError, or nested beyond recursion
            raise CommandError(f"{file} is not JSON: {error}.") from None
        except DeclarationError as error:
            raise CommandError(" ".join(error.problems)) from None
        actor = Actor.system("manage.py load_schema")
        failed = False
        for document in documents:
            urn = str(document.get("id", ""))
            if len(documents) > 1 and urn.lower().startswith(RESERVED_URNS):
                self.stdout.write(f"{urn}: skipped (RFC 7643 defines it).")
                continue
            kind = resource_type or _resource_type_of(document)
            try:
                outcome = extension_schema_declare(
                    tenant=found,
                    actor=actor,
                    document=document,
                    resource_type=kind,
                    required=required,
                    dry_run=dry_run,
                )
            except DeclarationError as error:
                failed = True
                self.stderr.write(f"{document.get('id', '(no id)')}: refused, nothing changed:")
                for problem in error.problems:
                    self.stderr.write(f"  - {problem}")
                continue
            self.stdout.write(("Would be: " if dry_run else "") + outcome.summary())
            for warning in outcome.warnings:
                self.stderr.write(f"  warning: {warning}")
        if failed:
            raise CommandError("Some schemas were refused (see above).")


def _resource_type_of(document: dict) -> str:
    urn = str(document.get("id", ""))
    last = urn.rsplit(":", 1)[-1].lower()
    for name in ("User", "Group"):
        if last == name.lower():
            return name
    raise CommandError(
        f"Cannot tell what {urn or 'the schema'} extends from its URN: give --resource-type User or Group."
    )
