"""The scenarios, and the engine that runs one at a fixed concurrency for a fixed time.

Each worker thread has its own keep-alive connection and its own random generator, and repeats
its scenario's operation in a closed loop (a new request as soon as the last one answered). An
operation makes one or more requests and reports each as (label, seconds, error), where error is
None or what went wrong: the HTTP status, ``conn-error``, or ``wrong-result`` when a 2xx answer
does not say what it should (a lookup that does not find exactly its one user). Throughput counts
the requests that succeeded; errors are counted by kind and always reported.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.client import HttpClient, Response
from benchmarks.dataset import DEPARTMENTS, ENTERPRISE, PATCH_OP, TITLES, Dataset

Sample = tuple[str, float, str | None]  # label, seconds, error (None when it succeeded)
Operation = Callable[[HttpClient, random.Random], list[Sample]]

COMPLEX_FILTER = 'emails[type eq "work" and value co "@example.com"] and name.familyName sw "A"'


def error_of(response: Response, expected: tuple[int, ...] = (200,)) -> str | None:
    return None if response.status in expected else str(response.status)


def total_results(response: Response) -> int | None:
    try:
        return int(response.json()["totalResults"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Context:
    """What the scenarios need to know about the directory the seeding step left."""

    new_client: Callable[[], HttpClient]
    dataset: Dataset
    users: int
    sample: list[tuple[int, str]]  # (data-set index, id) of existing users, spread at random
    spares: list[str]  # ids of users in no group, one per worker
    groups: dict[int, dict]  # size -> {"id", "members"}
    concurrency: int
    floor_path: str | None = None  # "//bench/floor/{id}" when the server has the floor endpoint

    def partition(self, worker: int) -> list[tuple[int, str]]:
        """The worker's own share of the sample, so that writers never race on one user."""
        share = self.sample[worker :: self.concurrency]
        return share or self.sample


@dataclass
class RunResult:
    scenario: str
    concurrency: int
    seconds: float
    ok: int = 0  # successful requests
    latencies: dict[str, list[float]] = field(default_factory=dict)  # label -> successful latencies
    errors: Counter = field(default_factory=Counter)
    primary: str | None = None
    load: float | None = None  # the machine's 1-minute load average when the run ended
    busy: float | None = None  # the share of the machine's CPU time spent working while recorded

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def primary_latencies(self) -> list[float]:
        if self.primary:
            return sorted(self.latencies.get(self.primary, []))
        return sorted(x for values in self.latencies.values() for x in values)

    def percentile(self, p: float) -> float | None:
        return _pct(self.primary_latencies(), p)

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seconds": round(self.seconds, 3),
            "ok_requests": self.ok,
            "per_second": round(self.per_second, 2),
            "p50_ms": _ms(self.percentile(50)),
            "p95_ms": _ms(self.percentile(95)),
            "p99_ms": _ms(self.percentile(99)),
            "latency_of": self.primary or "every request",
            "samples": len(self.primary_latencies()),
            "errors": dict(self.errors),
            "load_1min": self.load,
            "cpu_busy": self.busy,
            "by_label": {
                label: {"count": len(values), "p50_ms": _ms(_pct(sorted(values), 50))}
                for label, values in self.latencies.items()
            },
        }


def _pct(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile of sorted values."""
    if not values:
        return None
    return values[max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))]


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _cpu_times() -> tuple[int, int] | None:
    """(working, all) clock ticks of this machine's CPUs so far (Linux's /proc/stat); None
    elsewhere. Idle, waiting for I/O and time the hypervisor took (steal) are not working."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, _steal = ticks
    return user + nice + system + irq + softirq, sum(ticks)


