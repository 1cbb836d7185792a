#!/usr/bin/env python3
"""Serve Roster the way production does, for the load benchmark (benchmarks/run.py) to measure.

    python benchmarks/serve.py [--port 8001] [--workers 2] [--tenant bench] [-- GUNICORN ARGS...]

- PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/roster_bench); the database
  is created if it is missing, and migrated.
- ROSTER_ENV=production: DEBUG off, a freshly generated SECRET_KEY, ALLOWED_HOSTS=127.0.0.1,localhost
  and SECURE_SSL_REDIRECT=false (plain HTTP on the loopback interface); the static files collected.
- DJANGO_SETTINGS_MODULE=benchmarks.settings: production settings plus the floor endpoint
  (/bench/floor/<uuid>), no SCIM rate limit, database connections kept for the worker's life.
- CACHE_URL (and CELERY_BROKER_URL) on Redis at redis://127.0.0.1:6379/14 when Redis answers there,
  as in production; otherwise production's file-based defaults under ROSTER_VAR_DIR.
- gunicorn with 2 sync workers on 127.0.0.1:8001.
- A tenant (``bench``) and a SCIM token for it. The token is printed, and kept in
  var/benchmark/token so that the next start prints the same one.
- Where the PostgreSQL server runs with ``autovacuum = off`` (test machines often do), tables are
  VACUUMed and ANALYZEd as autovacuum would (``autovacuum_once``, checked every 10 s), so that the
  planner sees the seeded rows as a production database would (without statistics it takes a
  100,000-row table for an empty one) and index-only scans skip the table as they would there.

Every variable above can be set in the environment to override the default. Stop with Ctrl-C.
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dev import reachable  # noqa: E402 (the repository root first: dev.py lives there)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/roster_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def reexec_in_venv() -> None:
    """Run the script started (this one, or another benchmark's) under the project's .venv when
    started with a Python that lacks Django."""
    try:
        import django  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if venv_python.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
            os.execv(str(venv_python), [str(venv_python), *sys.argv])  # noqa: S606
        sys.exit("Django is not installed: run `python3 dev.py test` once to create .venv, or use it.")


def environment(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    var_dir.mkdir(parents=True, exist_ok=True)
    defaults = {
        "ROSTER_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": DEFAULT_DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "ROSTER_VAR_DIR": str(var_dir),
    }
    if reachable(DEFAULT_REDIS_URL, 6379):
        defaults["CACHE_URL"] = DEFAULT_REDIS_URL
        defaults["CELERY_BROKER_URL"] = DEFAULT_REDIS_URL
    for name, value in defaults.items():
        if not env.get(name):
            env[name] = value
    return env


def create_database(url: str) -> None:
    """CREATE DATABASE for the URL's database if the server does not have it yet."""
    import dj_database_url
    from psycopg import sql

    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        print(f"[serve] DATABASE_URL is not PostgreSQL ({config['ENGINE']}); using it as it is.")
        return
    name = config["NAME"]
    with _connect(url, dbname="postgres") as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"[serve] created database {name}")


def _connect(url: str, **overrides):
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": config["NAME"],
        "autocommit": True,
        "connect_timeout": 10,
        **overrides,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None})


def autovacuum_is_off(url: str) -> bool:
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return False
    with _connect(url) as connection:
        return connection.execute("SHOW autovacuum").fetchone()[0] == "off"


def autovacuum_once(url: str) -> list[str]:
    """VACUUM and ANALYZE the tables autovacuum would, with PostgreSQL's default thresholds:
    vacuum after 50 + 20% dead rows or 1,000 + 20% rows inserted since the last vacuum (which also
    marks pages all-visible, so that index-only scans skip the table), analyze after 50 + 10% rows
    changed since the last analyze. Returns what it did, e.g. ``["VACUUM ANALYZE directory_user"]``."""
    from psycopg import sql

    done = []
    with _connect(url) as connection:
        rows = connection.execute(
            "SELECT schemaname, relname, "
            "n_dead_tup > 50 + 0.2 * n_live_tup OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup, "
            "n_mod_since_analyze > 50 + 0.1 * n_live_tup "
            "FROM pg_stat_user_tables"
        ).fetchall()
        for schema, table, vacuum, analyze in rows:
            command = {(True, True): "VACUUM ANALYZE", (True, False): "VACUUM", (False, True): "ANALYZE"}.get(
                (vacuum, analyze)
            )
            if command:
                name = sql.Identifier(schema, table)
                connection.execute(sql.SQL(command + " {}").format(name))
                done.append(f"{command} {table}")
    return done


def prepare(tenant_slug: str, token_file: Path) -> str:
    """Migrate, collect static files, make sure the tenant exists; return a usable token."""
    import django

    django.setup()
    from directory.models import ScimToken, Tenant
    from directory.services.audit import Actor
    from directory.services.tenants import tenant_create
    from directory.services.tokens import token_create
    from django.core.management import call_command
    from django.db import connections

    print("[serve] migrating", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    actor = Actor.system("benchmarks/serve.py")
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        tenant = tenant_create(slug=tenant_slug, name="Load benchmark", actor=actor)
    plaintext = token_file.read_text().strip() if token_file.exists() else ""
    token = ScimToken.objects.find(plaintext) if plaintext else None
    if token is None or not token.is_usable() or token.tenant_id != tenant.pk:
        _, plaintext = token_create(tenant=tenant, name="benchmark", actor=actor)
        token_file.write_text(plaintext + "\n")
        token_file.chmod(0o600)
    connections.close_all()
    return plaintext


def main() -> None:
    reexec_in_venv()
    parser = argparse.ArgumentParser(
        description="Serve Roster like production (PostgreSQL, gunicorn) for benchmarks/run.py.",
        epilog="Arguments after -- go to gunicorn.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tenant", default="bench", help="slug of the tenant the token is for")
    parser.add_argument(
        "--prepare-only", action="store_true", help="create, migrate and print the token; do not serve"
    )
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    os.chdir(ROOT)
    var_dir = Path(os.environ.get("ROSTER_VAR_DIR") or ROOT / "var" / "benchmark").resolve()
    env = environment(var_dir)
    os.environ.update(env)

    create_database(env["DATABASE_URL"])
    token = prepare(args.tenant, var_dir / "token")
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                "",
                f"[serve] Roster at {base}/scim/v2 (tenant {args.tenant}, {args.workers} gunicorn workers)",
                f"[serve] database {env['DATABASE_URL']}",
                f"[serve] token (also in {var_dir / 'token'}):",
                token,
                "[serve] then, in another shell:",
                f"  python benchmarks/run.py --base-url {base}/scim/v2 --token-file {var_dir / 'token'}",
                "",
            ]
        ),
        flush=True,
    )
    if args.prepare_only:
        return
    command = [sys.executable, "-m", "gunicorn", "directory.wsgi"]
    command += ["--bind", f"{args.host}:{args.port}", "--workers", str(args.workers), *extra]
    analyze = autovacuum_is_off(env["DATABASE_URL"])
    if not analyze:
        os.execve(sys.executable, command, env)  # noqa: S606
    print(
        "[serve] PostgreSQL's autovacuum is off here: VACUUM and ANALYZE run as autovacuum's would",
        flush=True,
    )
    server = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        while server.poll() is None:
            try:
                tables = autovacuum_once(env["DATABASE_URL"])
                if tables:
                    print(f"[serve] {', '.join(sorted(tables))}", flush=True)
            except Exception as error:  # a failed check must not take the server down
                print(f"[serve] autovacuum check failed: {error}", flush=True)
            time.sleep(10)
    except KeyboardInterrupt:
        server.send_signal(signal.SIGINT)
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
