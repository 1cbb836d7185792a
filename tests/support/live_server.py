"""A real Roster web server for tests: gunicorn in a child process, on the test database."""

import sys
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
