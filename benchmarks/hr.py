#!/usr/bin/env python3
"""The HR review screen at scale, on PostgreSQL (issue 20's speed target: ``/hr/`` with 10,000 open
cases across 100,000 users answers with a p50 within 150 ms, in a bounded number of queries).

Two tenants of ``--users`` users each, one with ``--cases`` open cases and one with a tenth as
many, each with its own HR reviewer. In one process (Django's test client signed in with
``force_login``, no HTTP), in alternating rounds (large then small, small then large, ...), the
same five requests against each:

``list``        ``/hr/``: the default page (pending cases, due first)
``deep page``   ``/hr/?page=N``, half-way down the list (page 100 of 200 at 10,000 cases)
``search``      ``/hr/?q=<part of a family name>`` (free text: names, userName, emails)
``department``  ``/hr/?department=<one>&sort=name``
``case``        ``/hr/cases/<id>/``: one case's page (its person, steps, groups and history)

For each and each size: the median and p90 of the wall time per request, the time spent in SQL,
the statements per request (``CaptureQueriesContext`` around each request, the log emptied before
each: the context unhooks Django's ``request_started`` reset of it) and the rows the page listed;
the ratio of the medians (large over small, the median of the rounds' own ratios); whether the
query counts are the same at both sizes; and the target, met or not. ``--explain`` adds EXPLAIN
ANALYZE of every statement of one request of each kind at the large size.

    python benchmarks/hr.py [--users 100000] [--cases 10000] [--rounds 5] [--requests 20] [--explain]

The database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_hrbench), created,
migrated and seeded on first use (a tenant per size, kept for the next run: users, their email rows,
department groups, cases, their steps and audit history, by COPY and bulk inserts, one transaction
per tenant). Results go to var/benchmark/results/<time>-hr-<cases>.json. The machine is shared and
noisy: compare the ratios, measured side by side, not the milliseconds across runs.
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.dataset import FAMILY_NAMES, GIVEN_NAMES, TITLES
from benchmarks.extensions import ensure_database
from benchmarks.harness import commit, machine
from benchmarks.serve import ROOT, environment, reexec_in_venv

ACTOR_LABEL = "benchmarks/hr.py"
TARGET_MS = 150.0
WARMUP = 3  # unmeasured requests per kind, size and round: caches, prepared plans
KINDS = ("list", "deep page", "search", "department", "case")
DEPARTMENTS = (  # ~30, few large and many small, as in a company of 100,000
    "Engineering", "Sales", "Customer Support", "Operations", "Marketing", "Finance", "Product",
    "Professional Services", "Infrastructure", "Data", "Security", "People", "Recruiting", "Legal",
    "Design", "Quality Assurance", "IT", "Customer Success", "Procurement", "Facilities",
    "Partnerships", "Communications", "Research", "Compliance", "Accounting", "Training",
    "Business Development", "Sales Operations", "Platform", "Executive Office",
)  # fmt: skip
# Open cases by state (the list's default shows them all): most wait for HR, a few are held or in
# a burst's quarantine.
STATES = (("pending_review", 70), ("suspended", 12), ("approved", 8), ("on_hold", 6), ("quarantined", 4))
STEPS = ("revoke_sessions", "record_data_successor", "notify_manager")
# Searched by the ``search`` kind in turn: parts of family names (each ~1% of the people).
SEARCHES = ("nguy", "tanak", "kowal", "okaf", "zimmer", "ivanov", "patel", "rossi")
SEARCHED_DEPARTMENTS = ("Engineering", "Finance", "Legal", "Security", "Design")


@dataclass
class Site:
    """One size: its tenant, signed-in client and what its requests name."""

    label: str
    cases: int
    client: object
    case_ids: list[int]
    deep_page: int
    counter: count = field(default_factory=count)
    kinds: tuple[str, ...] = KINDS
    row_marker: bytes = b'name="case" value="'  # what each listed row has once

    def path(self, kind: str) -> str:
        n = next(self.counter)
        if kind == "list":
            return "/hr/"
        if kind == "deep page":
            return f"/hr/?page={self.deep_page}"
        if kind == "search":
            return f"/hr/?q={SEARCHES[n % len(SEARCHES)]}"
        if kind == "department":
            return f"/hr/?department={SEARCHED_DEPARTMENTS[n % len(SEARCHED_DEPARTMENTS)]}&sort=name"
        return f"/hr/cases/{self.case_ids[n % len(self.case_ids)]}/"


# --- seeding -------------------------------------------------------------------------------------


def tenant_seeded(slug: str, users: int, cases: int):
    """The tenant ``slug`` with ``users`` users and ``cases`` open cases, and its reviewer; seeded
    in one transaction the first time (so a tenant that exists is complete)."""
    from directory.models import Tenant, User
    from django.db import transaction
    from lifecycle.models import OffboardingCase

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        print(f"seeding {slug}: {users:,} users, {cases:,} open cases", file=sys.stderr, flush=True)
        start = time.perf_counter()
        with transaction.atomic():
            tenant = seed(slug, users, cases)
        vacuum()
        print(f"seeded {slug} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    have = (User.objects.filter(tenant=tenant).count(), OffboardingCase.objects.filter(tenant=tenant).count())
    if have != (users, cases):
        raise SystemExit(f"{slug} has {have[0]:,} users and {have[1]:,} cases, not {users:,} and {cases:,}")
    return tenant


def seed(slug: str, users: int, cases: int):
    from directory.models import DeprovisionAction, Group, Membership, User, UserValue
    from directory.models.base import new_id
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create
    from django.utils import timezone
    from lifecycle.models import Burst
    from lifecycle.reviewers import reviewer_add
    from tests.support.seed import insert

    actor = Actor.system(ACTOR_LABEL)
    tenant = tenant_create(slug=slug, actor=actor, on_deactivate=DeprovisionAction.DELETE_AFTER_REVIEW)
    reviewer, _ = reviewer_add(
        username=f"{slug}-reviewer", tenant_slugs=[slug], actor=actor, password=f"Bench-{new_id()}"
    )
    rng = random.Random(slug)
    now = timezone.now()
    managers = max(1, users // 25)
    leavers = plan_cases(rng, range(managers, users), cases, now)
    weights = [1 / (k + 1) ** 0.8 for k in range(len(DEPARTMENTS))]
    ids = [new_id() for _ in range(users)]
    groups = {
        name: Group(
            tenant=tenant, display_name=name, display_name_key=name.casefold(), external_id=f"dept-{k}"
        )
        for k, name in enumerate(DEPARTMENTS)
    }
    Group.objects.bulk_create(groups.values())
    created = now - timedelta(days=800)
    people: dict[int, dict] = {}
    for batch in range(0, users, 20_000):
        rows, values, members = [], [], []
        for i in range(batch, min(users, batch + 20_000)):
            given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
            user_name = f"{given}.{family}.{i:06d}@{slug}.example.com".lower().replace("'", "")
            emails = [{"value": user_name, "type": "work", "primary": True}]
            if i % 3 == 0:
                emails.append({"value": f"{given.lower()}{i}@home.example.org", "type": "home"})
            if i == 0:
                manager = None
            elif i < managers:  # managers report to managers above them
                manager = ids[rng.randrange(max(1, i // 4))]
            else:
                manager = ids[rng.randrange(managers)] if rng.random() < 0.9 else None
            department = rng.choices(DEPARTMENTS, weights)[0]
            row = {
                "id": ids[i],
                "tenant_id": tenant.pk,
                "created_at": created,
                "updated_at": created,
                "user_name": user_name,
                "user_name_key": user_name,
                "external_id": f"hr-{slug}-{i}",
                "name_formatted": f"{given} {family}",
                "name_given_name": given,
                "name_family_name": family,
                "display_name": f"{given} {family}",
                "display_name_key": f"{given} {family}".casefold(),
                "title": rng.choice(TITLES),
                "emails": emails,
                "employee_number": str(100_000 + i),
                "department": department,
                "manager_id": manager,
                "state_changed_at": created,
            }
            if i in leavers:  # the database refuses an active user with a case (active iff state active)
                when = leavers[i]["deprovisioned_at"]
                row.update(state="suspended", active=False, suspended_at=when, state_changed_at=when)
                people[i] = row
            rows.append(row)
            for position, email in enumerate(emails):
                values.append(
                    {
                        "tenant_id": tenant.pk,
                        "user_id": ids[i],
                        "attribute": "emails",
                        "position": position,
                        "value": email["value"],
                        "value_key": email["value"].casefold(),
                        "type": email["type"],
                        "primary": email.get("primary", False),
                    }
                )
            members.append(
                {"tenant_id": tenant.pk, "group_id": groups[department].pk, "member_user_id": ids[i]}
            )
        insert(User, rows)
        insert(UserValue, values)
        insert(Membership, members)
        print(f"  {min(users, batch + 20_000):,} users", file=sys.stderr, flush=True)
    burst = Burst.objects.create(
        tenant=tenant,
        window_start=now - timedelta(days=2, minutes=15),
        detected_at=now - timedelta(days=2),
        deprovisions=sum(1 for c in leavers.values() if c["state"] == "quarantined"),
        users=users,
        rule="more than 50 deprovisions within 15 minutes",
    )
    cases_insert(tenant, leavers, people, reviewer, burst)
    return tenant


def plan_cases(rng: random.Random, candidates: range, cases: int, now) -> dict[int, dict]:
    """``cases`` users of ``candidates`` made leavers: each its case's state and dates."""
    states, weights = zip(*STATES, strict=True)
    plans = {}
    for i in rng.sample(candidates, cases):
        state = rng.choices(states, weights)[0]
        deprovisioned = now - timedelta(days=rng.uniform(1, 45))
        r = rng.random()
        if state == "pending_review" and r < 0.05:
            due = None  # deleted once approved: no date until then
        elif r < 0.15:
            due = now - timedelta(days=rng.uniform(0.1, 10))  # overdue
        else:
            due = now + timedelta(days=rng.uniform(0.05, 60))
        plans[i] = {"state": state, "deprovisioned_at": deprovisioned, "deletion_due_at": due}
    return plans


