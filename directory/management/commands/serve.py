"""Run the whole product on one machine: the web server, a Celery worker and beat.

Meant for trying Roster and for development on the embedded defaults (SQLite and the filesystem
broker under var/). Production runs gunicorn and ``celery worker`` / ``celery beat`` as separate
services (see the README).
"""

import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from directory.metrics import metrics_files_clear
from directory.models import ScimToken, Tenant
from directory.services.audit import Actor
from directory.services.tenants import tenant_create
from directory.services.tokens import token_create

DEMO_TENANT = "demo"
DEMO_TOKEN_NAME = "demo"  # noqa: S105 (a label, not a secret)


class Command(BaseCommand):
    help = "Migrate, set up a demo tenant and admin, then run the web server, a Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--reload", action="store_true", help="Restart the web server on code changes.")

    def handle(self, *args, host: str, port: int, reload: bool, **options):
        if settings.PRODUCTION:
            raise CommandError("serve is for development; production runs gunicorn and celery (see README).")
        call_command("migrate", interactive=False, verbosity=0)
        metrics_files_clear()  # the samples of an earlier run's processes, which /metrics would add
        password = self.demo_admin_password()
        token = self.demo_token()
        base = f"http://{host}:{port}"
        web = [sys.executable, "manage.py", "runserver", f"{host}:{port}"] + (
            [] if reload else ["--noreload"]
        )
        worker = [sys.executable, "-m", "celery", "-A", "directory", "worker", "--beat", "--loglevel=INFO"]
        worker += ["--concurrency=2", "--without-mingle", "--without-gossip"]
        processes = [
            subprocess.Popen(web, cwd=settings.BASE_DIR),
            subprocess.Popen(worker, cwd=settings.BASE_DIR),
        ]
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Roster is running.",
                    f"  Admin:      {base}/admin/   user: admin   password: {password}",
                    f"  HR review:  {base}/hr/   (the admin may sign in there too; add HR reviewers with "
                    f"manage.py add_hr_reviewer NAME --tenant {DEMO_TENANT})",
                    f"  SCIM:       {base}/scim/v2/   (tenant {DEMO_TENANT})",
                    f"  Demo token: {token}",
                    f"  Try:        curl -H 'Authorization: Bearer {token}' {base}/scim/v2/Users",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            )
        )
        self.stdout.flush()
        self.supervise(processes)

    def supervise(self, processes: list[subprocess.Popen]) -> None:
        """Run until interrupted or until one process dies; then stop the others."""
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if not stopping:
            raise CommandError("A process stopped unexpectedly; see its output above.")

    def demo_admin_password(self) -> str:
        """The admin's password: generated on first run and kept in var/ (development only)."""
        path = settings.VAR_DIR / "admin-password"
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None or not path.exists():
            password = secrets.token_urlsafe(12)
            if admin is None:
                User.objects.create_superuser("admin", "admin@example.com", password)
            else:
                admin.set_password(password)
                admin.save(update_fields=["password"])
            path.write_text(password)
            path.chmod(0o600)
        return path.read_text().strip()

    @transaction.atomic
    def demo_token(self) -> str:
        """The demo tenant's token: issued on first run and kept in var/ (development only)."""
        actor = Actor.system("manage.py serve")
        tenant = Tenant.objects.filter(slug=DEMO_TENANT).first() or tenant_create(
            slug=DEMO_TENANT, name="Demo", actor=actor
        )
        path = settings.VAR_DIR / "demo-token"
        if path.exists():
            found = ScimToken.objects.find(path.read_text().strip())
            if found is not None and found.is_usable():
                return path.read_text().strip()
        _, plaintext = token_create(tenant=tenant, name=DEMO_TOKEN_NAME, actor=actor)
        path.write_text(plaintext)
        path.chmod(0o600)
        return plaintext
