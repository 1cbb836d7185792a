"""Seeding the benchmark directory through the SCIM API, and finding what an earlier run seeded.

Users go in through POST /Bulk in batches when /ServiceProviderConfig says bulk is supported, else
through concurrent POST /Users. Whatever is already there is counted first (a filter on the data
set's externalIds and its totalResults) and skipped, so a second run costs a few requests, and a
run at 100,000 users after one at 10,000 adds the other 90,000. Groups are filled by PATCH in
batches of members; how far a group is filled is kept in its externalId.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from benchmarks.client import HttpClient, Response, describe
from benchmarks.dataset import BULK_REQUEST, GROUP_SCHEMA, GROUP_SIZES, PATCH_OP, SPARE_USERS, Dataset

RETRY_STATUSES = {429, 503}
MEMBER_BATCH = 1000  # members per PATCH when filling a group


@dataclass
class ServerInfo:
    bulk_supported: bool = False
    bulk_max_operations: int = 0
    bulk_max_payload: int = 0
    max_results: int = 1000
    raw: dict = field(default_factory=dict)

    @classmethod
    def discover(cls, client: HttpClient) -> ServerInfo:
        response = client.get("/ServiceProviderConfig")
        if not response.ok:
            print(f"[seed] GET /ServiceProviderConfig answered {describe(response)}; assuming no bulk")
            return cls()
        doc = response.json() or {}
        bulk = doc.get("bulk") or {}
        filters = doc.get("filter") or {}
        return cls(
            bulk_supported=bool(bulk.get("supported")),
            bulk_max_operations=int(bulk.get("maxOperations") or 0),
            bulk_max_payload=int(bulk.get("maxPayloadSize") or 0),
            max_results=int(filters.get("maxResults") or 1000),
            raw=doc,
        )


@dataclass
class SeedReport:
    what: str
    method: str  # "bulk", "post" or "skipped"
    wanted: int
    created: int = 0
    existed: int = 0
    seconds: float = 0.0
    errors: Counter = field(default_factory=Counter)

    @property
    def per_second(self) -> float | None:
        return self.created / self.seconds if self.created and self.seconds else None

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "method": self.method,
            "wanted": self.wanted,
            "created": self.created,
            "existed": self.existed,
            "seconds": round(self.seconds, 2),
            "per_second": round(self.per_second, 1) if self.per_second else None,
            "errors": dict(self.errors),
        }


class Progress:
    def __init__(self, label: str, total: int, every: float = 5.0):
        self.label, self.total, self.every = label, total, every
        self.started = self.last = time.monotonic()
        self.done = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self.last >= self.every:
                self.last = now
                rate = self.done / (now - self.started)
                print(f"[seed] {self.label}: {self.done:,}/{self.total:,} ({rate:,.0f}/s)", flush=True)


def in_parallel(
    new_client: Callable[[], HttpClient],
    items: Iterable,
    work: Callable[[HttpClient, Any], Any],
    threads: int,
) -> Iterator:
    """``work(client, item)`` for each item on ``threads`` threads, each with its own connection."""
    local = threading.local()
    clients: list[HttpClient] = []

    def task(item):
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = new_client()
            clients.append(client)
        return work(client, item)

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            yield from pool.map(task, items)
    finally:
        for client in clients:
            client.close()


def with_retries(send: Callable[[], Response], attempts: int = 20) -> Response:
    """Send until the answer is not 429/503 (then wait as Retry-After says) or attempts run out."""
    for _ in range(attempts - 1):
        response = send()
        if response.status not in RETRY_STATUSES:
            return response
        try:
            wait = float(response.headers.get("retry-after", "1"))
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.1), 30))
    return send()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _id_from(response_doc: Any, location: str | None) -> str | None:
    if isinstance(response_doc, dict) and response_doc.get("id"):
        return str(response_doc["id"])
    if location:
        return location.rstrip("/").rsplit("/", 1)[-1]
    return None


class Seeder:
    def __init__(
        self,
        new_client: Callable[[], HttpClient],
        dataset: Dataset,
        info: ServerInfo,
        concurrency: int = 4,
        bulk_batch: int = 500,
        use_bulk: bool = True,
    ):
        self.new_client = new_client
        self.client = new_client()
        self.dataset = dataset
        self.info = info
        self.concurrency = concurrency
        self.bulk_batch = bulk_batch
        self.use_bulk = use_bulk and info.bulk_supported
        self.ids: dict[int, str] = {}  # data-set user index -> id, as far as known
        self.ids_complete_up_to = 0  # ids has every index below this

    # Reading what is there -------------------------------------------------------------------------

    def count(self, endpoint: str, filter_text: str) -> int:
        response = with_retries(lambda: self.client.get(endpoint, filter=filter_text, count=0))
        if not response.ok:
            raise SystemExit(f"GET {endpoint}?filter={filter_text} answered {describe(response)}")
        return int(response.json().get("totalResults", 0))

    def list_ids(self, filter_text: str, attributes: str = "externalId") -> dict[str, str]:
        """externalId -> id of every user the filter matches, page by page."""
        found: dict[str, str] = {}
        page, start = min(1000, self.info.max_results or 1000), 1
        while True:
            response = with_retries(
                lambda start=start: self.client.get(
                    "/Users", filter=filter_text, attributes=attributes, startIndex=start, count=page
                )
            )
            if not response.ok:
                raise SystemExit(f"listing users ({filter_text}) answered {describe(response)}")
            doc = response.json()
            resources = doc.get("Resources") or []
            for resource in resources:
                found[resource.get("externalId")] = resource["id"]
            start += len(resources)
            if not resources or start > int(doc.get("totalResults", 0)):
                return found

    def load_user_ids(self) -> None:
        listed = self.list_ids(self.dataset.user_prefix_filter())
        for external_id, pk in listed.items():
            index = self.dataset.user_index(external_id)
            if index is not None:
                self.ids[index] = pk
        n = 0
        while n in self.ids:
            n += 1
        self.ids_complete_up_to = n

    def sample_ids(self, users: int, size: int, rng: random.Random) -> list[tuple[int, str]]:
        """Up to ``size`` (index, id) pairs of data-set users below ``users``, spread at random."""
        known = [(i, pk) for i, pk in self.ids.items() if i < users]
        if len(known) >= min(size, users):
            return rng.sample(known, min(size, len(known)))
        # Random pages of the listing: enough spread for the scenarios, without listing it all.
        page = min(1000, self.info.max_results or 1000)
        total = self.count("/Users", self.dataset.user_prefix_filter())
        found: dict[int, str] = {}
        starts = list(range(1, max(total, 1) + 1, page))
        rng.shuffle(starts)
        for start in starts:
            if len(found) >= size:
                break
            response = with_retries(
                lambda start=start: self.client.get(
                    "/Users",
                    filter=self.dataset.user_prefix_filter(),
                    attributes="externalId",
                    startIndex=start,
                    count=page,
                )
            )
            if not response.ok:
                raise SystemExit(f"sampling users answered {describe(response)}")
            for resource in response.json().get("Resources") or []:
                index = self.dataset.user_index(resource.get("externalId"))
                if index is not None and index < users:
                    found[index] = resource["id"]
        return list(found.items())[:size]

    # Users -------------------------------------------------------------------------------------------

    def seed_users(self, users: int) -> SeedReport:
        existing = self.count("/Users", self.dataset.user_prefix_filter())
        report = SeedReport("users", "skipped", wanted=users, existed=min(existing, users))
        if existing >= users:
            print(f"[seed] {existing:,} data-set users already there (wanted {users:,}): skipping")
            return report
        if existing:
            print(f"[seed] {existing:,} data-set users there; listing them to find the missing ones")
            self.load_user_ids()
        missing = [i for i in range(users) if i not in self.ids]
        report.method = "bulk" if self.use_bulk else "post"
        how = "POST /Bulk" if self.use_bulk else f"concurrent POST /Users ({self.concurrency} threads)"
        print(f"[seed] creating {len(missing):,} users through {how}", flush=True)
        progress = Progress("users", len(missing))
        started = time.perf_counter()
        if self.use_bulk:
            self._bulk_create(missing, report, progress)
        else:
            self._post_create(missing, report, progress)
        report.seconds = time.perf_counter() - started
        if report.existed > existing:
            # 409s: created by an earlier interrupted run after all; their ids come from a listing.
            self.load_user_ids()
        n = self.ids_complete_up_to
        while n in self.ids:
            n += 1
        self.ids_complete_up_to = n
        rate = f"{report.per_second:,.0f} users/s" if report.per_second else "n/a"
        print(
            f"[seed] users: {report.created:,} created, {report.existed:,} existed, "
            f"{sum(report.errors.values()):,} errors {dict(report.errors)} "
            f"in {report.seconds:,.1f} s: {rate}",
            flush=True,
        )
        return report

    def _post_create(self, indices: list[int], report: SeedReport, progress: Progress) -> None:
        lock = threading.Lock()

        def work(client: HttpClient, batch: list[int]) -> None:
            for i in batch:
                response = with_retries(lambda i=i: client.post("/Users", self.dataset.user(i)))
                with lock:
                    if response.status == 201 or response.ok:
                        report.created += 1
                        pk = _id_from(response.json(), response.headers.get("location"))
                        if pk:
                            self.ids[i] = pk
                    elif response.status == 409:
                        report.existed += 1
                    else:
                        report.errors[str(response.status)] += 1
                        if sum(report.errors.values()) <= 3:
                            print(f"[seed] POST /Users for user {i}: {describe(response)}")
            progress.add(len(batch))

        for _ in in_parallel(self.new_client, _chunks(indices, 50), work, self.concurrency):
            pass

    def _bulk_size(self) -> int:
        size = self.bulk_batch
        if self.info.bulk_max_operations:
            size = min(size, self.info.bulk_max_operations)
        if self.info.bulk_max_payload:
            one = len(
                json.dumps(
                    {"method": "POST", "path": "/Users", "bulkId": "u0000000", "data": self.dataset.user(0)}
                )
            )
            size = min(size, max(1, int(self.info.bulk_max_payload * 0.8) // (one + 40)))
        return max(1, size)

    def _bulk_create(self, indices: list[int], report: SeedReport, progress: Progress) -> None:
        lock = threading.Lock()
        size = self._bulk_size()

        def send(client: HttpClient, batch: list[int]) -> None:
            operations = [
                {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": self.dataset.user(i)}
                for i in batch
            ]
            body = {"schemas": [BULK_REQUEST], "Operations": operations}
            response = with_retries(lambda: client.post("/Bulk", body))
            if response.status == 413 and len(batch) > 1:  # larger than the server takes: halve
                half = len(batch) // 2
                send(client, batch[:half])
                send(client, batch[half:])
                return
            if not response.ok:
                with lock:
                    report.errors[f"bulk-{response.status}"] += len(batch)
                    if sum(report.errors.values()) <= 3 * len(batch):
                        print(f"[seed] POST /Bulk: {describe(response)}")
                progress.add(len(batch))
                return
            results = (response.json() or {}).get("Operations") or []
            by_bulk_id = {op.get("bulkId"): op for op in results if isinstance(op, dict)}
            with lock:
                for i in batch:
                    op = by_bulk_id.get(f"u{i}")
                    if op is None:
                        report.errors["bulk-missing-result"] += 1
                        continue
                    status = op.get("status")
                    if isinstance(status, dict):  # an early draft's {"code": "201"}
                        status = status.get("code")
                    status = int(status) if str(status).isdigit() else str(status)
                    if status in (200, 201):
                        report.created += 1
                        pk = _id_from(op.get("response"), op.get("location"))
                        if pk:
                            self.ids[i] = pk
                    elif status == 409:
                        report.existed += 1
                    else:
                        report.errors[str(status)] += 1
                        if sum(report.errors.values()) <= 3:
                            print(f"[seed] /Bulk operation for user {i}: {status} {op.get('response')}")
            progress.add(len(batch))

        for _ in in_parallel(self.new_client, _chunks(indices, size), send, self.concurrency):
            pass

    # Spare users -------------------------------------------------------------------------------------

    def ensure_spares(self, count: int = SPARE_USERS) -> list[str]:
        listed = self.list_ids(self.dataset.spare_prefix_filter())
        missing = [k for k in range(count) if self.dataset.spare_external_id(k) not in listed]
        for k in missing:
            response = with_retries(lambda k=k: self.client.post("/Users", self.dataset.spare(k)))
            if response.ok:
                listed[self.dataset.spare_external_id(k)] = _id_from(
                    response.json(), response.headers.get("location")
                )
            elif response.status != 409:
                raise SystemExit(f"creating spare user {k}: {describe(response)}")
        if missing:
            listed = self.list_ids(self.dataset.spare_prefix_filter())
            print(f"[seed] created {len(missing)} spare users (members of no group)")
        return [listed[self.dataset.spare_external_id(k)] for k in range(count)]

    # Groups ------------------------------------------------------------------------------------------

    def find_group(self, name: str) -> dict | None:
        response = with_retries(
            lambda: self.client.get(
                "/Groups", filter=f'displayName eq "{name}"', excludedAttributes="members"
            )
        )
        if not response.ok:
            raise SystemExit(f"looking up group {name}: {describe(response)}")
        resources = response.json().get("Resources") or []
        return resources[0] if resources else None

    def ensure_groups(self, users: int, spares: list[str]) -> tuple[dict[int, dict], list[SeedReport]]:
        """Each group of GROUP_SIZES, filled with data-set users 0..min(size, users)-1; returns
        ``{size: {"id": ..., "members": n}}`` and what filling them took."""
        groups, reports = {}, []
        for size in GROUP_SIZES:
            name = self.dataset.group_name(size)
            group = self.find_group(name)
            if group is None:
                body = {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": name,
                    "externalId": self.dataset.group_external_id(size, 0),
                }
                response = with_retries(
                    lambda body=body: self.client.request(
                        "POST", "/Groups", body=body, params={"excludedAttributes": "members"}
                    )
                )
                if not response.ok:
                    raise SystemExit(f"creating group {name}: {describe(response)}")
                group = response.json()
            filled = self.dataset.filled_from_external_id(group.get("externalId"))
            target = min(size, users)
            report = SeedReport(
                f"group {name} members", "skipped", wanted=target, existed=min(filled, target)
            )
            if filled < target:
                report.method = "patch"
                started = time.perf_counter()
                report.created = self._fill_group(group["id"], size, filled, target)
                report.seconds = time.perf_counter() - started
                filled = target
            groups[size] = {"id": group["id"], "members": filled}
            reports.append(report)
            self.remove_spares(group["id"], spares)
        return groups, reports

    def _fill_group(self, group_id: str, size: int, filled: int, target: int) -> int:
        if self.ids_complete_up_to < target:
            self.load_user_ids()
        if self.ids_complete_up_to < target:
            raise SystemExit(
                f"only users 0..{self.ids_complete_up_to - 1} of the data set are there; "
                f"cannot fill a group to {target}"
            )
        print(
            f"[seed] adding members {filled:,}..{target - 1:,} to {self.dataset.group_name(size)}", flush=True
        )
        progress = Progress(f"members of {self.dataset.group_name(size)}", target - filled)
        added = 0
        for start in range(filled, target, MEMBER_BATCH):
            end = min(start + MEMBER_BATCH, target)
            body = {
                "schemas": [PATCH_OP],
                "Operations": [
                    {
                        "op": "add",
                        "path": "members",
                        "value": [{"value": self.ids[i]} for i in range(start, end)],
                    },
                    # In the same PATCH, so an interrupted fill resumes where it stopped.
                    {
                        "op": "replace",
                        "path": "externalId",
                        "value": self.dataset.group_external_id(size, end),
                    },
                ],
            }
            response = with_retries(
                lambda body=body: self.client.patch(f"/Groups/{group_id}", body, excludedAttributes="members")
            )
            if not response.ok:
                raise SystemExit(f"adding members to group {group_id}: {describe(response)}")
            added += end - start
            progress.add(end - start)
        return added

    def remove_spares(self, group_id: str, spares: list[str]) -> Response:
        """Take the spare users out of a group (an interrupted run may have left some in)."""
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{pk}"]'} for pk in spares],
        }
        response = with_retries(
            lambda: self.client.patch(f"/Groups/{group_id}", body, excludedAttributes="members")
        )
        if not response.ok:
            print(f"[seed] removing spare users from group {group_id}: {describe(response)}")
        return response
