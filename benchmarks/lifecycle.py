#!/usr/bin/env python3
"""What the offboarding lifecycle costs, on PostgreSQL (issue 19's speed targets), in three parts:

``patch``: a deactivating PATCH (which suspends the user and leaves its pending deactivation,
  from which a worker opens the case: timed too, per case) against the same PATCH of ``title``, in one process
  (Django's test client, no HTTP), alternating rounds in a tenant of ``--users`` users; the median
  time per request of each and their ratio (target: throughput at least 0.9x title's, i.e. a
  ratio of time at most 1.11).
``sweep``: the periodic sweep advancing ``--cases`` due cases (deleting them) with two real Celery
  workers: the sweep task, as beat sends it, asks the second worker to help, and they split the
  cases by row locks; the same at a tenth of the cases, so the cost per case can be compared
  (target: 10,000 within 60 s, and a cost per case that does not grow).
``burst``: ``--burst`` deactivations sent at full speed (``--threads`` at once), with the burst
  guard on: every one answered 200; then two workers open their cases from the pending
  deactivations (timed): one burst, every case quarantined in it once the sweep ran.

    python benchmarks/lifecycle.py [patch] [sweep] [burst] [--users 100000] [--cases 10000]

The database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_lifebench),
created, migrated and seeded on first use (users go in by COPY); the broker Redis on
127.0.0.1:6379/14 (CELERY_BROKER_URL). The machine is shared and noisy: compare the ratios,
measured side by side, not the milliseconds across runs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.extensions import ensure_database
from benchmarks.serve import ROOT, environment, reexec_in_venv

PARTS = ("patch", "sweep", "burst")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
JSON = {"content_type": "application/scim+json"}
ACTOR_LABEL = "benchmarks/lifecycle.py"


def body(path: str, value) -> str:
    return json.dumps(
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]}
    )


def tenant_named(slug: str, users: int, **policy):
    """The tenant ``slug`` with ``users`` users (seeded by COPY the first time), its policy set."""
    from directory.models import Tenant, User
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create, tenant_update
    from tests.support.seed import seed_users

    actor = Actor.system(ACTOR_LABEL)
    tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(slug=slug, actor=actor)
    have = User.objects.filter(tenant=tenant).count()
    if have < users:
        print(f"seeding {users - have} users into {slug}", file=sys.stderr, flush=True)
        for start in range(have, users, 20_000):
            seed_users(tenant, min(20_000, users - start), prefix=f"{slug}-{start}-")
    return tenant_update(tenant=tenant, actor=actor, **policy)


def client_for(tenant):
    from directory.services.audit import Actor
    from directory.services.tokens import token_create
    from django.test import Client

    _, token = token_create(tenant=tenant, name=f"bench {time.time()}", actor=Actor.system(ACTOR_LABEL))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def active_ids(tenant, count: int) -> list[str]:
    from directory.models import User, UserState

    users = User.objects.filter(tenant=tenant, state=UserState.ACTIVE).order_by("?")
    return [str(pk) for pk in users.values_list("pk", flat=True)[:count]]


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # as autovacuum would, where it is off (serve.py says why)
        cursor.execute("ANALYZE directory_user, directory_uservalue, lifecycle_offboardingcase")


# --- patch ---------------------------------------------------------------------------------------


def part_patch(args) -> None:
    from directory.models import DeprovisionAction

    # The burst guard counts each deprovision's window (up to its count threshold). A round of
    # deactivations sent back to back is a burst by any threshold; the ordinary path (no burst:
    # each case opened as the policy says) is measured by a threshold above a round (500) and
    # each round's cases moved out of the window before the next (as leavers spread over time).
    tenant = tenant_named(
        "bench-life-patch",
        args.users,
        on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW,
        burst_count=max(500, args.requests + 20),
        burst_percent=0,
    )
    analyze()
    client = client_for(tenant)
    # Every request goes to a user no request of the run touched before, for each kind alike (a
    # user written a moment ago is in the database's cache; a leaver is not).
    need = 3 * args.rounds * (args.requests + 20)
    window_clear(tenant)
    fresh = active_ids(tenant, need)
    deactivate, titles = iter(fresh[: 2 * need // 3]), iter(fresh[2 * need // 3 :])

    def title(i: int):
        return client.patch(f"/scim/v2/Users/{next(titles)}", body("title", f"T {i}"), **JSON)

    def off(i: int):
        return client.patch(f"/scim/v2/Users/{next(deactivate)}", body("active", False), **JSON)

    def bare(i: int):
        """The deactivation without the lifecycle's receiver (no signal to the host, no nudge)."""
        from directory import signals
        from lifecycle.receivers import on_user_deactivated

        signals.user_deactivated.disconnect(dispatch_uid="lifecycle.deactivated")
        try:
            return off(i)
        finally:
            signals.user_deactivated.connect(on_user_deactivated, dispatch_uid="lifecycle.deactivated")

    from lifecycle.deactivations import deactivations_consume

    deactivations_consume(tenant=tenant)  # what earlier runs left
    timings: dict[str, list[float]] = {"title": [], "deactivate": [], "bare": []}
    consume: list[float] = []
    for round_ in range(args.rounds):
        order = (("title", title), ("deactivate", off), ("bare", bare))
        for name, request in order if round_ % 2 == 0 else order[::-1]:
            for i in range(20):  # warm: prepared statements, caches
                response = request(i)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.content[:400]!r}")
            start = time.perf_counter()
            for i in range(args.requests):
                request(i)
            timings[name].append((time.perf_counter() - start) / args.requests * 1000)
            if name == "deactivate":  # the worker's share: the cases opened from the outbox
                start = time.perf_counter()
                opened = deactivations_consume(tenant=tenant)
                consume.append((time.perf_counter() - start) / max(1, opened) * 1000)
                window_clear(tenant)
        print(f"patch round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    ratios = [d / t for d, t in zip(timings["deactivate"], timings["title"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"\nPATCH at {args.users:,} users (medians of {args.rounds} rounds x {args.requests}, one process)")
    print(f"  title       {statistics.median(timings['title']):7.2f} ms")
    print(f"  deactivate  {statistics.median(timings['deactivate']):7.2f} ms")
    print(f"  (deactivate without the lifecycle {statistics.median(timings['bare']):.2f} ms: the floor)")
    print(
        f"  a worker opens each case in {statistics.median(consume):.2f} ms (from the pending deactivations)"
    )
    print(
        f"  time ratio  {ratio:7.2f}  (per round {min(ratios):.2f}-{max(ratios):.2f}); "
        f"throughput {1 / ratio:.2f}x title's (target >= 0.90)"
    )


def window_clear(tenant) -> None:
    """Move the tenant's cases out of the burst guard's window (a day back)."""
    from django.db import connection
    from django.db.models import F
    from lifecycle.models import OffboardingCase

    recent = OffboardingCase.objects.filter(
        tenant=tenant, deprovisioned_at__gt=time_now() - timedelta(days=1)
    )
    recent.update(deprovisioned_at=F("deprovisioned_at") - timedelta(days=1))
    with connection.cursor() as cursor:  # as autovacuum would: the moved rows' old versions go
        cursor.execute(f"VACUUM ANALYZE {OffboardingCase._meta.db_table}")


# --- sweep ---------------------------------------------------------------------------------------


def due_cases(tenant, count: int) -> None:
    """``count`` of the tenant's active users made leavers whose grace period is over: suspended,
    each with a case due for deletion (written in bulk, as many deactivations a month ago would
    have left them)."""
    from directory.models import DeprovisionAction, User, UserState
    from django.db import transaction
    from django.utils import timezone
    from lifecycle.models import CaseState, OffboardingCase

    ago = timezone.now() - timedelta(days=40)
    ids = active_ids(tenant, count)
    with transaction.atomic():
        User.objects.filter(pk__in=ids).update(
            state=UserState.SUSPENDED, active=False, suspended_at=ago, state_changed_at=ago
        )
        OffboardingCase.objects.bulk_create(
            [
                OffboardingCase(
                    tenant=tenant,
                    user_id=pk,
                    subject_id=pk,
                    trigger="deactivate",
                    action=DeprovisionAction.DELETE_AFTER_GRACE,
                    state=CaseState.SUSPENDED,
                    opened_by=ACTOR_LABEL,
                    deprovisioned_at=ago,
                    access_ended_at=ago,
                    deletion_due_at=ago + timedelta(days=30),
                    steps_finished_at=ago,
                )
                for pk in ids
            ],
            batch_size=2000,
        )
    analyze()


def workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """``count`` Celery workers of one process each, ready."""
    started = []
    for n in range(count):
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "directory", "worker", "--concurrency", "1",
                 "--pool", "prefork", "-n", f"bench{n}@%h", "--loglevel", "INFO", "--without-heartbeat",
                 "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
        )  # fmt: skip
    for process in started:
        for line in process.stdout:
            if "ready." in line:
                break
        threading.Thread(target=lambda p=process: [None for _ in p.stdout], daemon=True).start()
    return started


