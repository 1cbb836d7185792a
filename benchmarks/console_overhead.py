#!/usr/bin/env python3
"""What the SCIM request log and /metrics cost the hot reads (issue 21's speed target: with both on,
the userName lookup and the GET by id keep at least 0.95x of their throughput without them), in one
process (Django's test client, no HTTP), on PostgreSQL with the Redis cache as in production.

Two clients of the same token: one whose middleware chain was built with ``SCIM_REQUEST_LOG`` and
``METRICS_ENABLED`` on ("on": scim_api.traffic counts each read for its token and day, written every
``SCIM_REQUEST_LOG_FLUSH_SECONDS`` as in production, and observes the request in
prometheus-client's multiprocess files), one built with both off ("off": the middleware is not in
the chain). In alternating rounds (on then off, off then on, ...) each kind of request is timed on
both; the time per request of each, the median over rounds, and the throughput ratio (off's time
over on's, the median of the rounds' own ratios) against the target.

    python benchmarks/console_overhead.py [--users 2000] [--rounds 8] [--requests 400] [kinds ...]

Kinds: lookup (``GET /Users?filter=userName eq "..."``), get (``GET /Users/<id>``), and, for
information (no target), patch (``PATCH /Users/<id>`` of the title: the log's row is written). The
database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_consolebench), created,
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
from benchmarks.extensions import ensure_database
from benchmarks.harness import commit, machine, title_patch
from benchmarks.serve import ROOT, environment, reexec_in_venv

KINDS = ("lookup", "get")
OPTIONAL = ("patch",)
TARGET = 0.95
WARMUP = 30  # unmeasured requests per kind, mode and round: prepared statements, caches
SLUG = "bench-console"


def seed(tenant, users: int) -> None:
    from directory.models import User
    from directory.services.audit import Actor
    from directory.services.users import user_create

    actor = Actor.system("benchmarks/console_overhead.py")
    for n in range(User.objects.filter(tenant=tenant).count(), users):
        user_create(
            tenant=tenant,
            actor=actor,
            fields={"user_name": f"user{n}@example.com", "external_id": f"ext-{n}", "title": "Engineer"},
        )


def requester(client, ids: list[str], users: int):
    def request(kind: str):
        if kind == "lookup":
            n = random.randrange(users)
            return client.get("/scim/v2/Users", {"filter": f'userName eq "user{n}@example.com"'})
        if kind == "get":
            return client.get(f"/scim/v2/Users/{random.choice(ids)}")
        if kind == "patch":
            return title_patch(client, random.choice(ids))
        raise SystemExit(f"unknown kind {kind!r}: {', '.join(KINDS + OPTIONAL)}")

    return request


def clients(plaintext: str, probe: str) -> dict:
    """The two clients, each with its middleware chain built now under its own settings; checked
    by what a request through each leaves counted."""
    from directory.request_buffer import BUFFER
    from django.test import Client
    from django.test.utils import override_settings

    built = {}
    for mode, on in (("on", True), ("off", False)):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        with override_settings(SCIM_REQUEST_LOG=on, METRICS_ENABLED=on):
            client.handler.load_middleware()
        BUFFER.flush()
        assert client.get(probe).status_code == 200
        counts, _ = BUFFER.take()
        assert bool(counts) == on, f"the {mode!r} client's request was{'' if on else ' not'} counted"
        built[mode] = client
    return built


def measure(requests: dict, kinds: list[str], rounds: int, count: int) -> tuple[dict, dict]:
    """Per kind and mode, each round's wall milliseconds per request, and this process's CPU
    milliseconds per request (what the log and metrics add is CPU here; PostgreSQL's is the same)."""
    timings: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_ in range(rounds):
        for kind in kinds:
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                request = requests[mode]
                for _ in range(WARMUP):
                    response = request(kind)
                    if response.status_code not in (200, 204):
                        raise SystemExit(f"{mode} {kind}: {response.status_code} {response.content[:400]!r}")
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(count):
                    request(kind)
                timings.setdefault((kind, mode), []).append((time.perf_counter() - start) / count * 1000)
                cpu.setdefault((kind, mode), []).append((time.process_time() - start_cpu) / count * 1000)
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    return timings, cpu


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--users", type=int, default=2000, help="users seeded in the tenant")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds; medians over them")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per kind, mode and round")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "benchmark" / "results", help="results folder"
    )
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster_consolebench")
    os.environ.update(environment(Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    # roster.requests' line per request to the terminal would add the same milliseconds to both
    # modes and flatter the ratio; WARNING leaves it out (LOG_LEVEL=INFO puts it back).
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from directory.models import Tenant, User
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create
    from directory.services.tokens import token_create
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if not (settings.SCIM_REQUEST_LOG and settings.METRICS_ENABLED):
        raise SystemExit("Run with SCIM_REQUEST_LOG and METRICS_ENABLED on (the defaults): 'on' needs both.")
    call_command("migrate", verbosity=0)
    actor = Actor.system("benchmarks/console_overhead.py")
    tenant = Tenant.objects.filter(slug=SLUG).first() or tenant_create(slug=SLUG, actor=actor)
    seed(tenant, args.users)
    _, plaintext = token_create(tenant=tenant, name="bench", actor=actor)
    ids = [str(pk) for pk in User.objects.filter(tenant=tenant).values_list("pk", flat=True)[: args.users]]
    with connection.cursor() as cursor:  # as autovacuum would, where it is off (serve.py says why)
        cursor.execute("ANALYZE directory_user, directory_uservalue")
    built = clients(plaintext, f"/scim/v2/Users/{ids[0]}")
    requests = {mode: requester(client, ids, args.users) for mode, client in built.items()}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    timings, cpu = measure(requests, args.kinds, args.rounds, args.requests)

    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(
        f"\n{'kind':>8} {'on ms':>7} {'off ms':>7} {'throughput on/off':>18} {'rounds':>12}"
        f" {'CPU on ms':>10} {'CPU off ms':>10} {'CPU +us':>8}"
    )
    results = {}
    for kind in args.kinds:
        on, off = timings[kind, "on"], timings[kind, "off"]
        ratios = [o / n for o, n in zip(off, on, strict=True)]  # throughput on / off = time off / on
        ratio = statistics.median(ratios)
        cpu_on, cpu_off = statistics.median(cpu[kind, "on"]), statistics.median(cpu[kind, "off"])
        added = statistics.median(
            [(n - o) * 1000 for n, o in zip(cpu[kind, "on"], cpu[kind, "off"], strict=True)]
        )
        verdict = "" if kind not in KINDS else ("  met" if ratio >= TARGET else "  NOT MET")
        print(
            f"{kind:>8} {statistics.median(on):7.3f} {statistics.median(off):7.3f} {ratio:18.3f}"
            f" {min(ratios):5.3f}-{max(ratios):5.3f} {cpu_on:10.3f} {cpu_off:10.3f} {added:8.1f}{verdict}"
        )
        results[kind] = {
            "on_ms": [round(v, 4) for v in on],
            "off_ms": [round(v, 4) for v in off],
            "ratio": round(ratio, 4),
            "ratio_rounds": [round(min(ratios), 4), round(max(ratios), 4)],
            "cpu_on_ms": round(cpu_on, 4),
            "cpu_off_ms": round(cpu_off, 4),
            "cpu_added_us": round(added, 1),
        }
    print(
        f"(medians of {args.rounds} alternating rounds x {args.requests} requests; {args.users:,} users; "
        f"cache: {cache}; log and counts written every {settings.SCIM_REQUEST_LOG_FLUSH_SECONDS:g} s)"
    )
    targeted = [k for k in args.kinds if k in KINDS]
    met = bool(targeted) and all(results[k]["ratio"] >= TARGET for k in targeted)
    if targeted:
        print(
            f"target: {' and '.join(targeted)} keep >= {TARGET}x their throughput with the log and "
            f"metrics on: {'met' if met else 'NOT MET'}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-console-overhead"
    meta = {
        "date": started,
        "machine": machine(),
        "commit": commit(),
        "command": " ".join(["python", "benchmarks/console_overhead.py", *sys.argv[1:]]),
        "users": args.users,
        "rounds": args.rounds,
        "requests": args.requests,
        "flush_seconds": settings.SCIM_REQUEST_LOG_FLUSH_SECONDS,
        "cache": settings.CACHES["default"]["BACKEND"],
        "load_1min": os.getloadavg()[0],
    }
    stem.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "kinds": results, "met": met}, indent=2) + "\n"
    )
    print(f"written: {stem}.json")


if __name__ == "__main__":
    main()
