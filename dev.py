#!/usr/bin/env python3
"""Set up and run Roster with nothing installed but Python 3.11+.

    python3 dev.py serve    run the web server, a Celery worker and beat (SQLite, no broker server)
    python3 dev.py test     run the whole test suite: ruff, mypy, then pytest on SQLite and PostgreSQL

Both create ./.venv and install the project into it the first time (and again when pyproject.toml
changes). The test command runs the suite against PostgreSQL at ROSTER_TEST_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/roster) with Celery on Redis at ROSTER_TEST_REDIS_URL (default
redis://127.0.0.1:6379/15). Where either is unreachable the PostgreSQL run is skipped with a
warning, except under CI=true, where that is a failure. The browser tests drive Debian's chromium,
which the test command installs (apt-get) when it is missing and it runs as root; otherwise they
are skipped with a warning, except under CI=true, where that is a failure.
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
POSTGRES_URL = os.environ.get("ROSTER_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/roster")
REDIS_URL = os.environ.get("ROSTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, which tests/support/browser.py launches


def say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def ensure_environment() -> None:
    """Create .venv and install Roster with its dev dependencies, unless already up to date."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs on whatever python3 the user has)
        sys.exit("Roster needs Python 3.11 or later.")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".installed"
    if not PYTHON.exists():
        say("creating .venv")
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing dependencies into .venv (first run only)")
        pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "--editable", f"{ROOT}[dev]"], check=True)
        stamp.write_text(wanted)


def ensure_chromium() -> str | None:
    """Install Debian's chromium for the browser tests if it is missing and we may (root, apt-get).
    None once it is there; otherwise why not."""
    if CHROMIUM.exists():
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return f"{CHROMIUM} is missing (Debian's chromium package; run as root to have it installed)"
    say("installing Debian's chromium for the browser tests (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env)  # a new machine has no package lists yet
        subprocess.run(install, env=env)
    return None if CHROMIUM.exists() else f"apt-get could not install chromium ({CHROMIUM} is missing)"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def run(command: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}).returncode


def run_passes(pytest: list[str], passes: list[tuple[str, str, dict[str, str]]]) -> list[str]:
    """Run the suite's passes at once (they share nothing: each its own database, broker, var/
    and screenshots folder; they spend much of their time waiting on workers, servers and the
    browser, so together they take little longer than the longer one): the last in the
    foreground, the others into var/<name>.log, printed once they end. The names that failed."""
    background = []
    for name, what, env in passes[:-1]:
        log = ROOT / "var" / f"test-{name.lower()}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        say(f"{what}: started, its output follows the other pass's ({log.relative_to(ROOT)})")
        handle = log.open("w")
        process = subprocess.Popen(
            pytest,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped below as a group: its workers, servers and browser too
        )
        background.append((name, what, log, handle, process))
    failed = []
    try:
        name, what, env = passes[-1]
        say(what)
        if run(pytest, env):
            failed.append(name)
        for name, what, log, handle, process in background:
            code = process.wait()
            handle.close()
            say(f"{what}: its output")
            sys.stdout.write(log.read_text())
            sys.stdout.flush()
            if code:
                failed.append(name)
    finally:
        for *_, process in background:
            _stop(process)
    return failed


def _stop(process: subprocess.Popen) -> None:
    """Stop a pass still running (Ctrl-C, or the foreground pass failed to start) as pytest stops
    on Ctrl-C, with its teardown (its workers, gunicorn and chromium go too); then for good."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def serve(args: list[str]) -> int:
    ensure_environment()
    return run([str(PYTHON), "manage.py", "serve", *args])


def test(args: list[str]) -> int:
    ensure_environment()
    failed = []
    say("lint: ruff check, ruff format --check")
    if run([str(BIN / "ruff"), "check", "."]) or run([str(BIN / "ruff"), "format", "--check", "."]):
        failed.append("lint")
    say("types: mypy (directory, scim_api, lifecycle; [tool.mypy] in pyproject.toml)")
    # Its Django plugin imports the settings: the development ones, whatever this shell's ROSTER_ENV.
    mypy_env = {"ROSTER_ENV": "development", "ROSTER_VAR_DIR": str(ROOT / "var" / "test-sqlite")}
    if run([str(BIN / "mypy")], mypy_env):
        failed.append("mypy")

    missing_browser = ensure_chromium()
    if missing_browser and IN_CI:
        say(f"FAIL: {missing_browser}; CI must run the browser tests")
        failed.append("browser")
    elif missing_browser:
        say(f"WARNING: {missing_browser}: the browser tests are SKIPPED")

    pytest = [str(PYTHON), "-m", "pytest", *args]
    passes = [
        (
            "SQLite",
            "tests on SQLite, with the filesystem broker",
            {
                "ROSTER_VAR_DIR": str(ROOT / "var" / "test-sqlite"),
                "DATABASE_URL": "",
                "CELERY_BROKER_URL": "",
                "CACHE_URL": "",  # files under its var/: not a Redis the other pass flushes
            },
        )
    ]
    missing = [
        name
        for name, url, port in (("PostgreSQL", POSTGRES_URL, 5432), ("Redis", REDIS_URL, 6379))
        if not reachable(url, port)
    ]
    if missing:
        message = f"{' and '.join(missing)} unreachable ({POSTGRES_URL}, {REDIS_URL})"
        if IN_CI:
            say(f"FAIL: {message}; CI must run the PostgreSQL suite")
            failed.append("PostgreSQL")
        else:
            say(f"WARNING: {message}: the PostgreSQL run is SKIPPED")
    else:
        passes.append(
            (
                "PostgreSQL",
                "tests on PostgreSQL, with Celery on Redis",
                {
                    "ROSTER_VAR_DIR": str(ROOT / "var" / "test-postgres"),
                    "DATABASE_URL": POSTGRES_URL,
                    "CELERY_BROKER_URL": REDIS_URL,
                    "CACHE_URL": REDIS_URL,
                },
            )
        )
    failed += run_passes(pytest, passes)

    say(f"FAILED: {', '.join(failed)}" if failed else "all passed")
    return 1 if failed else 0


def main() -> int:
    commands = {"serve": serve, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
