"""Settings for the load benchmark: production's settings (``directory.settings``), with four changes.

- ``ROOT_URLCONF``: ``benchmarks.urls``, the product's URLs plus ``/bench/floor/<uuid>``
  (benchmarks/floor.py), a bare DRF view doing one primary-key lookup of a user, the "floor" every
  SCIM scenario's throughput is compared with (and, on ``PATCH``, one durable ``UPDATE`` of that
  user's row: the write floor). The product's own URLs know nothing of it.
- ``SCIM_RATE_LIMIT_PER_MINUTE = 0``: a load test would otherwise measure the rate limiter's 429s.
- The floor gets no Content-Security-Policy, like SCIM (directory/csp.py): building the header
  would add its cost to the floor alone, and flatter every ratio to it.
- Database connections are kept for the life of the worker process (``CONN_MAX_AGE = None``)
  unless ``DATABASE_CONN_MAX_AGE`` says otherwise.

Everything else is what ``directory.settings`` reads from the environment, so run it the way
production runs (``ROSTER_ENV=production`` ...): ``benchmarks/serve.py`` does. The settings it
changes are copied, not changed in place, so that importing this module next to the product's
settings (a test does) leaves those as they were.
"""

import os

from directory.settings import *  # noqa: F403
from directory.settings import CONTENT_SECURITY_POLICY, DATABASES

ROOT_URLCONF = "benchmarks.urls"

SCIM_RATE_LIMIT_PER_MINUTE = 0

CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "EXCLUDE_URL_PREFIXES": [*CONTENT_SECURITY_POLICY["EXCLUDE_URL_PREFIXES"], "/bench/"],
}

if not os.environ.get("DATABASE_CONN_MAX_AGE"):
    DATABASES = {**DATABASES, "default": {**DATABASES["default"], "CONN_MAX_AGE": None}}
