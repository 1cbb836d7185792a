"""Real parallel work for concurrency tests: SCIM requests over HTTP to a live server from threads
released together by a barrier, and steps on threads of their own (each with its own database
connection) that hold a transaction open at a chosen point, to force an interleaving."""

import json
import threading
import time
import urllib.error
import urllib.request

from django.db import connection, connections

from tests.support.processes import direct_opener

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Api:
    """SCIM over HTTP with one bearer token, as an identity provider sends it."""

    def __init__(self, base: str, plaintext: str):
        self.base, self.plaintext = f"{base}/scim/v2", plaintext

    def __call__(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.plaintext}",
                "Content-Type": "application/scim+json",
                **(headers or {}),
            },
        )
        try:
            with direct_opener().open(request, timeout=60) as response:
                status, raw, self.last_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, self.last_headers = error.code, error.read(), error.headers
        return status, json.loads(raw) if raw else None

    def create(self, kind: str, body: dict) -> dict:
        status, created = self("POST", f"/{kind}", body)
        assert status == 201, created
        return created

    def read(self, kind: str, resource_id: str) -> dict:
        status, body = self("GET", f"/{kind}/{resource_id}")
        assert status == 200, body
        return body


def at_once(count: int, request) -> list:
    """Call ``request(i)`` for i in range(count), each on its own thread, all released together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = request(i)
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def version(resource: dict) -> int:
    return int(resource["meta"]["version"].removeprefix('W/"').removesuffix('"'))


def patch_body(*operations) -> dict:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


class Step(threading.Thread):
    """Run ``work`` on a thread of its own (its own connection); ``error`` holds what it raised."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.error = work, None
        self.start()

    def run(self):
        try:
            self.work()
        except BaseException as error:
            self.error = error
        finally:
            connections.close_all()

    def finish(self, timeout: float = 30) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the step is still waiting"
        assert self.error is None, self.error


def lock_waiters() -> int:
    """How many other PostgreSQL sessions wait for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
