"""A real Roster web server for tests: gunicorn in a child process, on the test database."""

import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.processes import free_port, http_status, running, test_database_env, wait_until


@contextmanager
def live_server(workers: int = 2, timeout: float = 60, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve Roster with gunicorn on a free port and yield its base URL (``http://127.0.0.1:PORT``).

    The server reads the test database, so it sees only what the test committed: use
    ``django_db(transaction=True)``. ``env`` adds to its environment. If the body fails, the tail
    of the server's output (Django's tracebacks of 500s among it) is printed, for pytest to show.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "directory.wsgi"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    with running(
        command, {**test_database_env(), **(env or {})}, ready="Listening at:", timeout=timeout
    ) as output:
        try:
            wait_until(lambda: http_status(f"{base}/admin/login/") == 200, timeout=timeout)
            yield base
        except BaseException:
            # 404s are routine (tests probe for them) and would push the tracebacks out of the tail.
            lines = [line for line in output.lines if "Not Found: " not in line]
            print(f"--- live server output, 404s left out (tail) ---\n{''.join(lines)[-8000:]}")
            raise


@contextmanager
def live_servers(count: int, **kwargs) -> Iterator[list[str]]:
    """``count`` servers as ``live_server(**kwargs)`` serves one, started and stopped side by side
    (each takes seconds to boot and to stop); yields their base URLs."""
    stop = threading.Event()
    started: queue.Queue[str | BaseException] = queue.Queue()

    def serve() -> None:
        try:
            with live_server(**kwargs) as base:
                started.put(base)
                stop.wait()
        except BaseException as error:
            started.put(error)

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        results = [started.get() for _ in threads]
        for result in results:
            if isinstance(result, BaseException):
                raise result
        yield [result for result in results if isinstance(result, str)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
