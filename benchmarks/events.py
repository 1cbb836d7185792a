#!/usr/bin/env python3
"""What outbound events (issue 22) cost SCIM writes, and how fast they reach webhook endpoints, on
PostgreSQL with Redis as Celery's broker and real Celery worker processes on the same machine.

    python benchmarks/events.py [write] [delivery] [--rounds 8] [--requests 500] [--events 20000]

``write``: SCIM PATCH (replace the title of a random user) and SCIM POST /Users, in one process
(Django's test client, no HTTP), in alternating rounds "on" and "off". On: the outbox trigger
(``roster_event_source``) enabled and each write's nudge enqueued; ``--workers`` Celery worker
processes sequence the events and deliver them to ``--endpoints`` endpoints on a local receiver
(a process of its own) while the writes go on, so that their cost on this machine is in the
measurement. Off: the trigger disabled and the nudge a no-op; the workers idle. After each "on"
round the events must be published and delivered (every endpoint's cursor at the last event, the
receiver's counts up by as many) within ``--timeout`` seconds, or the run stops: a measurement of
events that were not made is void. The ratio is time off over time on (throughput on / off), the
median of the rounds' own ratios; target >= 0.9. The work of a round's last ~0.5 s of writes (the
nudge's interval) is done after its timing ends: rounds much shorter than a second flatter "on".

``delivery``: ``--events`` ``user.updated`` audit events inserted in bulk (the trigger writes their
sources, as for a PATCH), then (1) the sequencer alone, in this process (endpoints disabled),
(2) delivery alone: the endpoints' cursors put back before those events and one delivery task
enqueued per endpoint, (3) end to end: as many new audit events, one sequencing task enqueued, timed
until every endpoint's cursor reaches the last event. Target: each endpoint receives >= 500
events/s end to end with 2 workers. ``--profile N`` then runs the sequencer and one endpoint's
delivery of N events in this process under cProfile.

For finding where the time goes: ``write --workers 0`` measures what the request itself pays (the
trigger, the nudge), the events published here between rounds and delivered nowhere;
``--profile-workers`` runs the workers under cProfile; ``--worker-db-reuse N`` sets how many tasks
the workers keep their database connections over (the product keeps them over 1,000:
directory/celery.py); ``--apart`` pins this process and its backend to one CPU and the workers, their
backends and the receiver to the others, as where the workers run on machines of their own.

The database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_eventsbench),
created, migrated and seeded on first use; the broker (and cache) Redis db 11, emptied at the
start. The machine is shared and noisy: compare the ratios, measured side by side.
"""

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.extensions import ensure_database
from benchmarks.harness import commit, machine, title_patch
from benchmarks.serve import ROOT, autovacuum_once, environment, reexec_in_venv

KINDS = ("patch", "create")
SCENARIOS = ("write", "delivery")
WRITE_TARGET = 0.9
RATE_TARGET = 500.0  # events/s to each endpoint
WARMUP = 20  # unmeasured writes per kind, mode and round
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
SLUG = "bench-events"
BROKER = "redis://127.0.0.1:6379/11"
TRIGGER = "roster_event_source"
LABEL = "benchmarks/events.py"


# The receiver: a process of its own, answering 200 to every POST on a kept-alive connection. ------


def receiver_main() -> None:
    """Counts POSTs and distinct ``webhook-id``s per path; ``GET /stats`` answers them as JSON."""
    import asyncio

    posts: dict[str, int] = {}
    ids: dict[str, set] = {}
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, _, rest = head.partition(b"\r\n")
                method, path, _ = line.decode("latin-1").split(" ", 2)
                length, message = 0, b""
                for header in rest.split(b"\r\n"):
                    name, _, value = header.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        message = value.strip()
                if length:
                    await reader.readexactly(length)
                if method == "GET":
                    body = json.dumps({p: [posts[p], len(ids[p])] for p in posts}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                else:
                    posts[path] = posts.get(path, 0) + 1
                    ids.setdefault(path, set()).add(message)
                    writer.write(ok)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=128)
        print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


class Receiver:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.process.stdout.readline().split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def stats(self) -> dict[str, tuple[int, int]]:
        """Per path: (POSTs, distinct webhook ids)."""
        with self._opener.open(f"{self.url}/stats", timeout=10) as response:
            return {path: tuple(v) for path, v in json.loads(response.read()).items()}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# Processes: workers, CPU -------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user and system) process ``pid`` has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ``celery -A directory worker ...`` with CELERY_DB_REUSE_MAX set (``--worker-db-reuse``).
REUSE = (
    "import sys; from directory.celery import app; "
    "app.conf.update(CELERY_DB_REUSE_MAX=int(sys.argv[1])); app.worker_main(sys.argv[2:])"
)