def sweep_once(tenant, cases: int) -> float:
    """Seconds from sending the sweep task (as beat does; it asks a second worker to help,
    LIFECYCLE_SWEEP_WORKERS) to no case of ``tenant`` left due."""
    from lifecycle.models import CaseState, OffboardingCase
    from lifecycle.tasks import sweep

    due_cases(tenant, cases)
    pending = OffboardingCase.objects.filter(tenant=tenant, state=CaseState.SUSPENDED)
    assert pending.count() == cases
    start = time.perf_counter()
    sweep.delay()
    while pending.exists():
        time.sleep(0.05)
    return time.perf_counter() - start


def part_sweep(args) -> None:
    from directory.celery import app
    from directory.models import DeprovisionAction

    tenant = tenant_named(
        "bench-life-sweep",
        args.cases * (args.rounds + 1) * 2,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        burst_count=0,
        burst_percent=0,
    )
    app.control.purge()
    running = workers(2, os.environ.copy())
    try:
        small, large = args.cases // 10, args.cases
        sweep_once(tenant, small)  # warm: the workers' connections and prepared statements
        times: dict[int, list[float]] = {small: [], large: []}
        for round_ in range(args.rounds):
            for n in (small, large) if round_ % 2 == 0 else (large, small):
                times[n].append(sweep_once(tenant, n))
            print(f"sweep round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=30)
    per_case = {n: statistics.median(t) / n * 1000 for n, t in times.items()}
    print(f"\nSweep with 2 Celery workers (medians of {args.rounds} rounds)")
    for n in (small, large):
        print(f"  {n:>7,} due cases  {statistics.median(times[n]):7.2f} s   {per_case[n]:6.2f} ms per case")
    print(
        f"  cost per case, {large:,} vs {small:,}: {per_case[large] / per_case[small]:.2f}x"
        " (target: not growing)"
    )
    print(f"  {large:,} cases within 60 s: {'yes' if statistics.median(times[large]) < 60 else 'NO'}")


# --- burst ---------------------------------------------------------------------------------------


def part_burst(args) -> None:
    from directory.models import DeprovisionAction
    from lifecycle.deactivations import deactivations_consume
    from lifecycle.models import Burst, CaseState, OffboardingCase
    from lifecycle.sweep import lifecycle_sweep

    tenant = tenant_named(
        "bench-life-burst",
        args.burst * 3,
        on_deactivate=DeprovisionAction.DELETE_AFTER_GRACE,
        burst_count=50,
        burst_percent=10,
    )
    Burst.objects.filter(tenant=tenant, state="open").update(state="released", decided_at=time_now())
    analyze()
    ids = active_ids(tenant, args.burst)
    local = threading.local()
    token_client = client_for(tenant)
    header = token_client.defaults["HTTP_AUTHORIZATION"]

    def deactivate(uid: str) -> int:
        from django.db import connection
        from django.test import Client

        if not hasattr(local, "client"):
            local.client = Client(HTTP_AUTHORIZATION=header)
        try:
            return local.client.patch(f"/scim/v2/Users/{uid}", body("active", False), **JSON).status_code
        finally:
            connection.close_if_unusable_or_obsolete()

    before = set(Burst.objects.filter(tenant=tenant).values_list("pk", flat=True))
    start = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        statuses = list(pool.map(deactivate, ids))
    took = time.perf_counter() - start

    def consume(_: int) -> int:  # a worker's share of the pending deactivations
        from django.db import connection

        try:
            return deactivations_consume(tenant=tenant, limit=args.burst)
        finally:
            connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        opened = sum(pool.map(consume, range(2)))
    consumed = time.perf_counter() - start
    swept = lifecycle_sweep(tenant=tenant)
    bursts = Burst.objects.filter(tenant=tenant).exclude(pk__in=before)
    cases = OffboardingCase.objects.filter(subject_id__in=ids)
    quarantined = cases.filter(state=CaseState.QUARANTINED, burst__in=bursts).count()
    print(
        f"\nBurst: {len(ids):,} deactivations, {args.threads} at once, in {took:.1f} s"
        f" ({len(ids) / took:.0f}/s)"
    )
    print(f"  answered 200: {statuses.count(200):,}; other: {len(statuses) - statuses.count(200)}")
    print(f"  cases opened from the pending deactivations by 2 workers: {opened:,} in {consumed:.1f} s")
    print(
        f"  bursts opened: {bursts.count()} (target 1); cases: {cases.count():,};"
        f" quarantined in it: {quarantined:,}"
    )
    print(
        "  quarantined by the sweep afterwards (requests that opened their case as the burst opened):"
        f" {swept['quarantined']}"
    )


def time_now():
    from django.utils import timezone

    return timezone.now()


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", default=list(PARTS))
    parser.add_argument("--users", type=int, default=100_000, help="users in the PATCH part's tenant")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians over them")
    parser.add_argument("--requests", type=int, default=200, help="timed PATCHes per kind and round")
    parser.add_argument("--cases", type=int, default=10_000, help="due cases the larger sweep advances")
    parser.add_argument("--burst", type=int, default=5_000, help="deactivations sent at full speed")
    parser.add_argument("--threads", type=int, default=8, help="deactivations in flight at once")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster_lifebench")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    os.environ.update(environment(Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    os.environ["SCIM_RATE_LIMIT_PER_MINUTE"] = "0"
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for part in args.parts:
        {"patch": part_patch, "sweep": part_sweep, "burst": part_burst}[part](args)


if __name__ == "__main__":
    main()
