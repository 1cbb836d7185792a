from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from directory.audit_exports import FORMATS, audit_events_selected, audit_export


def _moment(value: str | None, option: str):
    """An ISO date or date-time (UTC unless it names its offset)."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise CommandError(f"{option} must be an ISO date or date-time (2026-01-31 or 2026-01-31T08:00:00Z).")
    return make_aware(moment) if is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Write the audit trail (of a tenant, within a period) as CSV, JSON lines or OCSF JSON lines, "
        "oldest first, streamed: memory stays flat however many events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl")
        parser.add_argument("--tenant", help="A tenant's slug (default: every tenant's, and none's).")
        parser.add_argument("--since", help="From this ISO date or date-time (inclusive).")
        parser.add_argument("--until", help="Before this ISO date or date-time.")
        parser.add_argument("--action", help="Actions starting with this (user., offboarding.approved).")
        parser.add_argument("--output", help="A file to write (default: standard output).")

    def handle(self, *args, format: str, tenant, since, until, action, output, **options):
        events = audit_events_selected(
            tenant_slug=tenant,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            action=action,
        )
        if not output:
            for line in audit_export(events, format):
                self.stdout.write(line, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as stream:
            for line in audit_export(events, format):
                stream.write(line)
