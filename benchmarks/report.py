"""Medians over rounds, the targets, and the markdown and JSON the harness writes."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from benchmarks.scenarios import SIDE_BY_SIDE, RunResult

# (scenario, what is compared, bound, wording). Kinds: "ratio" (throughput ÷ floor, at least),
# "p50" (milliseconds, at most), "p50_vs" (p50 ÷ another scenario's p50, at most: the median of
# the rounds' own ratios, the two run side by side).
TARGETS = (
    ("lookup", "ratio", 0.8, "userName-eq lookup throughput ≥ 0.8 × floor"),
    ("get", "ratio", 0.9, "GET by id throughput ≥ 0.9 × floor"),
    ("patch_user", "ratio", 0.6, "PATCH of a user throughput ≥ 0.6 × floor"),
    ("put_user", "ratio", 0.6, "PUT of a user throughput ≥ 0.6 × floor"),
    ("list", "p50", 30.0, "list page of 100: p50 ≤ 30 ms"),
    ("complex_filter", "p50", 30.0, "complex filter: p50 ≤ 30 ms"),
    (
        "group_add_100000",
        "p50_vs",
        ("group_add_10", 1.3),
        "member add p50, largest group ≤ 1.3 × p50 at 10 members",
    ),
)
SEEDING_TARGET = 600.0  # user creates per second through /Bulk


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def aggregate(name: str, runs: list[RunResult], floors: list[RunResult]) -> dict[str, Any]:
    """Medians over the rounds; the floor ratio is the median of each round's ratio to the floor
    run just before it, and ``ratio_range`` the lowest and highest of those (how far one round
    strays on a noisy machine)."""
    errors: Counter = Counter()
    for run in runs:
        errors.update(run.errors)
    ratios = [r.per_second / f.per_second for r, f in zip(runs, floors, strict=False) if f.per_second]
    return {
        "scenario": name,
        "rounds": len(runs),
        "per_second": _round(_median([r.per_second for r in runs]), 1),
        "floor_per_second": _round(_median([f.per_second for f in floors]), 1) if floors else None,
        "ratio": _round(_median(ratios), 3) if ratios else None,
        "ratio_range": [_round(min(ratios), 3), _round(max(ratios), 3)] if ratios else None,
        "cpu_busy": _median([r.busy for r in runs]),
        "floor_cpu_busy": _median([f.busy for f in floors]),
        "p50_ms": _round(_median([r.percentile(50) for r in runs]), 2, 1000),
        "p95_ms": _round(_median([r.percentile(95) for r in runs]), 2, 1000),
        "p99_ms": _round(_median([r.percentile(99) for r in runs]), 2, 1000),
        "latency_of": runs[0].primary or "every request",
        "ok_requests": sum(r.ok for r in runs),
        "errors": dict(errors),
        "round_results": [r.summary() for r in runs],
        "floor_results": [f.summary() for f in floors],
    }


def _round(value: float | None, digits: int, scale: float = 1) -> float | None:
    return None if value is None else round(value * scale, digits)


WRITES = ("patch_user", "put_user")  # what the write floor is the cheapest possible case of


def against_write_floor(results: dict[str, dict]) -> dict[str, float]:
    """Each write scenario's ratio to the floor over the write floor's, both measured in this run:
    the share of the cheapest durable write's throughput the SCIM write keeps."""
    write_floor = (results.get("write_floor") or {}).get("ratio")
    if not write_floor:
        return {}
    return {
        name: round(results[name]["ratio"] / write_floor, 2)
        for name in WRITES
        if name in results and results[name]["ratio"] is not None
    }


def write_floor_shares(results: dict[str, dict]) -> str:
    """``against_write_floor`` as the text the console and the report print; empty without it."""
    return ", ".join(f"{name} {share:.2f} ×" for name, share in against_write_floor(results).items())


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _busy(row: dict) -> str:
    """The scenario's CPU busy share, and the floor's beside it."""
    floor = row.get("floor_cpu_busy")
    return percent(row.get("cpu_busy")) + (f" ({percent(floor)})" if floor is not None else "")


def ratio_spread(row: dict) -> str:
    """The lowest and highest round's ratio to the floor, joined by an en dash; empty for one round."""
    low, high = row.get("ratio_range") or (None, None)
    return "" if low is None or row["rounds"] < 2 else _between(low, high)


def _between(low: float, high: float) -> str:
    return f"{low:.2f}–{high:.2f}"


def _spread(row: dict) -> str:
    spread = ratio_spread(row)
    return f"; rounds {spread}" if spread else ""


def p50_ratios(row: dict, base: dict) -> list[float]:
    """Round by round, the p50 of ``row`` over the p50 of ``base`` in the round of the same number
    (the harness runs them side by side: ``scenarios.SIDE_BY_SIDE``)."""
    return [
        mine["p50_ms"] / theirs["p50_ms"]
        for mine, theirs in zip(row["round_results"], base["round_results"], strict=False)
        if mine["p50_ms"] and theirs["p50_ms"]
    ]