class Workers:
    """``count`` Celery worker processes (``--pool=solo``, as tests/support/processes.py starts
    them), each logging to var/benchmark/events-worker-<n>.log."""

    def __init__(self, count: int, log_dir: Path, db_reuse: int = 0, profile: Path | None = None) -> None:
        self.processes, self.logs = [], []
        self.profiles = (
            [profile.with_name(f"{profile.name}-worker-{n}.prof") for n in range(1, count + 1)]
            if profile
            else []
        )
        for n in range(1, count + 1):
            log = log_dir / f"events-worker-{n}.log"
            command = [sys.executable, "-m", "celery", "-A", "directory", "worker", "--pool=solo"]
            if db_reuse:  # other than the product's 1,000 (directory/celery.py)
                command[1:5] = ["-c", REUSE, str(db_reuse)]
            if profile:  # written when the worker stops
                command[1:1] = ["-m", "cProfile", "-o", str(self.profiles[n - 1])]
            command += ["--loglevel=INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]
            command += ["-n", f"events{n}@%h"]
            with log.open("w") as out:
                self.processes.append(
                    subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=os.environ)
                )
            self.logs.append(log)
        deadline = time.monotonic() + 90
        for process, log in zip(self.processes, self.logs, strict=True):
            while "ready." not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"worker did not start; {log}:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def tail(self) -> str:
        return "\n".join(f"--- {log}\n{log.read_text()[-1500:]}" for log in self.logs)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Bench:
    """What the scenarios share: the tenant, users, endpoints, receiver, workers."""

    def __init__(self, tenant, ids, names, endpoints, profile_endpoint, receiver, workers, timeout):
        self.tenant, self.ids, self.names = tenant, ids, names
        self.endpoints, self.profile_endpoint = endpoints, profile_endpoint
        self.receiver, self.workers, self.timeout = receiver, workers, timeout

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: this process ("bench"), its PostgreSQL backend ("bench_db"), the
        workers and the receiver ("background"). Not the workers' backends: Celery's Django fixup
        closes the connections around every task, so each task has a backend of its own."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        return {
            "bench": time.process_time(),
            "bench_db": process_cpu(backend),
            "background": sum(process_cpu(pid) for pid in [*self.workers.pids, self.receiver.process.pid]),
        }

    def last_event(self) -> int:
        from directory.models import Event
        from django.db.models import Max

        return Event.objects.aggregate(last=Max("pk"))["last"] or 0

    def cursors(self) -> dict[int, int]:
        from directory.models import WebhookEndpoint

        return dict(WebhookEndpoint.objects.filter(pk__in=self.endpoints).values_list("pk", "cursor"))

    def fail(self, what: str) -> None:
        from directory.models import EventSource, WebhookEndpoint

        states = list(
            WebhookEndpoint.objects.filter(pk__in=self.endpoints).values(
                "pk", "cursor", "enabled", "failures", "next_attempt_at", "leased_until", "disabled_reason"
            )
        )
        raise SystemExit(
            f"VOID: {what}\nlast event {self.last_event()}, sources waiting {EventSource.objects.count()}, "
            f"endpoints {states}\nreceiver {self.receiver.stats()}\n{self.workers.tail()}"
        )

    def settle(self, timeout: float | None = None) -> float:
        """Wait until every source is published and every endpoint's cursor is at the last event;
        seconds waited. Every 5 s, beat's sweep is enqueued, as beat would (not run here)."""
        from directory.models import EventSource, WebhookEndpoint

        started = time.monotonic()
        if not self.workers.processes:  # --workers 0: published here, delivered nowhere
            self.wait_ready()
            sequence_here()
            WebhookEndpoint.objects.filter(pk__in=self.endpoints).update(cursor=self.last_event())
            return time.monotonic() - started
        deadline = started + (timeout or self.timeout)
        while True:
            # The sources first: the sequencer deletes them as its events appear, in one commit.
            waiting = EventSource.objects.exists()
            last = self.last_event()
            if not waiting and all(c >= last for c in self.cursors().values()):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                self.fail(f"events not published and delivered within {timeout or self.timeout:g} s")
            self.sweep()
            time.sleep(0.05)

    _swept = 0.0

    def sweep(self) -> None:
        """Beat's ``events-sequence`` (``events_sweep``, every 5 s in production), at most every 5 s."""
        from directory.tasks import events_sweep

        if time.monotonic() - self._swept >= 5:
            events_sweep.delay()
            self._swept = time.monotonic()

    def wait_ready(self, timeout: float = 30) -> float:
        """Wait until no running transaction can precede the sources (the sequencer's horizon,
        ``pg_snapshot_xmin``, is the whole PostgreSQL server's: another database's long transaction
        holds it back too); seconds waited."""
        from django.db import connection

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM directory_eventsource "
                    "WHERE xact >= pg_snapshot_xmin(pg_current_snapshot())"
                )
                if not cursor.fetchone()[0]:
                    break
            time.sleep(0.02)
        return time.monotonic() - started


