#!/usr/bin/env python3
"""Time requests inside one process, without HTTP or a load generator: where a request's own cost
goes, next to the floor's, on the database ``serve.py`` seeded.

    python benchmarks/inprocess.py [--requests 1500] [--profile] floor get patch put floor patch put

Kinds: floor, get, lookup, list (a page of 100 from a random start among the first 1,000), complex
(the complex filter's first page), patch, put. Each kind named is run in turn (name one twice to
interleave), through Django's test client under
the benchmark settings, against the first users of the tenant (``--token-file``, default
var/benchmark/token). It prints wall time and this process's CPU time per request, and, where
PostgreSQL runs on this machine, its server process's CPU time too; with ``--profile``, the
functions that took the most of it (cProfile). ``--no-sync-commit`` sets ``synchronous_commit =
off`` on this connection, to measure what waiting for the WAL flush costs a write (never a way to
serve). Only for a server's own machine: it writes to the users it PATCHes and PUTs, as the load
scenarios do.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.dataset import ENTERPRISE, PATCH_OP
from benchmarks.scenarios import COMPLEX_FILTER
from benchmarks.serve import ROOT, environment, reexec_in_venv

USERS = 50


def requester(client, ids: list[str], documents: dict[str, dict]):
    """``request(kind)``: one request of that kind for a random user of ``ids``."""
    scim = {"content_type": "application/scim+json"}

    def request(kind: str):
        user = random.choice(ids)
        if kind == "floor":
            return client.get(f"/bench/floor/{user}")
        if kind == "get":
            return client.get(f"/scim/v2/Users/{user}")
        if kind == "lookup":
            name = documents[user]["userName"]
            return client.get("/scim/v2/Users", {"filter": f'userName eq "{name}"'})
        if kind == "patch":
            operations = [
                {"op": "replace", "path": "title", "value": f"Title {random.random()}"},
                {"op": "replace", "path": f"{ENTERPRISE}:department", "value": f"Dept {random.random()}"},
            ]
            body = {"schemas": [PATCH_OP], "Operations": operations}
            return client.patch(f"/scim/v2/Users/{user}", json.dumps(body), **scim)
        if kind == "list":
            start = random.randint(1, 1000)
            return client.get("/scim/v2/Users", {"startIndex": start, "count": 100})
        if kind == "complex":
            return client.get("/scim/v2/Users", {"filter": COMPLEX_FILTER})
        if kind == "put":
            body = {**documents[user], "title": f"Title {random.random()}"}
            return client.put(f"/scim/v2/Users/{user}", json.dumps(body), **scim)
        raise SystemExit(f"unknown kind {kind!r}: floor, get, lookup, list, complex, patch or put")

    return request


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU (user and system) process ``pid`` of this machine has used; None if it is
    not on this machine (or not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="+", help="floor, get, lookup, list, complex, patch, put")
    parser.add_argument("--requests", type=int, default=1500, help="timed requests per kind")
    parser.add_argument("--profile", action="store_true", help="print the top functions (cProfile)")
    parser.add_argument("--token-file", default=str(ROOT / "var" / "benchmark" / "token"))
    parser.add_argument("--no-sync-commit", action="store_true", help="SET synchronous_commit = off")
    args = parser.parse_args()

    os.environ.update(environment(Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    token = Path(args.token_file).read_text().strip()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    found = client.get("/scim/v2/Users", {"count": USERS}).json()["Resources"]
    documents = {u["id"]: {k: v for k, v in u.items() if k != "meta"} for u in found}
    request = requester(client, list(documents), documents)
    with connection.cursor() as cursor:
        if args.no_sync_commit:
            cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT pg_backend_pid()")
        database_cpu = partial(process_cpu, cursor.fetchone()[0])
    for kind in args.kinds:
        for _ in range(USERS):  # warm: prepared statements, caches
            response = request(kind)
            if response.status_code not in (200, 204):
                raise SystemExit(f"{kind}: {response.status_code} {response.content[:500]!r}")
        profile = cProfile.Profile() if args.profile else None
        wall, cpu, db_cpu = time.perf_counter(), time.process_time(), database_cpu()
        if profile:
            profile.enable()
        for _ in range(args.requests):
            request(kind)
        if profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        n, db_cpu = args.requests, (database_cpu() - db_cpu if db_cpu is not None else None)
        database = f", PostgreSQL CPU {db_cpu / n * 1000:.2f} ms" if db_cpu is not None else ""
        print(
            f"{kind:>6}: wall {wall / n * 1000:.2f} ms, CPU {cpu / n * 1000:.2f} ms{database} a request",
            flush=True,
        )
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
