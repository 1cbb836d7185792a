"""Browser tests: one chromium for the whole session; for each test, Roster under gunicorn on the
test database and a fresh browser context (no cookies, no storage).

The tests here run last. Playwright's synchronous API keeps an asyncio loop running on the main
thread, and Django refuses database calls from a thread with a running loop; nothing here is
asynchronous, so DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser is up, which is from the
first browser test to the end of the session.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, sync_playwright

from tests.scim_api.conftest import api, plaintext, scim, server, token, token_pair  # noqa: F401
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, Console, screenshot_path
from tests.support.live_server import live_server

HERE = os.path.dirname(__file__)


def _is_browser_test(item) -> bool:
    return str(item.path).startswith(HERE + os.sep)


def pytest_collection_modifyitems(config, items):
    browser_tests = [item for item in items if _is_browser_test(item)]
    if not browser_tests:
        return
    items[:] = [item for item in items if not _is_browser_test(item)] + browser_tests
    skip = None
    if not CHROMIUM.exists():
        skip = pytest.mark.skip(reason=f"no {CHROMIUM}: `python3 dev.py test` installs it (as root)")
    for item in browser_tests:
        item.add_marker(pytest.mark.browser)
        if skip:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed  # for the page fixture's screenshot of a failure
    return report


@pytest.fixture
def base_url(live_db) -> Iterator[str]:
    """Roster under gunicorn on the test database, one server per test: a server kept from test to
    test would keep what it cached of rows the test database's flush has since replaced (content
    types, whose ids the admin's log entries then refer to in vain)."""
    with live_server(workers=1) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """This pass's screenshots, emptied at its start so that none is left from an earlier run."""
    directory = ARTIFACTS / connection.vendor
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def live_db(transactional_db):
    """The database as the live server sees it: committed at once, emptied after the test."""


class BrowserPage:
    """A page, what its console said, and ``shot(step)`` to keep a screenshot of it."""

    def __init__(self, page: Page, console: Console, shoot: Callable[[str], None]):
        self.page = page
        self.console = console
        self.shot = shoot


@pytest.fixture
def new_page(request, browser, base_url, artifacts, live_db) -> Iterator[Callable[..., BrowserPage]]:
    """Open a page in a fresh context (``new_page(**context_options)``: a phone's viewport, say).
    When the test ends, no page may have had a Content-Security-Policy violation or an uncaught
    script error; a failed test leaves a screenshot of each page as it was."""
    opened: list[tuple[BrowserPage, object]] = []
    test_name = request.node.name

    def open_page(**context_options) -> BrowserPage:
        context = browser.new_context(base_url=base_url, **context_options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        console = Console()
        console.watch(page)
        index = len(opened)

        def shoot(step: str) -> None:
            name = step if index == 0 else f"{index}-{step}"
            page.screenshot(path=screenshot_path(artifacts, test_name, name), full_page=True)

        browser_page = BrowserPage(page, console, shoot)
        opened.append((browser_page, context))
        return browser_page

    yield open_page

    for browser_page, context in opened:
        if getattr(request.node, "call_failed", False):
            browser_page.shot("failure")
        context.close()
    for browser_page, _ in opened:
        assert not browser_page.console.csp_violations, browser_page.console.csp_violations
        assert not browser_page.console.page_errors, browser_page.console.page_errors


@pytest.fixture
def page(new_page) -> BrowserPage:
    """A page at a desktop's size (1280 by 800)."""
    return new_page(viewport={"width": 1280, "height": 800})
