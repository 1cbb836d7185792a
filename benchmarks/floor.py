"""The floor: the cheapest useful request this server can answer, to compare SCIM scenarios with.

A bare DRF view that reads one user row by primary key and returns two of its columns as JSON: no
authentication, throttling, content negotiation of SCIM media types, filter parsing or SCIM
rendering. It runs in the same processes, with the same middleware, settings and database
connections as the SCIM endpoint, so ``scenario req/s ÷ floor req/s`` is the share of the
framework's own throughput a scenario keeps. Mounted at ``/bench/floor/<uuid>`` only by the
benchmark's own URLs (``benchmarks.urls``, under ``DJANGO_SETTINGS_MODULE=benchmarks.settings``).

``PATCH`` on the same URL is the write floor: one ``UPDATE`` of that user's row (its title, and its
version, so that ETags still tell a change), committed on its own, and nothing else: no read, no
audit event. What a durable write costs this server and database at least, so that a SCIM write's
ratio can be read against it. It writes to the benchmark's users, as the SCIM write scenarios do.
"""

from directory.models import User
from django.db.models import F
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

FLOOR_TITLE = "Floor write"


class FloorView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    parser_classes = []
    renderer_classes = [JSONRenderer]

    def get(self, request, user_id):
        row = User.objects.filter(pk=user_id).values_list("id", "user_name").first()
        if row is None:
            return Response({"detail": "not found"}, status=404)
        return Response({"id": str(row[0]), "userName": row[1]})

    def patch(self, request, user_id):
        written = User.objects.filter(pk=user_id).update(title=FLOOR_TITLE, version=F("version") + 1)
        if not written:
            return Response({"detail": "not found"}, status=404)
        return Response({"id": str(user_id)})