def evaluate(results: dict[str, dict], seeding: list[dict], group_sizes: dict[int, int]) -> list[dict]:
    checks = []
    for scenario, kind, bound, wording in TARGETS:
        row = results.get(scenario)
        if row is None:
            continue
        measured, met = None, None
        if kind == "ratio":
            measured = row["ratio"]
            met = None if measured is None else measured >= bound
            text = (
                "no floor"
                if measured is None
                else f"{measured:.2f} × floor ({row['per_second']:,.0f} req/s{_spread(row)})"
            )
        elif kind == "p50":
            measured = row["p50_ms"]
            met = None if measured is None else measured <= bound
            text = "no successful request" if measured is None else f"p50 {measured:.1f} ms"
        else:
            other, factor = bound
            base = results.get(other)
            if base is None or base["p50_ms"] is None or row["p50_ms"] is None:
                text = f"needs {other} too"
            else:
                ratios = p50_ratios(row, base)
                measured = _median(ratios) if ratios else row["p50_ms"] / base["p50_ms"]
                met = measured <= factor
                members = group_sizes.get(100_000)
                spread = f"; rounds {_between(min(ratios), max(ratios))}" if len(ratios) > 1 else ""
                text = (
                    f"{measured:.2f} × ({row['p50_ms']:.1f} ms at {members:,} members vs "
                    f"{base['p50_ms']:.1f} ms at {group_sizes.get(10, 10):,}{spread})"
                )
        if row["errors"]:
            text += f"; {sum(row['errors'].values()):,} errors"
        checks.append({"target": wording, "scenario": scenario, "measured": text, "met": met})
    users = next((s for s in seeding if s["what"] == "users"), None)
    if users is not None:
        wording = f"seeding through /Bulk ≥ {SEEDING_TARGET:.0f} user creates/s"
        if users["method"] == "bulk" and users["per_second"]:
            rate = users["per_second"]
            checks.append(
                {
                    "target": wording,
                    "scenario": "seeding",
                    "measured": f"{rate:,.0f} users/s",
                    "met": rate >= SEEDING_TARGET,
                }
            )
        elif users["method"] == "post" and users["per_second"]:
            checks.append(
                {
                    "target": wording,
                    "scenario": "seeding",
                    "measured": f"/Bulk not supported; POST /Users: {users['per_second']:,.0f} users/s",
                    "met": None,
                }
            )
        else:
            checks.append(
                {
                    "target": wording,
                    "scenario": "seeding",
                    "measured": "not measured (already seeded)",
                    "met": None,
                }
            )
    return checks


def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _errors(errors: dict) -> str:
    if not errors:
        return "0"
    return ", ".join(f"{count:,}× {kind}" for kind, count in sorted(errors.items()))


def markdown(meta: dict, seeding: list[dict], results: dict[str, dict], checks: list[dict]) -> str:
    lines = [
        f"### {meta['users']:,} users, {meta['date']}",
        "",
        f"- machine: {meta['machine']}; 1-minute load average {_num(meta['load_1min']['before'])} "
        f"at the start, median {_num(meta['load_1min']['median_during'])} and at most "
        f"{_num(meta['load_1min']['max_during'])} at the end of a round",
        f"- commit: `{meta['commit']}`",
        f"- command: `{meta['command']}`",
        f"- server: {meta['base_url']} ({meta['server']}); "
        f"/Bulk supported: {'yes' if meta['bulk'] else 'no'}",
        f"- load: {meta['concurrency']} concurrent workers, {meta['duration']:g} s per round after "
        f"{meta['warmup']:g} s warm-up, {meta['rounds']} rounds"
        + (", each scenario round right after a floor round" if meta.get("floor") else "")
        + ("; the group scenarios' rounds take turns" if len(SIDE_BY_SIDE & results.keys()) > 1 else "")
        + "; medians over rounds",
        f"- groups: {', '.join(f'{name} has {n:,} members' for name, n in meta['groups'].items())}",
        "",
        "| seeding | method | created | already there | seconds | per second | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in seeding:
        lines.append(
            f"| {s['what']} | {s['method']} | {s['created']:,} | {s['existed']:,} | "
            f"{s['seconds']:,.1f} | {_num(s['per_second'], '{:,.0f}')} | {_errors(s['errors'])} |"
        )
    if results:
        lines += [
            "",
            "| scenario | req/s | floor req/s | × floor | rounds × floor | CPU busy (floor) | p50 ms "
            "| p95 ms | p99 ms | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
    for name, row in results.items():
        label = name if row["latency_of"] in ("every request", name) else f"{name} ({row['latency_of']})"
        lines.append(
            f"| {label} | {_num(row['per_second'])} | {_num(row['floor_per_second'])} | "
            f"{_num(row['ratio'], '{:.2f}')} | {ratio_spread(row) or '–'} | {_busy(row)} | "
            f"{_num(row['p50_ms'])} | {_num(row['p95_ms'])} | {_num(row['p99_ms'])} | "
            f"{_errors(row['errors'])} |"
        )
    shares = write_floor_shares(results)
    if shares:
        lines += ["", f"Against the write floor (one bare durable UPDATE): {shares}."]
    if checks:
        lines += ["", "| target | measured | met |", "| --- | --- | --- |"]
        for check in checks:
            met = {True: "yes", False: "**no**", None: "–"}[check["met"]]
            lines.append(f"| {check['target']} | {check['measured']} | {met} |")
    return "\n".join(lines) + "\n"
