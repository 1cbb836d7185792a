"""The open bursts of deprovisions, for the banner on every admin page (templates/admin/base_site.html).
Queried only when a staff member's page renders the banner."""

from django.utils.functional import SimpleLazyObject

from lifecycle.models import Burst, BurstState


def open_bursts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {
        "open_bursts": SimpleLazyObject(
            lambda: list(Burst.objects.filter(state=BurstState.OPEN).select_related("tenant").order_by("pk"))
        )
    }
