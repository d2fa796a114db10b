"""Browser tests: Debian's chromium driven by Playwright against a live bridge on a demo site, on MariaDB and on
PostgreSQL.

Chromium must be installed (``./run tests`` installs it); when it is missing these tests fail, they
never skip. Each test's screenshots are kept in ``test-artifacts/screenshots/``.
"""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from alxbridge.demo import build_demo_site
from alxbridge.sync.runs import run_sync

from ..conftest import make_app
from ..live_server import live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PREFIX = "/local/alx_report_api"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium); ./run tests installs it", pytrace=False)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def demo(request, new_database):
    """A small demo site, synced once, served by a live bridge: ``(base_url, logins, app)``."""
    with new_database(request.param) as url:
        app = make_app(url)
        database = app.extensions["alx_database"]
        logins = build_demo_site(database, companies=3, users=40, courses=5)
        run_sync(database, full=True)
        with live_server(app) as base_url:
            yield base_url, logins, app
        database.engine.dispose()


class PageWatcher:
    """Collects what must never happen on an admin page: console errors (CSP violations included) and dialogs."""

    def __init__(self, page):
        self.problems = []
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def _console(self, message):
        # Failed loads are reported with their URL by _response; the browser's own favicon probe is not a page's.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def _response(self, response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} {response.url}")


@pytest.fixture
def admin_page(browser, demo):
    """A signed-in page and its :class:`PageWatcher`."""
    base_url, logins, _ = demo
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    watcher = PageWatcher(page)
    page.goto(f"{PREFIX}/control_center.php")
    page.fill("#username", logins.admin_username)
    page.fill("#password", logins.admin_password)
    page.click("#loginbtn")
    page.wait_for_url(f"**{PREFIX}/control_center.php")
    yield page, watcher
    context.close()


def screenshot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