# Setting up ----------------------------------------------------------------------------------------


def seed(tenant, users: int) -> None:
    from directory.models import User
    from directory.services.audit import Actor
    from directory.services.users import user_create

    actor = Actor.system(LABEL)
    for n in range(User.objects.filter(tenant=tenant).count(), users):
        user_create(
            tenant=tenant,
            actor=actor,
            fields={"user_name": f"user{n}@example.com", "external_id": f"ext-{n}", "title": "Engineer"},
        )


def endpoints_ready(tenant, base_url: str, count: int) -> tuple[list[int], int]:
    """``count`` endpoints of the tenant, all event types, on the receiver (/hooks/<n>), enabled, with
    nothing failing and the cursor at the last event; one more for ``--profile`` (/hooks/profile),
    disabled; every other endpoint disabled. Their earlier attempts are deleted."""
    from directory.models import Event, WebhookAttempt, WebhookEndpoint
    from directory.services.audit import Actor
    from directory.services.webhooks import webhook_endpoint_create
    from django.db.models import Max

    last = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    pks = []
    for name in [*(str(n) for n in range(1, count + 1)), "profile"]:
        description = f"bench-events-{name}"
        endpoint = WebhookEndpoint.objects.filter(description=description).first()
        if endpoint is None:
            endpoint = webhook_endpoint_create(
                tenant=tenant,
                url=f"{base_url}/hooks/{name}",
                event_types=[],
                format="standard",
                actor=Actor.system("bench"),
                description=description,
            )
        pks.append(endpoint.pk)
    WebhookEndpoint.objects.exclude(pk__in=pks[:-1]).update(enabled=False)
    WebhookAttempt.objects.filter(endpoint__in=pks).delete()
    for name, pk in zip([*(str(n) for n in range(1, count + 1)), "profile"], pks, strict=True):
        WebhookEndpoint.objects.filter(pk=pk).update(
            url=f"{base_url}/hooks/{name}",
            enabled=name != "profile",
            disabled_at=None,
            disabled_reason="",
            cursor=last,
            failing_since=None,
            failures=0,
            next_attempt_at=None,
            leased_until=None,
            lease=None,
        )
    return pks[:-1], pks[-1]


def trigger(enabled: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE directory_auditevent {'ENABLE' if enabled else 'DISABLE'} TRIGGER {TRIGGER}"
        )


def nudges(enabled: bool, original: dict[str, Callable]) -> None:
    """The nudge after each write: the product's, or a no-op. directory.services.audit calls it
    by the name it imported, so both modules' names are replaced."""
    import directory.services.audit
    import directory.services.events

    for module in (directory.services.events, directory.services.audit):
        module.events_nudge = original[module.__name__] if enabled else (lambda action: None)


# Write overhead ------------------------------------------------------------------------------------


def requester(client, ids: list[str]):
    counter = iter(range(10**9))
    tag = f"{time.time():.0f}"

    def request(kind: str):
        if kind == "patch":
            return title_patch(client, random.choice(ids))
        if kind == "create":
            body = {"schemas": [CORE], "userName": f"ev{tag}-{next(counter)}@example.com", "title": "New"}
            return client.post("/scim/v2/Users", json.dumps(body), content_type="application/scim+json")
        raise SystemExit(f"unknown kind {kind!r}: {', '.join(KINDS)}")

    return request


CPUS = sorted(os.sched_getaffinity(0))  # as the run began, before --apart pins this process


def pin_apart(bench: Bench) -> None:
    """``--apart``: this process and its PostgreSQL backend on the first CPU, the workers, the
    receiver and every other backend of the database on the others, as where the workers run on
    machines of their own and share only the database. Called each round: the workers' backends
    are their own connections."""
    from django.db import connection

    cpus = CPUS
    if len(cpus) < 2:
        raise SystemExit("--apart needs two CPUs or more")
    web, rest = {cpus[0]}, set(cpus[1:])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        others = [row[0] for row in cursor.fetchall()]
    os.sched_setaffinity(0, web)
    os.sched_setaffinity(own, web)
    for pid in [*others, *bench.workers.pids, bench.receiver.process.pid]:
        with contextlib.suppress(OSError):  # gone meanwhile
            os.sched_setaffinity(pid, rest)


