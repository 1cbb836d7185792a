"""`manage.py serve` (what `python3 dev.py serve` runs): on the embedded defaults it serves the
admin with the credentials it prints, and its Celery worker executes tasks."""

import hashlib
import http.cookiejar
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from django.db import connection

from tests.support.processes import ROOT, OutputWatcher, free_port, wait_until

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="serve runs on the embedded defaults; tested in the SQLite pass"
)


def test_serve_runs_admin_and_worker_on_embedded_defaults(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "ROSTER_VAR_DIR": str(tmp_path), "HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = OutputWatcher(process)
    try:
        output.wait_for("Press Ctrl-C", timeout=90)
        password = re.search(r"user: admin\s+password: (\S+)", output.text).group(1)
        token = re.search(r"Demo token: (\S+)", output.text).group(1)
        base = f"http://127.0.0.1:{port}"

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        wait_until(lambda: _get(opener, f"{base}/admin/login/") is not None, timeout=30)
        login_page = _get(opener, f"{base}/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf, "username": "admin", "password": password, "next": "/admin/"}
        ).encode()
        request = urllib.request.Request(
            f"{base}/admin/login/?next=/admin/", data=form, headers={"Referer": base}
        )
        index = opener.open(request, timeout=10).read().decode()
        assert "Roster administration" in index and "Log out" in index

        database = sqlite3.connect(tmp_path / "roster.sqlite3")
        digest = hashlib.sha256(token.encode()).hexdigest()
        tenant = database.execute(
            "SELECT t.slug FROM directory_scimtoken k JOIN directory_tenant t ON t.id = k.tenant_id "
            "WHERE k.secret_hash = ? AND k.revoked_at IS NULL",
            [digest],
        ).fetchone()
        assert tenant == ("demo",)

        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "--no-imports",
                "-c",
                "from directory.tasks import heartbeat; heartbeat.delay()",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
        wait_until(
            lambda: database.execute("SELECT count(*) FROM directory_workerheartbeat").fetchone()[0] > 0
        )
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=30)
    assert returncode == 0, output.text[-3000:]
    assert _get(opener, f"{base}/admin/login/") is None, "the web server outlived serve"


def _get(opener, url):
    try:
        return opener.open(url, timeout=5).read().decode()
    except OSError:
        return None
