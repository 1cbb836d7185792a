"""Production mode: secrets required, and `manage.py check --deploy` has nothing to report."""

import subprocess
import sys

from tests.support.processes import ROOT

PRODUCTION = {
    "ROSTER_ENV": "production",
    "SECRET_KEY": "k3v9-Qz8pW2xR7tY5uI1oP4aS6dF0gH9jK2lZ8xC5vB7nM3qW1eR4tY6uI9oP2aS4d",
    "ALLOWED_HOSTS": "roster.example.com",
    "DATABASE_URL": "sqlite:////tmp/roster-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "PATH": "/usr/bin:/bin",
}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_reports_nothing_in_production_mode(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "DEBUG", env={**PRODUCTION, "ROSTER_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": "", "ROSTER_VAR_DIR": str(tmp_path)}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = manage("check", env={**PRODUCTION, "ALLOWED_HOSTS": "", "ROSTER_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ROSTER_VAR_DIR": str(tmp_path)}
    show = ("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    first, second = manage(*show, env=env), manage(*show, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout == (tmp_path / "secret_key").read_text() + "\n"
    assert len(first.stdout.strip()) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_the_login_lockout_refuses_limits_that_lock_all_or_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ROSTER_VAR_DIR": str(tmp_path)}
    for name in ("AXES_FAILURE_LIMIT", "AXES_COOLOFF_MINUTES"):
        result = manage("check", env={**env, name: "0"})
        assert result.returncode != 0
        assert "AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1" in result.stderr