def write_scenario(
    bench: Bench, request, kinds: list[str], rounds: int, count: int, apart: bool = False
) -> dict:
    """Per kind and mode, each round's wall ms per write, CPU ms per write (this process and its
    backend; the workers, receiver and their backends, up to the events' delivery), and, on, the
    seconds from the round's last write until its events were delivered."""
    import directory.services.audit
    import directory.services.events
    from directory.models import Event, EventSource

    original = {m.__name__: m.events_nudge for m in (directory.services.events, directory.services.audit)}
    expected_type = {"patch": "user.updated", "create": "user.created"}
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    try:
        for round_ in range(rounds):
            for kind in kinds:
                for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                    on = mode == "on"
                    if apart:
                        pin_apart(bench)
                    trigger(on)
                    nudges(on, original)
                    before_event, before_received = bench.last_event(), bench.receiver.stats()
                    for _ in range(WARMUP):
                        response = request(kind)
                        if response.status_code not in (200, 201, 204):
                            raise SystemExit(
                                f"{mode} {kind}: {response.status_code} {response.content[:400]!r}"
                            )
                    cpu0 = bench.cpu()
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for _ in range(count):
                        request(kind)
                    wall = (time.perf_counter() - start) / count * 1000
                    own = (time.process_time() - start_cpu) / count * 1000
                    lag = bench.settle() if on else 0.0
                    cpu1 = bench.cpu()
                    row = out.setdefault((kind, mode), {})
                    row.setdefault("ms", []).append(wall)
                    row.setdefault("cpu_ms", []).append(own)
                    row.setdefault("db_cpu_ms", []).append(
                        (cpu1["bench_db"] - cpu0["bench_db"]) / count * 1000
                    )
                    background = (cpu1["background"] - cpu0["background"]) / count * 1000
                    row.setdefault("background_cpu_ms", []).append(background)
                    row.setdefault("lag_s", []).append(lag)
                    made = Event.objects.filter(pk__gt=before_event)
                    if on:
                        _check_delivered(bench, made, before_received, WARMUP + count, expected_type[kind])
                    elif made.exists() or EventSource.objects.exists():
                        bench.fail(f"events were made with the trigger disabled ({kind}, round {round_ + 1})")
            print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        trigger(True)
        nudges(True, original)
    return out


def _check_delivered(bench: Bench, made, before: dict, writes: int, event_type: str) -> None:
    """The round's writes each made an event of their type, and each endpoint received them."""
    from directory.models import WebhookEndpoint

    published = made.filter(type=event_type, tenant=bench.tenant).count()
    if published < writes:
        bench.fail(f"{writes} writes, {published} {event_type} events published")
    if not bench.workers.processes:
        return
    received = bench.receiver.stats()
    for pk in bench.endpoints:
        path = f"/hooks/{_endpoint_name(pk, bench)}"
        got = received.get(path, (0, 0))[0] - before.get(path, (0, 0))[0]
        if got < published:
            bench.fail(f"endpoint {pk} received {got} of {published} events")
    if WebhookEndpoint.objects.filter(pk__in=bench.endpoints, failures__gt=0).exists():
        bench.fail("an endpoint is failing")


def _endpoint_name(pk: int, bench: Bench) -> str:
    return str(bench.endpoints.index(pk) + 1)


