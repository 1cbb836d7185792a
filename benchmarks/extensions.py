#!/usr/bin/env python3
"""What a tenant's extension schemas cost SCIM requests, in one process (Django's test client, no
HTTP), on PostgreSQL: the same requests against a tenant that declares none ("plain") and one
that declares an extension of five attributes with values on every user ("extended"), in
alternating rounds; the median time per request of each, and their ratio.

    python benchmarks/extensions.py [--users 2000] [--rounds 6] [--requests 200] [kinds ...]

Kinds: create (a user with, in the extended tenant, its extension values), patch (a core
attribute), patch-extension (an extension attribute; in the plain tenant a core one), get,
lookup (userName eq), filter (an extension string eq; in the plain tenant externalId eq). The
database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_extbench), created,
migrated and seeded on first use. The machine is shared and noisy: compare the ratio, measured side
by side, not the milliseconds across runs.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.serve import ROOT, environment, reexec_in_venv

URN = "urn:ietf:params:scim:schemas:extension:bench:2.0:User"
SCHEMA = {
    "id": URN,
    "attributes": [
        {"name": "costCode", "type": "string"},
        {"name": "badge", "type": "integer", "uniqueness": "server"},
        {"name": "hired", "type": "dateTime"},
        {"name": "remote", "type": "boolean"},
        {"name": "skills", "type": "string", "multiValued": True},
    ],
}
KINDS = ("create", "patch", "patch-extension", "get", "lookup", "filter")
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
JSON = {"content_type": "application/scim+json"}


def extension(n: int) -> dict:
    return {
        "costCode": f"CC-{n % 97}",
        "badge": n,
        "hired": "2024-01-31T12:00:00Z",
        "remote": n % 2 == 0,
        "skills": ["sql", "go"],
    }


def seed(tenant, users: int, extended: bool) -> None:
    from directory.models import User
    from directory.services.audit import Actor
    from directory.services.extensions import extension_schema_declare
    from directory.services.users import user_create

    actor = Actor.system("benchmarks/extensions.py")
    if extended:
        extension_schema_declare(tenant=tenant, actor=actor, document=SCHEMA, resource_type="User")
    have = User.objects.filter(tenant=tenant).count()
    for n in range(have, users):
        fields = {"user_name": f"user{n}@example.com", "external_id": f"ext-{n}", "title": "Engineer"}
        if extended:
            fields["extensions"] = {URN: extension(n)}
        user_create(tenant=tenant, actor=actor, fields=fields)


def requester(client, ids: list[str], extended: bool, counter):
    def request(kind: str):
        user = random.choice(ids)
        if kind == "create":
            n = next(counter)
            body = {"schemas": [CORE], "userName": f"new{n}-{random.random()}@example.com"}
            if extended:
                body[URN] = extension(10_000_000 + n)
            return client.post("/scim/v2/Users", json.dumps(body), **JSON)
        if kind in ("patch", "patch-extension"):
            path = f"{URN}:costCode" if kind == "patch-extension" and extended else "title"
            operation = {"op": "replace", "path": path, "value": f"V {random.random()}"}
            return client.patch(
                f"/scim/v2/Users/{user}",
                json.dumps({"schemas": [PATCH_OP], "Operations": [operation]}),
                **JSON,
            )
        if kind == "get":
            return client.get(f"/scim/v2/Users/{user}")
        n = random.randrange(len(ids))
        if kind == "lookup":
            return client.get("/scim/v2/Users", {"filter": f'userName eq "user{n}@example.com"'})
        if kind == "filter":
            text = f'{URN}:costCode eq "cc-{n % 97}"' if extended else f'externalId eq "ext-{n}"'
            return client.get("/scim/v2/Users", {"filter": text, "count": 10})
        raise SystemExit(f"unknown kind {kind!r}: {', '.join(KINDS)}")

    return request


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--users", type=int, default=2000, help="users seeded in each tenant")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds; medians over them")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind, tenant and round")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster_extbench")
    os.environ.update(environment(Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    ensure_database(os.environ["DATABASE_URL"])
    import itertools

    import django

    django.setup()
    from directory.models import Tenant, User
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create
    from directory.services.tokens import token_create
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    actor = Actor.system("benchmarks/extensions.py")
    clients, requests = {}, {}
    counter = itertools.count(int(time.time() * 1000) % 10_000_000)
    for name, extended in (("plain", False), ("extended", True)):
        slug = f"bench-ext-{name}"
        tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(slug=slug, actor=actor)
        seed(tenant, args.users, extended)
        tenant.refresh_from_db()
        _, token = token_create(tenant=tenant, name="bench", actor=actor)
        clients[name] = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        ids = [
            str(pk)
            for pk in User.objects.filter(tenant=tenant, user_name__startswith="user").values_list(
                "pk", flat=True
            )[: args.users]
        ]
        requests[name] = requester(clients[name], ids, extended, counter)
    with connection.cursor() as cursor:  # as autovacuum would, where it is off (serve.py says why)
        cursor.execute("ANALYZE directory_user, directory_uservalue, directory_userextensionvalue")
    timings: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        for kind in args.kinds:
            order = ("plain", "extended") if round_ % 2 == 0 else ("extended", "plain")
            for name in order:
                request = requests[name]
                for _ in range(20):  # warm: prepared statements, caches
                    response = request(kind)
                    if response.status_code not in (200, 201, 204):
                        raise SystemExit(f"{name} {kind}: {response.status_code} {response.content[:400]!r}")
                start = time.perf_counter()
                for _ in range(args.requests):
                    request(kind)
                timings.setdefault((kind, name), []).append(
                    (time.perf_counter() - start) / args.requests * 1000
                )
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(
        f"{'kind':>16} {'plain ms':>9} {'extended ms':>12} {'ratio':>6}"
        f"  (medians of {args.rounds} rounds x {args.requests})"
    )
    for kind in args.kinds:
        plain = statistics.median(timings[kind, "plain"])
        extended = statistics.median(timings[kind, "extended"])
        ratios = [e / p for e, p in zip(timings[kind, "extended"], timings[kind, "plain"], strict=True)]
        print(
            f"{kind:>16} {plain:9.2f} {extended:12.2f} {statistics.median(ratios):6.2f}"
            f"  (ratio per round {min(ratios):.2f}-{max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