def _share_busy(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def run_load(
    name: str,
    make_operation: Callable[[int], Operation],
    *,
    new_client: Callable[[], HttpClient],
    concurrency: int,
    duration: float,
    warmup: float,
    primary: str | None = None,
    seed: int = 0,
) -> RunResult:
    """Run ``concurrency`` workers in closed loops: ``warmup`` seconds unrecorded, then
    ``duration`` seconds recorded. An operation started before the end is completed and counted."""
    operations = [make_operation(w) for w in range(concurrency)]
    per_worker: list[list[Sample]] = [[] for _ in range(concurrency)]
    finished = [0.0] * concurrency
    barrier = threading.Barrier(concurrency + 1)
    times: dict[str, float] = {}

    def worker(w: int) -> None:
        client = new_client()
        rng = random.Random(f"{seed}-{name}-{w}")
        samples = per_worker[w]
        operation = operations[w]

        def attempt() -> list[Sample]:
            began = time.perf_counter()
            try:
                return operation(client, rng)
            except Exception as error:  # a bug or an unreadable answer: an error, not a dead worker
                return [("exception", time.perf_counter() - began, f"exception:{type(error).__name__}")]

        try:
            barrier.wait()
            start, end = times["start"], times["end"]
            while time.perf_counter() < start:
                attempt()
            while time.perf_counter() < end:
                samples.extend(attempt())
        finally:
            finished[w] = time.perf_counter()
            client.close()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    times["start"] = now + warmup
    times["end"] = now + warmup + duration
    barrier.wait()
    # How busy the machine's CPUs are while recording: below 100 % with every worker busy, the
    # requests wait on something other than CPU (a disk flush, a lock), which more CPU won't fix.
    time.sleep(max(0.0, times["start"] - time.perf_counter()))
    cpu_before = _cpu_times()
    time.sleep(max(0.0, times["end"] - time.perf_counter()))
    cpu_after = _cpu_times()
    for thread in threads:
        thread.join()
    result = RunResult(name, concurrency, max(finished) - times["start"], primary=primary)
    result.load, result.busy = _load(), _share_busy(cpu_before, cpu_after)
    for samples in per_worker:
        for label, seconds, error in samples:
            if error is None:
                result.ok += 1
                result.latencies.setdefault(label, []).append(seconds)
            else:
                result.errors[error] += 1
    return result


# The scenarios ------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    description: str
    operation: Callable[[Context, Any, int], Operation]  # (context, state, worker) -> operation
    primary: str | None = None  # the request label whose latency is reported (None: all)
    setup: Callable[[Context], Any] | None = None
    teardown: Callable[[Context, Any], None] | None = None
    needs_group: int | None = None
    needs_floor: bool = False


def _lookup(ctx: Context, client: HttpClient, rng: random.Random) -> Sample:
    i = rng.randrange(ctx.users)
    response = client.request("GET", "/Users", params={"filter": f'userName eq "{ctx.dataset.user_name(i)}"'})
    error = error_of(response)
    if error is None and total_results(response) != 1:
        error = "wrong-result"
    return ("lookup", response.seconds, error)


def _get(ctx: Context, client: HttpClient, rng: random.Random, share=None) -> Sample:
    _, pk = rng.choice(share or ctx.sample)
    response = client.request("GET", f"/Users/{pk}")
    return ("get", response.seconds, error_of(response))


def _patch_user(ctx: Context, client: HttpClient, rng: random.Random, share) -> Sample:
    _, pk = rng.choice(share)
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "title", "value": rng.choice(TITLES)},
            {"op": "replace", "path": f"{ENTERPRISE}:department", "value": rng.choice(DEPARTMENTS)},
        ],
    }
    response = client.request("PATCH", f"/Users/{pk}", body=body)
    return ("patch", response.seconds, error_of(response, (200, 204)))


def _member_patch(group_id: str, member_id: str, add: bool) -> dict:
    operation = (
        {"op": "add", "path": "members", "value": [{"value": member_id}]}
        if add
        else {"op": "remove", "path": f'members[value eq "{member_id}"]'}
    )
    return {"schemas": [PATCH_OP], "Operations": [operation]}


def lookup(ctx: Context, state, w: int) -> Operation:
    return lambda client, rng: [_lookup(ctx, client, rng)]


