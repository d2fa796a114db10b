"""The pool's ping and rollback, kept where they matter (``alxbridge/db/pool_checks.py``), on MariaDB and PostgreSQL.

A connection the server dropped while it sat in the pool is still replaced before a call uses it; a connection
returned inside a transaction is still rolled back (its locks released); a busy connection whose call committed
costs neither round trip.
"""

import json
import threading

import pytest
import sqlalchemy as sa

from alxbridge.db import pool_checks

from .conftest import backend_of
from .reference_site import load_reference_site, reference_app
from .rest_support import PROGRESS, RELAXED_LIMITS, SITE_INFO, U10, call, recorded_site_info

BACKENDS = ("mysql", "postgres")
SERVER_SESSION_ID = {"mysql": "SELECT CONNECTION_ID()", "postgres": "SELECT pg_backend_pid()"}
END_SESSION = {"mysql": "KILL :id", "postgres": "SELECT pg_terminate_backend(:id)"}


@pytest.fixture(scope="module", params=BACKENDS)
def site_url(request, new_database):
    with new_database(request.param) as url:
        app = reference_app(url)
        load_reference_site(app.extensions["alx_database"])
        app.extensions["alx_database"].engine.dispose()
        yield url


@pytest.fixture
def app(site_url):
    """An app on the site; its calls run one after another, so they reuse one pooled connection."""
    app = reference_app(site_url, **RELAXED_LIMITS)
    yield app
    app.extensions["alx_database"].engine.dispose()


def site_info_works(client):
    response = call(client, [("wstoken", U10), ("wsfunction", SITE_INFO), ("moodlewsrestformat", "json")])
    return response.get_data() == recorded_site_info("json")


def progress_page(client):
    query = [("wstoken", U10), ("wsfunction", PROGRESS), ("moodlewsrestformat", "json"), ("limit", "5")]
    return json.loads(call(client, query).get_data(as_text=True))


def server_session(database):
    with database.connect() as connection:
        session = connection.execute(sa.text(SERVER_SESSION_ID[backend_of(str(database.engine.url))])).scalar()
        connection.commit()
    return session


def test_a_connection_the_server_dropped_a_moment_ago_is_replaced_before_the_call(app, site_url):
    database, client = app.extensions["alx_database"], app.test_client()
    assert site_info_works(client)
    dropped = server_session(database)
    killer = sa.create_engine(site_url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        connection.execute(sa.text(END_SESSION[backend_of(site_url)]), {"id": dropped})
        connection.commit()
    killer.dispose()
    threading.Event().wait(0.05)  # far less than PING_AFTER_IDLE_SECONDS: the closed socket tells
    assert site_info_works(client)
    assert server_session(database) != dropped


def test_a_connection_returned_inside_a_transaction_is_rolled_back(app, site_url):
    database = app.extensions["alx_database"]
    config = database.tables.config
    with database.connect() as connection:
        connection.execute(sa.update(config).where(config.c.name == "maintenance_enabled").values(value="1"))
    other = sa.create_engine(site_url, poolclass=sa.pool.NullPool)
    with other.connect() as connection:  # waits for the row lock if the returned connection still held it
        if backend_of(site_url) == "mysql":
            connection.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 2"))
        else:
            connection.execute(sa.text("SET lock_timeout = '2s'"))
        connection.execute(sa.update(config).where(config.c.name == "maintenance_enabled").values(value="0"))
        connection.commit()
    other.dispose()
    assert site_info_works(app.test_client())  # not in maintenance: the uncommitted "1" was rolled back


def test_a_connection_idle_for_long_is_pinged(app, monkeypatch):
    monkeypatch.setattr(pool_checks, "PING_AFTER_IDLE_SECONDS", 0.05)
    pings, dialect = [], app.extensions["alx_database"].engine.dialect
    original = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda connection: (pings.append(1), original(connection))[1])
    client = app.test_client()
    assert site_info_works(client)
    pings.clear()
    threading.Event().wait(0.1)
    assert site_info_works(client)
    assert pings == [1]


def test_a_busy_connection_whose_call_committed_is_neither_pinged_nor_rolled_back(app, monkeypatch):
    dialect, round_trips = app.extensions["alx_database"].engine.dialect, []
    for name in ("do_ping", "do_rollback"):
        original = getattr(dialect, name)
        monkeypatch.setattr(dialect, name, lambda connection, name=name, original=original: (
            round_trips.append(name), original(connection))[1])  # fmt: skip
    client = app.test_client()
    assert len(progress_page(client)) == 5  # the first checkout of a new connection pings it
    round_trips.clear()
    for _ in range(5):
        assert len(progress_page(client)) == 5  # each call commits its count and log row
    assert round_trips == []
