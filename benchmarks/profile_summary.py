#!/usr/bin/env python3
"""Summarise a py-spy profile of a gunicorn worker: where a request's wall time goes.

    py-spy record --pid <worker pid> --idle --rate 200 --duration 15 --format raw -o prof.txt
    python benchmarks/profile_summary.py prof.txt [--top 25] [--under handle_request]

Only samples inside request handling count (stacks through ``--under``, gunicorn's
``handle_request`` by default), so time a worker spends waiting for the next connection is left
out, and with ``--idle`` the time spent waiting on PostgreSQL is kept in. Prints the share of
request time spent inside each function (inclusive), for the project's own code and for the
libraries' entry points that matter (SQL execution, JSON, DRF, Django), and the top self-time
frames.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
OWN = ("/directory/", "/scim_api/", "/lifecycle/", "/benchmarks/")
DB_MARKERS = ("psycopg/cursor.py", "psycopg/connection.py", "psycopg/client_cursor.py")


def parse(path: Path, under: str) -> tuple[list[tuple[list[str], int]], int]:
    stacks, total = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        frames_text, _, count = line.rpartition(" ")
        frames = frames_text.split(";")
        if not any(under in f for f in frames):
            continue
        n = int(count)
        total += n
        stacks.append((frames, n))
    return stacks, total


def label(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['func']} ({file})"


def is_own(name: str) -> bool:
    return any(f"({o.strip('/')}/" in name for o in OWN)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--under", default="handle_request")
    parser.add_argument("--grep", default=None, help="only functions whose label contains this")
    args = parser.parse_args()
    stacks, total = parse(args.profile, args.under)
    if not total:
        print("no samples inside request handling", file=sys.stderr)
        return 1
    inclusive: Counter = Counter()
    own_self: Counter = Counter()
    database: Counter = Counter()  # deepest project frame of stacks waiting on the database
    for frames, n in stacks:
        if any(marker in f for f in frames for marker in DB_MARKERS):
            own = [label(f) for f in frames if is_own(label(f))]
            database[own[-1] if own else "(no project frame)"] += n
        seen = set()
        for frame in frames:
            name = label(frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
        own_self[label(frames[-1])] += n

    def show(title: str, counter: Counter, keep) -> None:
        print(f"\n{title}")
        shown = 0
        for name, n in counter.most_common():
            if keep(name) and (args.grep is None or args.grep in name):
                print(f"  {100 * n / total:5.1f}%  {name}")
                shown += 1
                if shown >= args.top:
                    break

    print(f"{total} samples inside {args.under}")
    show("inclusive, project code:", inclusive, is_own)
    interesting = ("execute", "psycopg", "json", "rest_framework", "django/", "lark", "scim2_models", "hash")
    show("inclusive, libraries:", inclusive, lambda name: any(k in name for k in interesting))
    share = 100 * sum(database.values()) / total
    print(f"\nwaiting on the database (psycopg execute/wait): {share:.1f}%, by deepest project frame:")
    for name, n in database.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    show("self time:", own_self, lambda name: True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
