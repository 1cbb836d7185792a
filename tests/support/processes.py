"""Real processes for tests: a Celery worker on the test database, free ports, readiness waits."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_env() -> dict[str, str]:
    """Environment that points a child process at the test database pytest-django made."""
    return {**os.environ, "DATABASE_NAME": str(connection.settings_dict["NAME"])}


class OutputWatcher:
    """Collects a process's output lines on a thread, so tests can wait for one."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process):
        for line in process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    return line
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} not seen within {timeout}s. Output:\n{''.join(self.lines)[-4000:]}")

    @property
    def text(self) -> str:
        return "".join(self.lines)


@contextmanager
def running(
    command: list[str], env: dict[str, str], ready: str, timeout: float = 60
) -> Iterator[OutputWatcher]:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watcher = OutputWatcher(process)
    try:
        watcher.wait_for(ready, timeout)
        yield watcher
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def celery_worker(
    env: dict[str, str] | None = None, *, purge: bool = True, beat: bool = False
) -> Iterator[OutputWatcher]:
    """A real Celery worker process on the configured broker and the test database; ``env`` adds
    to its environment. ``purge``: drop what earlier runs left in the queue first. ``beat``: with
    beat embedded, on the schedule in the database (django-celery-beat)."""
    from directory.celery import app

    if purge:
        app.control.purge()  # a killed earlier run may have left messages behind
    command = [sys.executable, "-m", "celery", "-A", "directory", "worker", "--pool=solo", "--loglevel=INFO"]
    command += ["--without-mingle", "--without-gossip", "--without-heartbeat"] + (["--beat"] if beat else [])
    with running(command, {**test_database_env(), **(env or {})}, ready="ready.") as watcher:
        yield watcher


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """This process sends its tasks to ``url`` inside the block. Celery reads CELERY_BROKER_URL
    from the environment before its configuration (the PostgreSQL pass sets it), and keeps a pool
    per broker, which ``_after_fork`` makes it forget (as a forked process does)."""
    from directory.celery import app

    before_env, before_conf = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url

    def use(env: str | None, conf: str) -> None:
        if env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env
        app.conf.broker_url = conf
        app._after_fork()

    use(url, url)
    try:
        yield
    finally:
        use(before_env, before_conf)


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx then surfaces as an HTTPError carrying its status


def direct_opener() -> urllib.request.OpenerDirector:
    """urllib straight to the server: no proxy from the environment, no redirect followed."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http_status(url: str, timeout: float = 5) -> int | None:
    """The status a plain GET of ``url`` answers, or None while nothing answers there."""
    try:
        with direct_opener().open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def broker_kind() -> str:
    return settings.CELERY_BROKER_URL.split(":", 1)[0]
