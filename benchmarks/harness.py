"""The command line of benchmarks/run.py: seed, run the scenarios against the floor, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.client import HttpClient, describe
from benchmarks.dataset import Dataset
from benchmarks.report import aggregate, evaluate, markdown, percent, ratio_spread, write_floor_shares
from benchmarks.scenarios import FLOOR, SCENARIOS, Context, in_turns, run_load
from benchmarks.seeding import Seeder, ServerInfo

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Load-test a SCIM 2.0 server: seed a directory, run scenarios, compare with the floor.",
    )
    parser.add_argument(
        "--base-url", required=True, help="the SCIM base URL, e.g. http://127.0.0.1:8001/scim/v2"
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token (or ROSTER_BENCH_TOKEN, or --token-file)")
    token.add_argument("--token-file", type=Path, help="a file holding the bearer token")
    parser.add_argument("--users", type=int, default=100_000, help="directory size to seed and test at")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per scenario round")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each round")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent workers (connections)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (medians are reported)")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=None,
        help=f"scenarios to run (names separated by spaces or commas; default all: {', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--floor-url",
        default=None,
        help="the floor URL with {id} for a user id (default: <origin>/bench/floor/{id}); 'none' to skip",
    )
    parser.add_argument("--dataset", default="bench", help="name tagging the seeded users and groups")
    parser.add_argument("--seed-concurrency", type=int, default=None, help="workers for seeding (default 4)")
    parser.add_argument("--bulk-batch", type=int, default=500, help="operations per /Bulk request at most")
    parser.add_argument(
        "--no-bulk", action="store_true", help="seed through POST /Users even if /Bulk exists"
    )
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument("--sample", type=int, default=10_000, help="ids of existing users to pick from")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "benchmark" / "results", help="results folder"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a request is an error")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    args = parser.parse_args(argv)
    names = [n for item in (args.scenarios or list(SCENARIOS)) for n in item.split(",") if n]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; there are {', '.join(SCENARIOS)}")
    args.scenarios = list(dict.fromkeys(names))  # a name given twice runs once: results are by name
    if args.token_file:
        args.token = args.token_file.read_text().strip()
    args.token = args.token or os.environ.get("ROSTER_BENCH_TOKEN")
    if not args.token:
        parser.error("give --token, --token-file or ROSTER_BENCH_TOKEN")
    if args.users < 100 or args.concurrency < 1 or args.rounds < 1 or args.duration <= 0:
        parser.error("--users is at least 100; --concurrency, --rounds and --duration are positive")
    return args


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def machine() -> str:
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}, Python "
        f"{platform.python_version()}; server, database and load generator share it"
    )


def redacted_command(argv: list[str]) -> str:
    shown, hide = ["python", "benchmarks/run.py"], False
    for arg in argv:
        if hide:
            shown.append("<token>")
            hide = False
        elif arg == "--token":
            shown.append(arg)
            hide = True
        elif arg.startswith("--token="):
            shown.append("--token=<token>")
        else:
            shown.append(shlex.quote(arg))
    return " ".join(shown)


def floor_template(args: argparse.Namespace, probe: HttpClient, some_id: str | None) -> str | None:
    """The floor's path ("//bench/floor/{id}": relative to the SCIM server's origin), or None when
    the server has no floor endpoint (not Roster, or not under benchmarks.settings)."""
    if (args.floor_url or "").lower() == "none" or some_id is None:
        return None
    given = urlsplit(args.floor_url or "/bench/floor/{id}")
    if given.netloc and (given.hostname, given.port or probe.port) != (probe.host, probe.port):
        raise SystemExit("--floor-url must be on the SCIM server's origin (the same server)")
    path = "/" + given.path
    response = probe.request("GET", path.format(id=some_id))
    if response.status != 200:
        print(f"[run] no floor at {given.path} ({describe(response, 120)}): floor ratios are left out")
        return None
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    dataset = Dataset(args.dataset)

    def new_client() -> HttpClient:
        return HttpClient(args.base_url, args.token, timeout=args.timeout, insecure=args.insecure)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    commit_at_start = commit()  # the work tree may move while the run goes on
    client = new_client()
    check = client.get("/Users", count=1)
    if not check.ok:
        print(f"[run] GET {args.base_url}/Users answered {describe(check)}", file=sys.stderr)
        return 2
    info = ServerInfo.discover(client)
    server = client.get("/ServiceProviderConfig").headers.get("server", "server unknown")
    limits = f" (maxOperations {info.bulk_max_operations}, maxPayloadSize {info.bulk_max_payload})"
    bulk = f"supported{limits}" if info.bulk_supported else "not supported"
    print(f"[run] {args.base_url}: /Bulk {bulk}", flush=True)

    # Seeding -------------------------------------------------------------------------------------
    seeder = Seeder(
        new_client,
        dataset,
        info,
        concurrency=args.seed_concurrency or 4,
        bulk_batch=args.bulk_batch,
        use_bulk=not args.no_bulk,
    )
    seeding = [seeder.seed_users(args.users)]
    spares = seeder.ensure_spares(max(64, args.concurrency))
    groups, group_reports = seeder.ensure_groups(args.users, spares)
    seeding += group_reports
    seeding = [s.as_dict() for s in seeding]
    for size, group in groups.items():
        print(f"[seed] group {dataset.group_name(size)}: {group['members']:,} members")
    if args.seed_only:
        args.scenarios, sample, path = [], [], None
    else:
        rng = random.Random(f"sample-{args.users}")
        sample = seeder.sample_ids(args.users, args.sample, rng)
        print(f"[run] {len(sample):,} user ids sampled for get/patch/put", flush=True)
        path = floor_template(args, client, sample[0][1] if sample else None)
    ctx = Context(
        new_client=new_client,
        dataset=dataset,
        users=args.users,
        sample=sample,
        spares=spares,
        groups=groups,
        concurrency=args.concurrency,
        floor_path=path,
    )

    # Scenarios, each round right after a floor round -------------------------------------------
    per_round = (args.duration + args.warmup) * (2 if path else 1)
    estimate = len(args.scenarios) * args.rounds * per_round
    if args.scenarios:
        print(
            f"[run] {len(args.scenarios)} scenarios × {args.rounds} rounds at concurrency "
            f"{args.concurrency}: about {estimate / 60:.1f} min",
            flush=True,
        )
    results: dict[str, dict] = {}
    started = time.monotonic()
    for turn in in_turns(args.scenarios):
        if not path and any(SCENARIOS[name].needs_floor for name in turn):
            print(f"[run] {', '.join(turn)}: skipped, the server has no floor endpoint", flush=True)
            continue
        runs: dict[str, list] = {name: [] for name in turn}
        floors: dict[str, list] = {name: [] for name in turn}
        for round_number in range(1, args.rounds + 1):
            for name in turn:
                if path:
                    floors[name].append(_run(FLOOR, ctx, args, None, round_number))
                runs[name].append(_round_of(SCENARIOS[name], ctx, args, round_number))
        for name in turn:
            results[name] = aggregate(name, runs[name], floors[name])
            _print_summary(name, results[name])
    shares = write_floor_shares(results)
    if shares:
        print(f"[run] against the write floor: {shares}", flush=True)
    if args.scenarios:
        print(f"[run] scenarios took {(time.monotonic() - started) / 60:.1f} min", flush=True)

    # Report --------------------------------------------------------------------------------------
    loads = [
        run["load_1min"]
        for row in results.values()
        for run in row["round_results"] + row["floor_results"]
        if run["load_1min"] is not None
    ]
    now = datetime.now(UTC)
    meta = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "commit": commit_at_start,
        "command": redacted_command(argv),
        "base_url": args.base_url,
        "server": server + (", floor at /bench/floor" if path else ", no floor endpoint"),
        "bulk": info.bulk_supported,
        "floor": bool(path),
        "users": args.users,
        "concurrency": args.concurrency,
        "duration": args.duration,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "groups": {dataset.group_name(size): g["members"] for size, g in groups.items()},
        "load_1min": {
            "before": load_before,
            "median_during": statistics.median(loads) if loads else None,
            "max_during": max(loads) if loads else None,
        },
    }
    checks = evaluate(results, seeding, {size: g["members"] for size, g in groups.items()})
    text = markdown(meta, seeding, results, checks)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{args.users}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "seeding": seeding, "scenarios": results, "targets": checks}, indent=2)
        + "\n"
    )
    print()
    print(text)
    print(f"[run] written: {stem}.md and {stem}.json")
    return 0


def _round_of(scenario, ctx: Context, args: argparse.Namespace, round_number: int):
    """One round of ``scenario``, between its setup and teardown."""
    state = scenario.setup(ctx) if scenario.setup else None
    try:
        return _run(scenario, ctx, args, state, round_number)
    finally:
        if scenario.teardown:
            scenario.teardown(ctx, state)


def _print_summary(name: str, row: dict) -> None:
    ratio = ""
    if row["ratio"] is not None:
        spread = ratio_spread(row)
        ratio = f", {row['ratio']:.2f} × floor" + (f" (rounds {spread})" if spread else "")
    print(
        f"[run] == {name}: {row['per_second']:,.1f} req/s{ratio}, p50 {row['p50_ms']} ms, "
        f"p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms, errors {row['errors'] or 0}",
        flush=True,
    )


def _run(scenario, ctx: Context, args: argparse.Namespace, state, round_number: int):
    result = run_load(
        scenario.name,
        lambda w: scenario.operation(ctx, state, w),
        new_client=ctx.new_client,
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        primary=scenario.primary,
        seed=round_number,
    )
    p50 = result.percentile(50)
    errors = sum(result.errors.values())
    print(
        f"[run] round {round_number} {scenario.name:>18}: {result.per_second:8,.1f} req/s  "
        f"p50 {p50 * 1000 if p50 is not None else float('nan'):7.1f} ms  load {result.load}  "
        f"busy {percent(result.busy)}  errors {errors}" + (f" {dict(result.errors)}" if errors else ""),
        flush=True,
    )
    return result


def title_patch(client, user_id: str):
    """PATCH a random title onto the user, through Django's test ``client`` (the in-process
    benchmarks' write: console_overhead.py, events.py)."""
    operation = {"op": "replace", "path": "title", "value": f"T {random.random()}"}
    return client.patch(
        f"/scim/v2/Users/{user_id}",
        json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]}),
        content_type="application/scim+json",
    )
