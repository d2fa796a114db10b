"""Fixtures: a fresh database per test module on SQLite, MariaDB and PostgreSQL (real servers).

MariaDB is reached through ``ALX_TEST_MYSQL_URL`` (a server URL without a database); each module
gets its own uniquely named database, created with Moodle's collation and dropped afterwards.
PostgreSQL likewise through ``ALX_TEST_POSTGRES_URL`` (default: the local server's ``postgres`` user);
each database is created UTF8 from ``template0``, as Moodle's installer asks, and dropped afterwards.
When a server cannot be reached its tests **fail** — they never skip.

How the suite grows onto PostgreSQL: ``database_url`` runs a module on SQLite and MariaDB, and on
PostgreSQL too when the module is listed in :data:`POSTGRES_MODULES`. A module joins the list in the
commit that ports the code it covers, and only once it passes there, so nothing is skipped on the way:
a module is either not yet run on PostgreSQL (and says so by its absence) or run and green.
``postgres_url`` gives a module a PostgreSQL database of its own, for behaviour only PostgreSQL has.

Time: no test depends on the day it runs. The bridge reads one clock, ``Database.now()`` (the app's
``CLOCK`` config, the wall clock in production), and every date a test sets up is relative to it:

- the reference site (the golden recordings' Moodle) is served at the recording's own time:
  ``reference_site.reference_app`` gives the app a clock standing at ``requests.json``'s ``started_unix``;
- hand-built sites (``sitebuilder.SiteBuilder``) stamp their rows with a :class:`~tests.sitebuilder.Clock`
  at a fixed date and install that clock on the bridge's database;
- demo sites built for "today" (``build_demo_site`` without ``now``) and the processes that serve them
  use the wall clock, which their rows are relative to.

``./run tests`` runs the time-sensitive tests again under ``faketime`` 7 months and 3 years ahead.
"""

import contextlib
import os
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url

from alxbridge import create_app
from alxbridge.db.database import Database

# CI replays the same examples on every run, so a landing is never blocked by a lucky draw; developers
# keep exploring new examples locally.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

if "faketime" in os.environ.get("LD_PRELOAD", ""):
    # The calendar pass runs under libfaketime with the monotonic clock left alone, where Python's
    # time.sleep (an absolute clock_nanosleep on that clock) fails with EINVAL; a timed wait still works.
    time.sleep = threading.Event().wait

MYSQL_SERVER_URL = os.environ.get("ALX_TEST_MYSQL_URL", "mysql+mysqldb://root@127.0.0.1:3306/")
POSTGRES_SERVER_URL = os.environ.get("ALX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/")
BACKENDS = ("sqlite", "mysql")
ALL_BACKENDS = (*BACKENDS, "postgres")
# Test modules whose ``database_url`` runs on PostgreSQL as well (paths from the project root).
POSTGRES_MODULES = frozenset(
    {
        "tests/admin/test_admin_metrics.py",
        "tests/admin/test_alert_history.py",
        "tests/admin/test_alert_pages.py",
        "tests/admin/test_alert_settings.py",
        "tests/admin/test_company_settings.py",
        "tests/admin/test_control_center_forms.py",
        "tests/admin/test_control_center_overview.py",
        "tests/admin/test_create_token.py",
        "tests/admin/test_data_pages.py",
        "tests/admin/test_diagnostics.py",
        "tests/admin/test_every_page.py",
        "tests/admin/test_export.py",
        "tests/admin/test_login.py",
        "tests/admin/test_monitoring_metrics.py",
        "tests/admin/test_monitoring_pages.py",
        "tests/admin/test_refused_calls.py",
        "tests/admin/test_retired_pages.py",
        "tests/admin/test_scheduler_health.py",
        "tests/admin/test_sync_pages.py",
        "tests/progress/test_progress_answer_kinds.py",
        "tests/progress/test_progress_bugs.py",
        "tests/progress/test_progress_contract.py",
        "tests/progress/test_progress_sessions.py",
        "tests/test_alert_rules.py",
        "tests/test_alerts.py",
        "tests/test_consumer_recipes.py",
        "tests/test_create_token.py",
        "tests/test_demo_activity.py",
        "tests/test_demo_site.py",
        "tests/test_freshness.py",
        "tests/test_golden_recordings.py",
        "tests/test_healthz.py",
        "tests/test_passthrough_wwwroot.py",
        "tests/test_power_bi_day.py",
        "tests/test_quota_concurrency.py",
        "tests/test_repair_tables.py",
        "tests/test_request_log.py",
        "tests/test_rest_checklist.py",
        "tests/test_rest_failures.py",
        "tests/test_rest_moodlepy.py",
        "tests/test_rest_passthrough.py",
        "tests/test_rest_request_size.py",
        "tests/test_rest_shield.py",
        "tests/test_scheduler.py",
        "tests/test_scheduler_zone.py",
        "tests/test_session_retention.py",
        "tests/test_sync_demo_site.py",
        "tests/test_sync_events.py",
        "tests/test_sync_properties.py",
        "tests/test_sync_retention.py",
        "tests/test_sync_runs.py",
        "tests/test_sync_semantics.py",
        "tests/test_sync_tick.py",
    }
)