def cases_insert(tenant, leavers: dict[int, dict], people: dict[int, dict], reviewer, burst) -> None:
    """The leavers' cases, with their steps (done) and the audit history a case page shows."""
    from directory.models import AuditEvent, DeprovisionAction
    from lifecycle.models import CaseStep, OffboardingCase

    rng = random.Random(f"{tenant.slug}-cases")
    cases = []
    for i, plan in leavers.items():
        person, state, when = people[i], plan["state"], plan["deprovisioned_at"]
        case = OffboardingCase(
            tenant=tenant,
            user_id=person["id"],
            subject_id=person["id"],
            trigger="deactivate",
            action=DeprovisionAction.DELETE_AFTER_GRACE if state == "suspended" else tenant.on_deactivate,
            state=state,
            opened_by=rng.choice(("token okta-production", "token entra-sync", "admin it-ops")),
            deprovisioned_at=when,
            access_ended_at=when,
            deletion_due_at=plan["deletion_due_at"],
            steps_enqueued_at=when,
            steps_finished_at=when + timedelta(minutes=2),
            data_successor_id=person["manager_id"],
            review_notified_at=when if state != "suspended" else None,
            flaps=1 if rng.random() < 0.02 else 0,
        )
        if state == "approved":
            case.approved_at = when + timedelta(days=rng.uniform(0, 1))
        elif state == "on_hold":
            case.resume_state, case.held_at, case.held_by = (
                "pending_review",
                when + timedelta(days=1),
                reviewer,
            )
            case.hold_reason = f"Litigation hold, matter {rng.randrange(1000, 9999)}"
        elif state == "quarantined":
            case.resume_state, case.burst = "suspended", burst
        cases.append(case)
    OffboardingCase.objects.bulk_create(cases, batch_size=2000)
    CaseStep.objects.bulk_create(
        (
            CaseStep(
                case=case,
                name=name,
                position=position,
                status="done",
                attempts=1,
                enqueued_at=case.steps_enqueued_at,
                finished_at=case.steps_finished_at,
            )
            for case in cases
            for position, name in enumerate(STEPS)
        ),
        batch_size=5000,
    )
    names = {person["id"]: person["user_name"] for person in people.values()}
    events = []
    for case in cases:
        person = {
            "tenant": tenant,
            "target_type": "user",
            "target_id": str(case.subject_id),
            "target_label": names[case.user_id],
        }
        idp = {"actor_type": "token", "actor_label": case.opened_by, **person}
        when = case.deprovisioned_at
        events += [
            AuditEvent(occurred_at=when - timedelta(days=700), action="user.created", **idp),
            AuditEvent(
                occurred_at=when,
                action="user.updated",
                changes={"active": {"before": True, "after": False}},
                **idp,
            ),
            AuditEvent(
                occurred_at=when,
                action="offboarding.opened",
                changes={"case": case.pk, "state": {"before": None, "after": "suspended"}},
                **idp,
            ),
        ]
        if case.state != "suspended":
            events.append(
                AuditEvent(
                    occurred_at=when,
                    action="offboarding.review_requested",
                    actor_type="system",
                    actor_label="lifecycle",
                    changes={"case": case.pk, "state": {"before": "suspended", "after": "pending_review"}},
                    **person,
                )
            )
    AuditEvent.objects.bulk_create(events, batch_size=5000)


