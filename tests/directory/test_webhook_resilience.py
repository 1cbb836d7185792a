"""Webhook delivery through real Celery workers and a real broker (issue 22): the receiver down for
a while, a worker killed in the middle of a delivery, and the broker restarted (its messages lost).
Every event still arrives, at least once, in order, with the same webhook-id on every retry."""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from threading import Event as Flag

import pytest

from directory.models import Event
from directory.services.audit import Actor
from directory.services.events import event_public_id
from directory.services.tokens import token_create
from directory.services.webhooks import webhook_endpoint_create
from directory.tasks import events_sweep
from tests.support.processes import broker_at, celery_worker, wait_until
from tests.support.receiver import receiver_start

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("tests")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_on(port: int):
    """A Redis of the test's own, keeping nothing on disk: stopping it loses its messages."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(port), timeout=10, interval=0.05)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_receiver_down_worker_killed_broker_restarted_every_event_arrives_in_order(tenant):
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    env = {
        "CELERY_BROKER_URL": broker,
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "WEBHOOK_LEASE_SECONDS": "2",
        "WEBHOOK_RETRY_SCHEDULE": "0.5",
    }
    receiver, server = receiver_start()
    receiver.status = 503  # down
    webhook_endpoint_create(tenant=tenant, url=receiver.url, event_types=[], format="standard", actor=ACTOR)
    try:
        with redis_on(port), broker_at(broker), celery_worker(env, purge=False) as worker:
            for n in range(5):
                token_create(tenant=tenant, name=f"first{n}", actor=ACTOR)
            wait_until(lambda: len(receiver.received) >= 3, timeout=60)  # refused, retried
            receiver.hold = Flag()
            receiver.hold.set()
            receiver.status = 200  # back, but the next answer is held until the worker is gone
            wait_until(receiver.holding.is_set, timeout=60)
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
        receiver.hold.clear()
        # The broker is gone and comes back empty: whatever it held is lost.
        with redis_on(port), broker_at(broker):
            for n in range(5):
                token_create(tenant=tenant, name=f"second{n}", actor=ACTOR)
            with celery_worker(env, purge=False):

                def all_accepted() -> bool:
                    events_sweep.delay()  # as beat does every few seconds
                    time.sleep(0.5)
                    accepted = {r.headers["webhook-id"] for r in receiver.received if r.status == 200}
                    published = {event_public_id(e) for e in Event.objects.filter(tenant=tenant)}
                    return len(published) == 10 and accepted >= published

                wait_until(all_accepted, timeout=90, interval=0.1)
    finally:
        server.shutdown()
    expected = [event_public_id(e) for e in Event.objects.filter(tenant=tenant).order_by("pk")]
    assert len(expected) == 10
    got = receiver.ids()
    firsts = list(dict.fromkeys(got))
    assert firsts == expected  # every event, first seen in commit order
    accepted = [r.headers["webhook-id"] for r in receiver.received if r.status == 200]
    assert list(dict.fromkeys(accepted)) == expected  # and accepted in that order
    assert len(got) > len(expected)  # some were sent more than once: the retries
    bodies: dict[str, set[bytes]] = {}
    for r in receiver.received:
        bodies.setdefault(r.headers["webhook-id"], set()).add(r.body)
    assert all(len(b) == 1 for b in bodies.values())  # a retry is the same event, byte for byte