def backend_of(url):
    """The ``new_database`` backend that ``url`` (a database it made) is on."""
    return {"mysql": "mysql", "postgresql": "postgres"}.get(make_url(url).get_backend_name(), "sqlite")


def pytest_generate_tests(metafunc):
    """``database_url``'s backends: all three for the modules in POSTGRES_MODULES, else SQLite and MariaDB."""
    if "database_url" in metafunc.fixturenames:
        module = metafunc.definition.nodeid.split("::", 1)[0]
        backends = ALL_BACKENDS if module in POSTGRES_MODULES else BACKENDS
        metafunc.parametrize("database_url", backends, indirect=True, scope="module")


def _reachable(engine, label, setting):
    """``engine`` once its server answers; fails the tests (never skips them) when it does not."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means the server is unusable
        pytest.fail(
            f"{label} is unreachable at {engine.url.render_as_string(hide_password=True)}: {error}. "
            f"Start it (bash .ci/run does) or set {setting}.",
            pytrace=False,
        )
    return engine


@contextlib.contextmanager
def _fresh_database(server, create, drop):
    """A uniquely named database made with ``create`` and removed with ``drop`` (statements with ``{name}``)."""
    name = f"alxtest_{uuid.uuid4().hex[:12]}"
    with server.begin() as connection:
        connection.execute(sa.text(create.format(name=name)))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(sa.text(drop.format(name=name)))


@pytest.fixture(scope="session")
def mysql_server():
    """An engine on the MariaDB server (no database selected); fails the tests if unreachable."""
    url = make_url(MYSQL_SERVER_URL).update_query_dict({"charset": "utf8mb4"})
    engine = _reachable(sa.create_engine(url), "MariaDB", "ALX_TEST_MYSQL_URL")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_server():
    """An engine on the PostgreSQL server's maintenance database, in autocommit (CREATE DATABASE needs it);
    fails the tests if unreachable."""
    url = make_url(POSTGRES_SERVER_URL)
    engine = sa.create_engine(url.set(database=url.database or "postgres"), isolation_level="AUTOCOMMIT")
    yield _reachable(engine, "PostgreSQL", "ALX_TEST_POSTGRES_URL")
    engine.dispose()


# How each server makes and removes a test database: MariaDB with Moodle's collation; PostgreSQL in UTF8 from
# template0, as Moodle's installer asks, dropped with FORCE so that a server process a test left running (killed
# mid-call) cannot keep it alive.
DATABASE_STATEMENTS = {
    "mysql": (
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "DROP DATABASE IF EXISTS `{name}`",
    ),
    "postgres": (
        "CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
    ),
}


@pytest.fixture(scope="session")
def new_database(request, tmp_path_factory):
    """A factory: ``with new_database("mysql") as url:`` gives an empty database that is dropped after."""

    @contextlib.contextmanager
    def factory(backend):
        if backend in DATABASE_STATEMENTS:
            server = request.getfixturevalue(f"{backend}_server")
            with _fresh_database(server, *DATABASE_STATEMENTS[backend]) as url:
                yield url
        else:
            path = tmp_path_factory.mktemp("sqlite") / "moodle.db"
            yield f"sqlite:///{path}"

    return factory


@pytest.fixture(scope="module")
def database_url(request, new_database):
    """An empty database for this module on each backend ``pytest_generate_tests`` gives it."""
    with new_database(request.param) as url:
        yield url


@pytest.fixture(scope="module")
def mysql_url(new_database):
    """An empty MariaDB database for this module (for behaviour only MySQL/MariaDB has)."""
    with new_database("mysql") as url:
        yield url


@pytest.fixture(scope="module")
def postgres_url(new_database):
    """An empty PostgreSQL database for this module (for behaviour only PostgreSQL has)."""
    with new_database("postgres") as url:
        yield url


def make_app(url, **overrides):
    return create_app(
        {
            "TESTING": True,
            "ALX_DATABASE_URL": url,
            "ALX_SECRET_KEY": "test-secret",
            "ALX_SCHEDULER": "off",
            **overrides,
        }
    )


@pytest.fixture(scope="module")
def app(database_url):
    return make_app(database_url)


@pytest.fixture(scope="module")
def database(app):
    db = app.extensions["alx_database"]
    yield db
    db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()


__all__ = ["Database", "make_app"]