def write_report(out: dict, kinds: list[str], args) -> tuple[dict, bool]:
    """A markdown table: per kind, the medians on and off, the ratio, CPU per write."""
    print(
        "\n| write | on ms | off ms | throughput on/off | rounds | CPU on / off ms | its DB on / off ms "
        "| background CPU on / off ms | lag s | ≥ 0.9 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    results = {}
    for kind in kinds:
        on, off = out[kind, "on"], out[kind, "off"]
        ratios = [o / n for o, n in zip(off["ms"], on["ms"], strict=True)]
        ratio = statistics.median(ratios)
        med = {
            f"{m}_{k}": statistics.median(v) for m, row in (("on", on), ("off", off)) for k, v in row.items()
        }
        print(
            f"| {kind} | {med['on_ms']:.2f} | {med['off_ms']:.2f} | **{ratio:.3f}** "
            f"| {min(ratios):.2f}–{max(ratios):.2f} | {med['on_cpu_ms']:.2f} / {med['off_cpu_ms']:.2f} "
            f"| {med['on_db_cpu_ms']:.2f} / {med['off_db_cpu_ms']:.2f} "
            f"| {med['on_background_cpu_ms']:.2f} / {med['off_background_cpu_ms']:.2f} "
            f"| {med['on_lag_s']:.2f} | {'yes' if ratio >= WRITE_TARGET else '**no**'} |"
        )
        results[kind] = {
            "on": {k: [round(x, 4) for x in v] for k, v in on.items()},
            "off": {k: [round(x, 4) for x in v] for k, v in off.items()},
            "medians": {k: round(v, 4) for k, v in med.items()},
            "ratio": round(ratio, 4),
            "ratio_rounds": [round(min(ratios), 4), round(max(ratios), 4)],
        }
    print(
        f"\n(medians of {args.rounds} alternating rounds × {args.requests} writes per kind and mode; "
        "per write: wall ms; CPU: this process, client and Roster; its DB: its PostgreSQL backend; "
        "background: the workers and the receiver, until the round's events were delivered; lag: from "
        "the round's last write until every endpoint had its events)"
    )
    met = all(results[k]["ratio"] >= WRITE_TARGET for k in kinds)
    print(
        f"target: {' and '.join(kinds)} keep >= {WRITE_TARGET}x their throughput with events on "
        f"({args.workers} workers, {args.endpoints} endpoints): {'met' if met else 'NOT MET'}"
    )
    return results, met


# Delivery throughput -------------------------------------------------------------------------------


def insert_updates(bench: Bench, count: int, batch: int = 2000) -> float:
    """``count`` user.updated audit events (a title each) in bulk; the trigger writes a source for
    each, as for a PATCH. Seconds taken."""
    from directory.models import ActorType, AuditEvent
    from django.db import transaction

    started = time.perf_counter()
    for offset in range(0, count, batch):
        rows = []
        for n in range(offset, min(offset + batch, count)):
            k = random.randrange(len(bench.ids))
            rows.append(
                AuditEvent(
                    tenant=bench.tenant,
                    actor_type=ActorType.SYSTEM,
                    actor_label=LABEL,
                    action="user.updated",
                    target_type="user",
                    target_id=bench.ids[k],
                    target_label=bench.names[k],
                    changes={"title": {"before": "Engineer", "after": f"Title {n}"}},
                )
            )
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows)
    return time.perf_counter() - started


def sequence_here() -> tuple[int, float]:
    """Run the sequencer in this process until no source is left; (events, seconds)."""
    from directory.models import EventSource
    from directory.services.events import events_sequence

    published, started = 0, time.perf_counter()
    while EventSource.objects.exists():
        n = events_sequence()
        published += n
        if not n:
            time.sleep(0.01)  # what is left is not ready yet (``Bench.wait_ready``)
    return published, time.perf_counter() - started


def watch(bench: Bench, first: int, count: int) -> tuple[float | None, dict[int, float]]:
    """Poll until ``count`` events after ``first`` - 1 are published and every endpoint's cursor
    reaches the last of them; seconds (from now) until published, and until each endpoint had
    them. Fails when nothing moves for ``timeout`` seconds."""
    from directory.models import Event

    started = time.perf_counter()
    published_at, done = None, {}
    progress, moved = None, time.monotonic()
    target = None
    while True:
        elapsed = time.perf_counter() - started
        if target is None and Event.objects.filter(pk__gte=first).count() >= count:
            published_at = elapsed
            target = bench.last_event()
        cursors = bench.cursors()
        if target is not None:
            for pk, cursor in cursors.items():
                if pk not in done and cursor >= target:
                    done[pk] = elapsed
            if len(done) == len(cursors):
                return published_at, done
        now_progress = (bench.last_event(), tuple(sorted(cursors.values())))
        if now_progress != progress:
            progress, moved = now_progress, time.monotonic()
        elif time.monotonic() - moved > bench.timeout:
            bench.fail(f"no progress for {bench.timeout:g} s")
        bench.sweep()
        time.sleep(0.1)


def http_share(bench: Bench, first: int, since) -> dict[int, dict]:
    """Per endpoint, its attempts at the events from ``first`` since ``since``: how many, the
    median POST's ms, and their sum (the time spent posting: requests, the socket, the receiver)."""
    from directory.models import WebhookAttempt

    shares = {}
    for pk in bench.endpoints:
        latencies = list(
            WebhookAttempt.objects.filter(
                endpoint=pk, event_id__gte=first, attempted_at__gte=since
            ).values_list("latency_ms", flat=True)
        )
        shares[pk] = {
            "attempts": len(latencies),
            "post_ms_median": round(statistics.median(latencies), 3) if latencies else None,
            "post_s_total": round(sum(latencies) / 1000, 2),
        }
    return shares


def _received_since(bench: Bench, before: dict) -> dict[int, tuple[int, int]]:
    after = bench.receiver.stats()
    out = {}
    for pk in bench.endpoints:
        path = f"/hooks/{_endpoint_name(pk, bench)}"
        posts, ids = after.get(path, (0, 0))
        posts0, ids0 = before.get(path, (0, 0))
        out[pk] = (posts - posts0, ids - ids0)
    return out