def get(ctx: Context, state, w: int) -> Operation:
    return lambda client, rng: [_get(ctx, client, rng)]


def list_page(ctx: Context, state, w: int) -> Operation:
    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        start = rng.randint(1, max(1, ctx.users - 99))
        response = client.request("GET", "/Users", params={"startIndex": start, "count": 100})
        error = error_of(response)
        if error is None and ctx.users >= 100 and len(response.json().get("Resources") or []) != 100:
            error = "wrong-result"
        return [("list", response.seconds, error)]

    return operation


def complex_filter(ctx: Context, state, w: int) -> Operation:
    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        response = client.request("GET", "/Users", params={"filter": COMPLEX_FILTER})
        error = error_of(response)
        if error is None and not total_results(response):
            error = "wrong-result"
        return [("complex_filter", response.seconds, error)]

    return operation


def patch_user(ctx: Context, state, w: int) -> Operation:
    share = ctx.partition(w)
    return lambda client, rng: [_patch_user(ctx, client, rng, share)]


def put_setup(ctx: Context) -> dict[int, list[dict]]:
    """Each worker's users, fetched once: the documents PUT sends back with a changed title."""
    client = ctx.new_client()
    documents: dict[int, list[dict]] = {}
    try:
        for w in range(ctx.concurrency):
            documents[w] = []
            for _, pk in ctx.partition(w)[:20]:
                response = client.request("GET", f"/Users/{pk}")
                if response.ok:
                    doc = response.json()
                    doc.pop("meta", None)  # read-only: servers ignore it, some refuse it
                    doc.pop("groups", None)
                    documents[w].append(doc)
    finally:
        client.close()
    return documents


def put_user(ctx: Context, state, w: int) -> Operation:
    documents = state[w]

    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        doc = dict(rng.choice(documents))
        doc["title"] = rng.choice(TITLES)
        response = client.request("PUT", f"/Users/{doc['id']}", body=doc)
        return [("put", response.seconds, error_of(response))]

    return operation


def group_add(size: int) -> Callable[[Context, Any, int], Operation]:
    def make(ctx: Context, state, w: int) -> Operation:
        group_id = ctx.groups[size]["id"]
        member = ctx.spares[w % len(ctx.spares)]
        path = f"/Groups/{group_id}"

        def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
            added = client.request("PATCH", path, body=_member_patch(group_id, member, add=True))
            removed = client.request("PATCH", path, body=_member_patch(group_id, member, add=False))
            return [
                ("add", added.seconds, error_of(added, (200, 204))),
                ("remove", removed.seconds, error_of(removed, (200, 204))),
            ]

        return operation

    return make


def _remove_spares(ctx: Context, sizes) -> None:
    client = ctx.new_client()
    try:
        for size in sizes:
            group_id = ctx.groups[size]["id"]
            body = {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "remove", "path": f'members[value eq "{pk}"]'} for pk in ctx.spares],
            }
            client.request(
                "PATCH", f"/Groups/{group_id}", body=body, params={"excludedAttributes": "members"}
            )
    finally:
        client.close()


MIX = (("lookup", 70), ("get", 10), ("patch", 10), ("create", 5), ("group", 5))
MIXED_GROUP = 1_000


def mixed_setup(ctx: Context) -> dict:
    return {"run": uuid.uuid4().hex[:8], "created": [], "lock": threading.Lock()}


def mixed(ctx: Context, state: dict, w: int) -> Operation:
    share = ctx.partition(w)
    group_id = ctx.groups[MIXED_GROUP]["id"]
    member = ctx.spares[w % len(ctx.spares)]
    labels = [label for label, _ in MIX]
    weights = [weight for _, weight in MIX]
    local = {"in_group": False, "n": 0}

    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        kind = rng.choices(labels, weights)[0]
        if kind == "lookup":
            return [_lookup(ctx, client, rng)]
        if kind == "get":
            return [_get(ctx, client, rng)]
        if kind == "patch":
            return [_patch_user(ctx, client, rng, share)]
        if kind == "create":
            local["n"] += 1
            tag = f"{state['run']}-{w}-{local['n']}"
            response = client.request("POST", "/Users", body=ctx.dataset.new_user(tag))
            if response.status == 201:
                with state["lock"]:
                    state["created"].append(response.json()["id"])
            return [("create", response.seconds, error_of(response, (201,)))]
        add = not local["in_group"]
        response = client.request("PATCH", f"/Groups/{group_id}", body=_member_patch(group_id, member, add))
        if response.ok:
            local["in_group"] = add
        return [("group", response.seconds, error_of(response, (200, 204)))]

    return operation