def vacuum() -> None:
    """VACUUM ANALYZE what the seeding wrote, as autovacuum would where it runs (serve.py says why:
    without statistics the planner takes a 100,000-row table for an empty one)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "directory_user",
            "directory_uservalue",
            "directory_group",
            "directory_membership",
            "directory_auditevent",
            "lifecycle_offboardingcase",
            "lifecycle_casestep",
            "lifecycle_burst",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def site_for(tenant, cases: int, label: str) -> Site:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from lifecycle.hr.selectors import PAGE_SIZE, PENDING_STATES
    from lifecycle.models import OffboardingCase

    client = Client()
    client.force_login(get_user_model().objects.get(username=f"{tenant.slug}-reviewer"))
    open_cases = OffboardingCase.objects.filter(tenant=tenant, state__in=PENDING_STATES)
    ids = list(open_cases.order_by("?").values_list("pk", flat=True)[:200])
    return Site(label, cases, client, ids, deep_page=max(1, cases // PAGE_SIZE // 2))


# --- measuring -----------------------------------------------------------------------------------


def request(site: Site, kind: str) -> tuple[float, int, float, int, str]:
    """One request: wall ms, statements, ms in SQL, rows listed, the path."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = site.path(kind)
    # The context keeps Django's request_started from emptying the log, so nothing else does: left
    # to fill (9,000 statements), it would capture none.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = site.client.get(path, secure=True)
        took = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{site.label} {path}: {response.status_code} {response.content[:400]!r}")
    sql = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    rows = response.content.count(site.row_marker)
    return took, len(queries.captured_queries), sql, rows, path


