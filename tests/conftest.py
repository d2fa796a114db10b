"""Fixtures: a fresh database per test module on MariaDB (real server) and on SQLite.

MariaDB is reached through ``ALX_TEST_MYSQL_URL`` (a server URL without a database); each module
gets its own uniquely named database, created with Moodle's collation and dropped afterwards.
When the server cannot be reached the MariaDB tests **fail** — they never skip.

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
BACKENDS = ("sqlite", "mysql")


@pytest.fixture(scope="session")
def mysql_server():
    """An engine on the MariaDB server (no database selected); fails the tests if unreachable."""
    url = make_url(MYSQL_SERVER_URL).update_query_dict({"charset": "utf8mb4"})
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means the server is unusable
        pytest.fail(
            f"MariaDB is unreachable at {url.render_as_string(hide_password=True)}: {error}. "
            "Start it (bash .ci/run does) or set ALX_TEST_MYSQL_URL.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@contextlib.contextmanager
def fresh_mysql_database(server):
    name = f"alxtest_{uuid.uuid4().hex[:12]}"
    with server.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.fixture(scope="session")
def new_database(request, tmp_path_factory):
    """A factory: ``with new_database("mysql") as url:`` gives an empty database that is dropped after."""

    @contextlib.contextmanager
    def factory(backend):
        if backend == "mysql":
            with fresh_mysql_database(request.getfixturevalue("mysql_server")) as url:
                yield url
        else:
            path = tmp_path_factory.mktemp("sqlite") / "moodle.db"
            yield f"sqlite:///{path}"

    return factory


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request, new_database):
    """An empty database for this module, once on SQLite and once on MariaDB."""
    with new_database(request.param) as url:
        yield url


@pytest.fixture(scope="module")
def mysql_url(new_database):
    """An empty MariaDB database for this module (for behaviour only MySQL/MariaDB has)."""
    with new_database("mysql") as url:
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