def mixed_teardown(ctx: Context, state: dict) -> None:
    """Delete the users the run created and take the spare users out of the group again."""
    _remove_spares(ctx, [MIXED_GROUP])
    client = ctx.new_client()
    try:
        for pk in state["created"]:
            client.request("DELETE", f"/Users/{pk}")
    finally:
        client.close()


def floor(ctx: Context, state, w: int) -> Operation:
    template = ctx.floor_path

    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        _, pk = rng.choice(ctx.sample)
        response = client.request("GET", template.format(id=pk))
        return [("floor", response.seconds, error_of(response))]

    return operation


def write_floor(ctx: Context, state, w: int) -> Operation:
    template, share = ctx.floor_path, ctx.partition(w)

    def operation(client: HttpClient, rng: random.Random) -> list[Sample]:
        _, pk = rng.choice(share)
        response = client.request("PATCH", template.format(id=pk))
        return [("write_floor", response.seconds, error_of(response))]

    return operation


FLOOR = Scenario("floor", "GET /bench/floor/<random id>: one primary-key read, bare DRF", floor)

SCENARIOS = {
    s.name: s
    for s in (
        Scenario("lookup", 'GET /Users?filter=userName eq "<random existing>"', lookup),
        Scenario("get", "GET /Users/<random id>", get),
        Scenario("list", "GET /Users?startIndex=<random>&count=100", list_page),
        Scenario("complex_filter", f"GET /Users?filter={COMPLEX_FILTER}", complex_filter),
        Scenario("patch_user", "PATCH /Users/<id>: replace title and enterprise department", patch_user),
        Scenario(
            "put_user", "PUT /Users/<id>: full replace of a user fetched once", put_user, setup=put_setup
        ),
        Scenario(
            "write_floor",
            "PATCH /bench/floor/<id>: one durable UPDATE of the user's row, bare DRF",
            write_floor,
            needs_floor=True,
        ),
        *(
            Scenario(
                f"group_add_{size}",
                f"PATCH add one member to a group of {size:,} members (then PATCH remove it)",
                group_add(size),
                primary="add",
                setup=lambda ctx, size=size: _remove_spares(ctx, [size]),
                teardown=lambda ctx, state, size=size: _remove_spares(ctx, [size]),
                needs_group=size,
            )
            for size in (10, 1_000, 100_000)
        ),
        Scenario(
            "mixed",
            "70% lookup, 10% get, 10% PATCH user, 5% POST user, 5% PATCH group member",
            mixed,
            setup=mixed_setup,
            teardown=mixed_teardown,
            needs_group=MIXED_GROUP,
        ),
    )
}

# Scenarios a target compares with each other (member add at 100,000 members against 10): their
# rounds take turns (round 1 of each, then round 2 of each, ...), so that each pair of rounds ran
# seconds apart on the same machine, not minutes.
SIDE_BY_SIDE = frozenset({"group_add_10", "group_add_1000", "group_add_100000"})


def in_turns(names: list[str]) -> list[list[str]]:
    """``names`` as the groups of scenarios whose rounds take turns: every one alone, except those
    of ``SIDE_BY_SIDE``, which go together where the first of them is."""
    together = [name for name in names if name in SIDE_BY_SIDE]
    turns: list[list[str]] = []
    for name in names:
        if name not in SIDE_BY_SIDE:
            turns.append([name])
        elif name == together[0]:
            turns.append(together)
    return turns
