"""A real browser for tests: Playwright driving Debian's chromium (installed by `dev.py test`; never
a browser build of Playwright's own), and where the screenshots go.

Screenshots land in ``artifacts/browser/<database vendor>/`` (gitignored; ``ROSTER_ARTIFACTS_DIR``
moves it), named ``<test>--<step>.png``, one more ``--failure.png`` when a test fails, for CI to
keep and for a person to look at.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page

from tests.support.processes import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# pytest-django's admin_user: a superuser "admin" whose password is "password".
ADMIN = ("admin", "password")
# A phone's screen, 390 CSS pixels wide (an iPhone 12 to 15's), touch only.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
ARTIFACTS = Path(os.environ.get("ROSTER_ARTIFACTS_DIR") or ROOT / "artifacts") / "browser"


@dataclass
class Console:
    """What a page said on its console, and the scripts that failed on it."""

    messages: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def csp_violations(self) -> list[str]:
        return [m.text for m in self.messages if "Content Security Policy" in m.text]

    @property
    def errors(self) -> list[str]:
        return [m.text for m in self.messages if m.type == "error"]

    def watch(self, page: Page) -> None:
        page.on("console", lambda message: self.messages.append(message))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))


def screenshot_path(directory: Path, test_name: str, step: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{test_name}--{step}").strip("-")
    return directory / f"{safe}.png"


def log_in(page: Page, username: str, password: str) -> None:
    """Log in through the admin's form, as a person would: type, then press Enter."""
    if "/admin/login/" not in page.url:
        page.goto("/admin/login/")
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:").fill(password)
    with page.expect_navigation():
        page.get_by_label("Password:").press("Enter")