def measure(sites: list[Site], rounds: int, requests: int) -> dict:
    kinds = sites[0].kinds
    samples = {(kind, s.label): {"ms": [], "sql": [], "queries": [], "rows": [], "round_p50": []}
               for kind in kinds for s in sites}  # fmt: skip
    for round_ in range(rounds):
        for kind in kinds:
            for site in sites if round_ % 2 == 0 else sites[::-1]:
                for _ in range(WARMUP):
                    request(site, kind)
                cell, times = samples[kind, site.label], []
                for _ in range(requests):
                    took, queries, sql, rows, _path = request(site, kind)
                    times.append(took)
                    cell["sql"].append(sql)
                    cell["queries"].append(queries)
                    cell["rows"].append(rows)
                cell["ms"] += times
                cell["round_p50"].append(statistics.median(times))
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def span(values: list[int]) -> str:
    return str(min(values)) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def summarise(samples: dict, sites: list[Site]) -> dict:
    large, small = sites
    rows = {}
    for kind in large.kinds:
        row: dict = {}
        for site in sites:
            cell = samples[kind, site.label]
            row[site.label] = {
                "p50_ms": round(statistics.median(cell["ms"]), 1),
                "p90_ms": round(p90(cell["ms"]), 1),
                "sql_p50_ms": round(statistics.median(cell["sql"]), 1),
                "queries": sorted(set(cell["queries"])),
                "rows_p50": statistics.median(cell["rows"]),
                "round_p50_ms": [round(v, 1) for v in cell["round_p50"]],
            }
        ratios = [
            a / b
            for a, b in zip(
                samples[kind, large.label]["round_p50"], samples[kind, small.label]["round_p50"], strict=True
            )
        ]
        row["ratio"] = round(statistics.median(ratios), 2)
        row["ratio_rounds"] = [round(min(ratios), 2), round(max(ratios), 2)]
        row["bounded"] = row[large.label]["queries"] == row[small.label]["queries"]
        rows[kind] = row
    return rows