def delivery_scenario(bench: Bench, count: int) -> dict:
    from directory.models import WebhookEndpoint
    from directory.tasks import events_sequence_task, webhook_deliver_task
    from django.utils import timezone

    results: dict = {"events": count}
    url = os.environ["DATABASE_URL"]
    bench.settle()
    autovacuum_once(url)

    # 1. The sequencer alone, in this process: the endpoints disabled, so no delivery is woken.
    WebhookEndpoint.objects.filter(pk__in=bench.endpoints).update(enabled=False)
    first = bench.last_event() + 1
    inserted = insert_updates(bench, count)
    bench.wait_ready()
    cpu0 = bench.cpu()
    published, seconds = sequence_here()
    cpu1 = bench.cpu()
    if published != count:
        bench.fail(f"{count} sources, {published} events published")
    results["insert_s"] = round(inserted, 2)
    results["sequence"] = {
        "seconds": round(seconds, 2),
        "events_per_s": round(published / seconds, 1),
        "cpu_ms_per_event": round((cpu1["bench"] - cpu0["bench"]) / published * 1000, 3),
        "db_cpu_ms_per_event": round((cpu1["bench_db"] - cpu0["bench_db"]) / published * 1000, 3),
    }
    print(f"sequencer alone: {published} events in {seconds:.1f} s", file=sys.stderr, flush=True)
    autovacuum_once(url)

    # 2. Delivery alone: the endpoints' cursors put back before those events, one task each.
    last = bench.last_event()
    WebhookEndpoint.objects.filter(pk__in=bench.endpoints).update(enabled=True, cursor=first - 1)
    before, since, cpu0 = bench.receiver.stats(), timezone.now(), bench.cpu()
    for pk in bench.endpoints:
        webhook_deliver_task.delay(pk)
    _, done = watch(bench, first, count)
    cpu1 = bench.cpu()
    results["deliver"] = _delivery_result(bench, count, None, done, before, first, since, cpu0, cpu1)
    if bench.last_event() != last:
        bench.fail("events were published during delivery alone")
    print(f"delivery alone: {max(done.values()):.1f} s", file=sys.stderr, flush=True)
    autovacuum_once(url)

    # 3. End to end: new sources, one sequencing task, until every endpoint has them all.
    first = bench.last_event() + 1
    insert_updates(bench, count)
    bench.wait_ready()
    before, since, cpu0 = bench.receiver.stats(), timezone.now(), bench.cpu()
    bench._swept = time.monotonic()  # the first sweep 5 s from now, as if beat's had just run
    events_sequence_task.delay()
    published_at, done = watch(bench, first, count)
    cpu1 = bench.cpu()
    results["end_to_end"] = _delivery_result(
        bench, count, published_at, done, before, first, since, cpu0, cpu1
    )
    print(f"end to end: {max(done.values()):.1f} s", file=sys.stderr, flush=True)
    autovacuum_once(url)
    return results


def _delivery_result(bench, count, published_at, done, before, first, since, cpu0, cpu1) -> dict:
    received = _received_since(bench, before)
    for pk, (_, distinct) in received.items():
        if distinct < count:
            bench.fail(f"endpoint {pk} received {distinct} distinct events of {count}")
    elapsed = max(done.values())
    shares = http_share(bench, first, since)
    background = cpu1["background"] - cpu0["background"]
    return {
        "published_s": round(published_at, 2) if published_at is not None else None,
        "elapsed_s": round(elapsed, 2),
        "per_endpoint": {
            str(pk): {
                "seconds": round(done[pk], 2),
                "events_per_s": round(count / done[pk], 1),
                "posts": received[pk][0],
                "duplicates": received[pk][0] - received[pk][1],
                **shares[pk],
            }
            for pk in bench.endpoints
        },
        "deliveries_per_s": round(count * len(bench.endpoints) / elapsed, 1),
        "slowest_endpoint_events_per_s": round(count / elapsed, 1),
        "background_cpu_ms_per_delivery": round(background / (count * len(bench.endpoints)) * 1000, 3),
        "background_cpu_s": round(background, 2),
    }


