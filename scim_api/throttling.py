"""Per-token rate limiting: a fixed one-minute window counted in the shared cache.

DRF's SimpleRateThrottle keeps a list of every request time per client and rewrites it on each
request, O(rate) work per request at the rates IdPs sustain; a counter with ``cache.incr`` is one
round trip and is shared by every web process through the cache (Redis in production).
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        limit = settings.SCIM_RATE_LIMIT_PER_MINUTE
        token = request.auth
        if not limit or token is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"scim-rate:{token.pk}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
        if count > limit:
            self._wait = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self):
        return self._wait