def table(rows: dict, sites: list[Site], args, *, title: str = "", sizes: tuple[str, str] = ("", "")) -> str:
    """The results as a markdown table; ``title`` and ``sizes`` (the column groups) default to the
    HR screen's."""
    large, small = sites
    columns = "p50 ms | p90 ms | SQL ms | queries | rows"
    title = title or f"HR screen: {args.users:,} users per tenant"
    sizes = (sizes[0] or f"{large.cases:,} cases", sizes[1] or f"{small.cases:,} cases")
    lines = [
        f"{title}; {args.rounds} alternating rounds x {args.requests}"
        " requests per kind and size (one process, test client)",
        "",
        f"| request | {sizes[0]}: {columns} | {sizes[1]}: {columns} | p50 ratio (rounds) | bounded |",
        "| --- |" + " ---: |" * 11 + " --- |",
    ]
    for kind, row in rows.items():
        cells = []
        for site in sites:
            c = row[site.label]
            queries = "/".join(str(q) for q in c["queries"])
            numbers = (f"{c['p50_ms']:.1f}", f"{c['p90_ms']:.1f}", f"{c['sql_p50_ms']:.1f}", queries)
            cells.append(" | ".join((*numbers, f"{c['rows_p50']:g}")))
        name = f"{kind} (page {large.deep_page} / {small.deep_page})" if kind == "deep page" else kind
        low, high = row["ratio_rounds"]
        bounded = "yes" if row["bounded"] else "**no**"
        lines.append(
            f"| {name} | {cells[0]} | {cells[1]} | {row['ratio']:.2f} ({low:.2f}-{high:.2f}) | {bounded} |"
        )
    return "\n".join(lines)


def explain(site: Site, kind: str, threshold_ms: float) -> list[dict]:
    """EXPLAIN ANALYZE of every SELECT one request of ``kind`` ran; the plan of those slower than
    ``threshold_ms`` printed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = site.path(kind)
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        site.client.get(path, secure=True)
    found = []
    print(f"\n--- {kind}: {path} ({len(queries.captured_queries)} statements)")
    with connection.cursor() as cursor:
        for n, query in enumerate(queries.captured_queries, 1):
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                print(f"  {n:2}. {float(query['time']) * 1000:6.2f} ms  {sql[:110]}")
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = [r[0] for r in cursor.fetchall()]
            took = float(plan[-1].split(":")[1].split()[0])
            found.append({"statement": n, "execution_ms": took, "sql": sql, "plan": plan})
            print(f"  {n:2}. {took:6.2f} ms  {sql[:110]}")
            if took >= threshold_ms:
                print("\n".join("        " + line for line in plan))
    return found


def django_ready() -> None:
    """Production's settings on DATABASE_URL (default: the seeded roster_hrbench, shared with
    benchmarks/console.py), created and migrated, with the static files the pages name."""
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster_hrbench")
    os.environ.update(environment(Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark")))
    os.environ["ALLOWED_HOSTS"] += ",testserver"
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages name hashed files


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="users in each tenant")
    parser.add_argument(
        "--cases", type=int, default=10_000, help="open cases at the large size (a tenth at the small)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians over them")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per kind, size and round")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE each statement at the large size"
    )
    parser.add_argument(
        "--explain-ms", type=float, default=5.0, help="print the plans of statements this slow"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "benchmark" / "results", help="results folder"
    )
    args = parser.parse_args()

    django_ready()
    small_cases = max(1, args.cases // 10)
    sites = [
        site_for(tenant_seeded(f"bench-hr-{args.users}-{n}", args.users, n), n, f"{n} cases")
        for n in (args.cases, small_cases)
    ]
    started = datetime.now(UTC)
    samples = measure(sites, args.rounds, args.requests)
    rows = summarise(samples, sites)
    text = table(rows, sites, args)
    list_p50 = rows["list"][sites[0].label]["p50_ms"]
    met = list_p50 <= TARGET_MS
    bounded = all(row["bounded"] for row in rows.values())
    verdict = [
        f"target /hr/ p50 <= {TARGET_MS:.0f} ms at {args.cases:,} cases: "
        f"{'met' if met else 'NOT MET'} ({list_p50:.1f} ms)",
        f"queries the same at {args.cases:,} and {small_cases:,} cases for every request: "
        + ("yes" if bounded else "NO: " + ", ".join(k for k, r in rows.items() if not r["bounded"])),
    ]
    print("\n" + text + "\n\n" + "\n".join(verdict))
    plans = {}
    if args.explain:
        plans = {kind: explain(sites[0], kind, args.explain_ms) for kind in KINDS}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}-hr-{args.cases}"
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "commit": commit(),
        "command": " ".join(["python", "benchmarks/hr.py", *sys.argv[1:]]),
        "users": args.users,
        "cases": [args.cases, small_cases],
        "rounds": args.rounds,
        "requests": args.requests,
        "load_1min": os.getloadavg()[0],
    }
    result = {
        "meta": meta,
        "requests": rows,
        "target": {"list_p50_ms": list_p50, "limit_ms": TARGET_MS, "met": met, "queries_bounded": bounded},
        "explain": plans,
    }
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written: {stem}.json")


if __name__ == "__main__":
    main()