def delivery_report(results: dict, args) -> bool:
    """Markdown: the sequencer alone, then per phase and endpoint the time, rate and POSTs."""
    count, seq = results["events"], results["sequence"]
    print(f"\nDelivery: {count:,} user.updated events, {args.workers} workers, {args.endpoints} endpoints")
    print(
        f"\nsequencer alone (this process): **{seq['events_per_s']:,.0f} events/s** ({seq['seconds']:.1f} s; "
        f"CPU {seq['cpu_ms_per_event']:.3f} ms per event, its backend {seq['db_cpu_ms_per_event']:.3f} ms); "
        f"the audit events' bulk insert, trigger included: {results['insert_s']:.1f} s"
    )
    print("\n| phase | endpoint | seconds | events/s | POSTs | duplicates | POST ms p50 | in outbound_post |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for phase in ("deliver", "end_to_end"):
        row = results[phase]
        for pk, e in row["per_endpoint"].items():
            print(
                f"| {phase} | {pk} | {e['seconds']:.1f} | {e['events_per_s']:,.0f} | {e['posts']:,} "
                f"| {e['duplicates']} | {e['post_ms_median'] or 0:.2f} "
                f"| {e['post_s_total'] / e['seconds']:.0%} |"
            )
    print()
    for phase in ("deliver", "end_to_end"):
        row = results[phase]
        published = (
            f", all published after {row['published_s']:.1f} s" if row["published_s"] is not None else ""
        )
        print(
            f"- {phase}: {row['elapsed_s']:.1f} s until every endpoint had them{published}: "
            f"**{row['slowest_endpoint_events_per_s']:,.0f} events/s** to each endpoint, "
            f"{row['deliveries_per_s']:,.0f} deliveries/s in all; the workers' and receiver's CPU "
            f"{row['background_cpu_s']:.1f} s, {row['background_cpu_ms_per_delivery']:.2f} ms per delivery"
        )
    rate = results["end_to_end"]["slowest_endpoint_events_per_s"]
    met = rate >= RATE_TARGET
    print(
        f"\n(deliver: the cursors put back {count:,} events, one delivery task per endpoint; "
        "end_to_end: from enqueueing the sequencing of new sources until every endpoint's cursor "
        "reached the last; in outbound_post: the share of the endpoint's elapsed time its worker spent "
        "posting (requests, the socket, the receiver's answer), from the attempts' latency_ms)"
    )
    print(
        f"target: each endpoint receives >= {RATE_TARGET:g} events/s end to end with {args.workers} workers: "
        f"{rate:,.0f} events/s, {'met' if met else 'NOT MET'}"
    )
    return met


# Profiles ------------------------------------------------------------------------------------------


def profile(bench: Bench, count: int, out: Path) -> dict:
    """The sequencer on ``count`` new sources and one endpoint's delivery of ``count`` events, each
    in this process under cProfile; the top functions printed, the profiles kept."""
    import directory.services.webhooks as webhooks
    from directory.models import WebhookEndpoint
    from directory.services.webhooks import webhook_deliver

    bench.settle()
    WebhookEndpoint.objects.filter(pk__in=bench.endpoints).update(enabled=False)
    first = bench.last_event() + 1
    insert_updates(bench, count)
    bench.wait_ready()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    published, _ = profiler.runcall(sequence_here)
    sequence_s = time.perf_counter() - started
    _print_profile(profiler, f"events_sequence, {published} events, {sequence_s:.1f} s under cProfile")
    profiler.dump_stats(out.with_name(out.name + "-sequence.prof"))

    WebhookEndpoint.objects.filter(pk=bench.profile_endpoint).update(enabled=True, cursor=first - 1)
    run_seconds, webhooks.RUN_SECONDS = webhooks.RUN_SECONDS, 3600  # one run, however long
    profiler = cProfile.Profile()
    try:
        started = time.perf_counter()
        delivered = profiler.runcall(webhook_deliver, bench.profile_endpoint)
        deliver_s = time.perf_counter() - started
    finally:
        webhooks.RUN_SECONDS = run_seconds
        WebhookEndpoint.objects.filter(pk=bench.profile_endpoint).update(enabled=False)
    _print_profile(profiler, f"webhook_deliver, {delivered} events, {deliver_s:.1f} s under cProfile")
    profiler.dump_stats(out.with_name(out.name + "-deliver.prof"))
    last = bench.last_event()
    WebhookEndpoint.objects.filter(pk__in=bench.endpoints).update(enabled=True, cursor=last)
    return {
        "sequence": {"events": published, "seconds": round(sequence_s, 2)},
        "deliver": {"events": delivered, "seconds": round(deliver_s, 2)},
    }


def _print_profile(profiler: cProfile.Profile, title: str) -> None:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    print(f"\n=== {title}\n{text.getvalue()}")


# Main ----------------------------------------------------------------------------------------------


def main() -> None:
    if sys.argv[1:2] == ["--receiver"]:
        receiver_main()
        return
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help="write, delivery")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), help="write kinds: patch, create")
    parser.add_argument("--users", type=int, default=2000, help="users seeded in the tenant")
    parser.add_argument("--rounds", type=int, default=8, help="alternating on/off write rounds")
    parser.add_argument("--requests", type=int, default=500, help="timed writes per kind, mode and round")
    parser.add_argument("--events", type=int, default=20000, help="events per delivery phase")
    parser.add_argument(
        "--workers", type=int, default=2, help="Celery worker processes (write: 0 = the request's own cost)"
    )
    parser.add_argument("--endpoints", type=int, default=2, help="subscribed webhook endpoints")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="write: this process and its backend on one CPU, the workers and receiver on the others",
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds without progress before failing")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="then profile N events in-process"
    )
    parser.add_argument(
        "--profile-workers", action="store_true", help="run the workers under cProfile (profiles kept)"
    )
    parser.add_argument(
        "--worker-db-reuse",
        type=int,
        default=0,
        metavar="N",
        help="the workers keep database connections over N tasks (CELERY_DB_REUSE_MAX; the product: 1000)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "benchmark" / "results", help="results folder"
    )
    args = parser.parse_args()
    for scenario in args.scenarios:
        if scenario not in SCENARIOS:
            parser.error(f"unknown scenario {scenario!r}: {', '.join(SCENARIOS)}")
    if args.workers == 0 and "delivery" in args.scenarios:
        parser.error("delivery needs workers; --workers 0 is for write alone")
    if args.profile_workers and args.worker_db_reuse:
        parser.error("--profile-workers and --worker-db-reuse do not combine")

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster_eventsbench")
    os.environ.setdefault("CELERY_BROKER_URL", BROKER)
    os.environ.setdefault("CACHE_URL", BROKER)
    os.environ.update(WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_LOOPBACK="true")
    var_dir = Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")
    os.environ.update(environment(var_dir))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # as console_overhead.py: no line per request
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import redis
    from directory.models import Tenant, User, WebhookEndpoint
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create
    from directory.services.tokens import token_create
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        raise SystemExit(f"Needs Redis as the broker; CELERY_BROKER_URL is {settings.CELERY_BROKER_URL}")
    call_command("migrate", verbosity=0)
    actor = Actor.system(LABEL)
    tenant = Tenant.objects.filter(slug=SLUG).first() or tenant_create(slug=SLUG, actor=actor)
    seed(tenant, args.users)
    users = list(
        User.objects.filter(tenant=tenant).order_by("pk").values_list("pk", "user_name")[: args.users]
    )
    ids, names = [str(pk) for pk, _ in users], [name for _, name in users]
    _, plaintext = token_create(tenant=tenant, name="bench", actor=actor)
    autovacuum_once(os.environ["DATABASE_URL"])
    trigger(True)  # a run stopped in an "off" round left it disabled

    stem = args.out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-events"
    args.out.mkdir(parents=True, exist_ok=True)
    receiver = Receiver()
    endpoints, profile_endpoint = endpoints_ready(tenant, receiver.url, args.endpoints)
    if not args.workers:  # nothing delivers: woken deliveries would only pile up in the broker
        WebhookEndpoint.objects.filter(pk__in=endpoints).update(enabled=False)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # what earlier runs left queued
    try:
        workers = Workers(args.workers, var_dir, args.worker_db_reuse, stem if args.profile_workers else None)
    except BaseException:
        receiver.stop()
        raise
    bench = Bench(tenant, ids, names, endpoints, profile_endpoint, receiver, workers, args.timeout)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = [os.getloadavg()[0]]
    outcome: dict = {}
    try:
        bench.settle(timeout=300)  # the seeding's events, and any earlier run's
        if "write" in args.scenarios:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
            out = write_scenario(
                bench, requester(client, ids), args.kinds, args.rounds, args.requests, apart=args.apart
            )
            load.append(os.getloadavg()[0])
            outcome["write"], outcome["write_met"] = write_report(out, args.kinds, args)
        if "delivery" in args.scenarios:
            results = delivery_scenario(bench, args.events)
            load.append(os.getloadavg()[0])
            outcome["delivery"] = results
            outcome["delivery_met"] = delivery_report(results, args)
        if args.profile:
            outcome["profile"] = profile(bench, args.profile, stem)
    finally:
        workers.stop()
        receiver.stop()
    for path in workers.profiles:
        text = io.StringIO()
        pstats.Stats(str(path), stream=text).sort_stats("cumulative").print_stats(
            r"directory|scim_api|celery/app/trace", 30
        )
        print(f"\n=== worker profile {path.name}\n{text.getvalue()}")

    meta = {
        "date": started,
        "machine": machine(),
        "commit": commit(),
        "command": " ".join(["python", "benchmarks/events.py", *sys.argv[1:]]),
        "users": args.users,
        "rounds": args.rounds,
        "requests": args.requests,
        "workers": args.workers,
        "endpoints": args.endpoints,
        "events": args.events,
        "worker_db_reuse": args.worker_db_reuse,
        "load_1min": load,
    }
    print(f"(load average, 1 min: {' → '.join(f'{v:.1f}' for v in load)}; {meta['commit']})")
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, **outcome}, indent=2) + "\n")
    print(f"written: {stem}.json")


if __name__ == "__main__":
    main()
