"""What the management commands share."""

from django.core.management.base import CommandError

from directory.models import Tenant


def tenant_named(slug: str) -> Tenant:
    """The tenant of slug ``slug``, or the command's error saying there is none."""
    found = Tenant.objects.filter(slug=slug).first()
    if found is None:
        raise CommandError(f"No tenant {slug!r}. Create it with: manage.py create_tenant {slug}")
    return found
