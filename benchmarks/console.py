#!/usr/bin/env python3
"""The administrators' users console at scale, on PostgreSQL (issue 21's speed target: the users
list, a user search and a user's page at 100,000 users each answer with a p50 within 200 ms, in a
number of queries that does not grow with the directory).

Two tenants, of ``--users`` users and of a tenth as many, seeded as benchmarks/hr.py seeds them
(names, emails, departments as groups, managers, a few open cases: the same database,
roster_hrbench, and the same tenants when the sizes match). Signed in as a superuser (Django's
test client, ``force_login``, no HTTP), in alternating rounds, against each tenant:

``list``         ``/admin/directory/user/?tenant__id__exact=<it>``: the first page
``search``       ``...&q=<part of a family name>``
``email``        ``...&q=<a user's email address>``
``department``   ``...&department=<one>&state__exact=active``
``user``         ``/admin/directory/user/<id>/change/``: one user's page (SCIM document, groups,
                 cases, timeline)
``group``        ``/admin/directory/group/<its largest department>/change/``: its first members
``dashboard``    ``/admin/dashboard/`` (of every tenant: the same page at both sizes)

    python benchmarks/console.py [--users 100000] [--rounds 5] [--requests 20]

Results go to var/benchmark/results/<time>-console-<users>.json. Medians and the ratio of medians
(large over small, the median of the rounds' own ratios) are what to compare: the machine is shared.
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.dataset import FAMILY_NAMES
from benchmarks.harness import commit, machine
from benchmarks.hr import (
    SEARCHED_DEPARTMENTS,
    Site,
    django_ready,
    measure,
    summarise,
    table,
    tenant_seeded,
)
from benchmarks.serve import ROOT, reexec_in_venv

TARGET_MS = 200.0
KINDS = ("list", "search", "email", "department", "user", "group", "dashboard")
TARGETED = ("list", "search", "user")  # what the issue names


@dataclass
class ConsoleSite(Site):
    tenant_id: int = 0
    user_ids: tuple = ()
    emails: tuple = ()
    group_id: str = ""

    def path(self, kind: str) -> str:
        n = next(self.counter)
        users = f"/admin/directory/user/?tenant__id__exact={self.tenant_id}"
        if kind == "list":
            return users
        if kind == "search":
            return f"{users}&q={FAMILY_NAMES[n % len(FAMILY_NAMES)][:4].lower()}"
        if kind == "email":
            return f"{users}&q={self.emails[n % len(self.emails)]}"
        if kind == "department":
            department = SEARCHED_DEPARTMENTS[n % len(SEARCHED_DEPARTMENTS)]
            return f"{users}&department={department}&state__exact=active"
        if kind == "user":
            return f"/admin/directory/user/{self.user_ids[n % len(self.user_ids)]}/change/"
        if kind == "group":
            return f"/admin/directory/group/{self.group_id}/change/"
        return "/admin/dashboard/"


def console_site(tenant, users: int, client) -> ConsoleSite:
    from directory.models import Group, User
    from django.db.models import Count

    picked = list(User.objects.filter(tenant=tenant).order_by("?").values_list("pk", "user_name")[:200])
    largest = (
        Group.objects.filter(tenant=tenant)
        .annotate(n=Count("memberships"))
        .order_by("-n")
        .values_list("pk", flat=True)
    )[0]
    return ConsoleSite(
        label=f"{users:,} users",
        cases=0,
        client=client,
        case_ids=[],
        deep_page=0,
        kinds=KINDS,
        row_marker=b'class="action-select"',
        tenant_id=tenant.pk,
        user_ids=tuple(pk for pk, _ in picked),
        emails=tuple(name for _, name in picked),
        group_id=str(largest),
    )


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users", type=int, default=100_000, help="users in the large tenant (a tenth in the small)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians over them")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per kind, size and round")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "benchmark" / "results", help="results folder"
    )
    args = parser.parse_args()
    django_ready()
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-console-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    sizes = (args.users, max(1, args.users // 10))
    sites = [console_site(tenant_seeded(f"bench-console-{n}", n, max(1, n // 100)), n, client) for n in sizes]
    started = datetime.now(UTC)
    samples = measure(sites, args.rounds, args.requests)
    rows = summarise(samples, sites)
    text = table(rows, sites, args, title="Users console", sizes=(sites[0].label, sites[1].label))
    verdicts = []
    for kind in TARGETED:
        p50 = rows[kind][sites[0].label]["p50_ms"]
        met = "met" if p50 <= TARGET_MS else "NOT MET"
        verdicts.append(f"{kind} p50 <= {TARGET_MS:.0f} ms at {sizes[0]:,} users: {met} ({p50:.1f} ms)")
    unbounded = [k for k, r in rows.items() if not r["bounded"]]
    verdicts.append(
        "queries the same at both sizes: " + ("yes" if not unbounded else "NO: " + ", ".join(unbounded))
    )
    print("\n" + text + "\n\n" + "\n".join(verdicts))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}-console-{args.users}"
    result = {
        "meta": {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "commit": commit(),
            "command": " ".join(["python", "benchmarks/console.py", *sys.argv[1:]]),
            "users": list(sizes),
            "rounds": args.rounds,
            "requests": args.requests,
            "load_1min": os.getloadavg()[0],
        },
        "requests": rows,
        "verdicts": verdicts,
    }
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written: {stem}.json")


if __name__ == "__main__":
    main()
