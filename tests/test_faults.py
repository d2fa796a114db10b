"""Faults: the bridge's own database server is killed (SIGKILL) or stopped (a clean shutdown) mid-work and started
again, once on MariaDB and once on PostgreSQL.

Every test here runs against a private server (``tests/mariadb_instance.py``, ``tests/postgres_instance.py``:
own data directory, own port and socket), never against the shared test servers, so the tests can take it
down. They fail, never skip, when the server is not installed.

* API calls: while the database is down, ``server.php`` answers HTTP 200 with Moodle's exception
  document (JSON and XML), ``/healthz`` 503; once it is back, calls succeed again at once, without
  restarting the bridge (stale pooled connections are replaced, none surfaces as an error).
* A sync: a full sync killed with its database in the middle of a company leaves every company
  either exactly as before or completely at the run's version, and the next run brings the table to
  exactly what a clean full sync computes.
* An admin save: with the database down the page answers 503 with the admin error page, nothing is
  half-written, and the same save succeeds once the database is back.
"""

import concurrent.futures
import logging
import re
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from alxbridge.db.database import Database
from alxbridge.demo import build_demo_site, read_demo_logins
from alxbridge.moodle.plugin_settings import PLUGIN, read_plugin_config, write_plugin_config
from alxbridge.operations.errors import DatabaseUnavailable
from alxbridge.sync.runs import run_sync
from alxbridge.sync.state import read_company_state

from .admin.support import PREFIX as ADMIN_PREFIX
from .admin.support import AdminSite, csrf_token, sign_in
from .conftest import make_app
from .live_server import live_server
from .mariadb_instance import MariaDBInstance
from .postgres_instance import PostgresInstance
from .rest_support import PROGRESS, RELAXED_LIMITS
from .server_instance import ServerMissing
from .sync_process import SyncProcess

TIMEOUT = 60
DEMO_NOW = 1_767_225_600  # 2026-01-01 00:00 UTC: the same demo site on every run
DEVELOPER = 32767  # Moodle's DEBUG_DEVELOPER: envelopes carry debuginfo, the most a client can ever see


@pytest.fixture(scope="module", params=[MariaDBInstance, PostgresInstance], ids=["mariadb", "postgres"])
def server(request, tmp_path_factory):
    try:
        instance = request.param(tmp_path_factory.mktemp(request.param.name))
    except ServerMissing as error:
        pytest.fail(str(error), pytrace=False)
    with instance:
        yield instance


@pytest.fixture(autouse=True)
def server_running(server):
    """Every test starts (and leaves the next one) with the server up, even after a failure mid-outage."""
    if not server.running:
        server.start()
    yield
    if not server.running:
        server.start()


def take_down(server, how):
    server.kill() if how == "kill" else server.stop()


# ---------------------------------------------------------------------------------------------------
# 1. API calls


@pytest.fixture(scope="module")
def bridge(server):
    """A live bridge on a small synced demo site: ``(base_url, token)``."""
    app = make_app(server.create_database("api"), ALX_DEBUG_LEVEL=DEVELOPER, ALX_DEBUG_DISPLAY=1, **RELAXED_LIMITS)
    database = app.extensions["alx_database"]
    build_demo_site(database, companies=2, users=30, courses=4, now=DEMO_NOW)
    run_sync(database, full=True)
    with database.begin() as connection:
        # A quota no test reaches: the quota's bookkeeping still runs on every call.
        write_plugin_config(connection, database.tables, {"rate_limit": 1_000_000})
    token = next(t.token for t in read_demo_logins(database).tokens if t.token)
    with live_server(app) as base_url:
        yield base_url, token
    database.engine.dispose()


def call(base_url, token, response_format="json", offset=0):
    """One progress call as Power BI sends it (a form POST); returns the response."""
    form = {"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": response_format, "limit": 5,
            "offset": offset}  # fmt: skip
    return requests.post(f"{base_url}/webservice/rest/server.php", data=form, timeout=30)


def succeeded(response, response_format):
    if response.status_code != 200:
        return False
    if response_format == "json":
        body = response.json()
        return isinstance(body, list) and len(body) == 5
    return response.text.count("<SINGLE>") == 5 and "<EXCEPTION" not in response.text


def assert_connection_failure_envelope(response, response_format, token):
    body = response.text
    assert response.status_code == 200, (response.status_code, body[:500])
    assert token not in body and "Traceback" not in body and "<html" not in body.lower()
    if response_format == "json":
        assert response.headers["Content-Type"] == "application/json"
        document = response.json()
        assert document["exception"] == "dml_connection_exception", document
        assert document["errorcode"] == "dbconnectionfailed"
        assert document["message"].startswith("Error: Database connection failed")
    else:
        assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
        assert '<EXCEPTION class="dml_connection_exception">' in body, body
        assert "<ERRORCODE>dbconnectionfailed</ERRORCODE>" in body


DATABASE_EXCEPTIONS = {"dml_connection_exception", "dml_read_exception", "dml_write_exception"}


class Caller:
    """Threads calling the bridge without a pause, so some calls are in flight when the database goes."""

    def __init__(self, base_url, token, threads=2):
        self.base_url, self.token = base_url, token
        self.results = []  # (monotonic start, format, response or the exception requests raised)
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self, number):
        formats = ("json", "xml") if number % 2 == 0 else ("xml", "json")
        while not self.done.is_set():
            for response_format in formats:
                started = time.monotonic()
                try:
                    outcome = call(self.base_url, self.token, response_format)
                except requests.RequestException as error:  # the bridge itself failed: always a defect
                    outcome = error
                self.results.append((started, response_format, outcome))

    def stop(self):
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT)


def envelope_exception(response, response_format):
    """The ``exception`` of a Moodle exception document, or ``None`` when the body is not one."""
    if response_format == "json":
        try:
            document = response.json()
        except ValueError:
            return None
        return document.get("exception") if isinstance(document, dict) else None
    match = re.search(r'<EXCEPTION class="([a-z_]+)">', response.text)
    return match.group(1) if match else None


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_api_calls_answer_moodle_errors_while_the_database_is_down_and_recover_without_a_restart(
    server, bridge, how, caplog
):
    base_url, token = bridge
    caplog.set_level(logging.DEBUG)
    # Several pooled connections exist when the server goes away: concurrent calls leave them in the pool.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        warm = list(pool.map(lambda f: call(base_url, token, f), ["json", "xml"] * 4))
    assert all(succeeded(r, f) for r, f in zip(warm, ["json", "xml"] * 4, strict=True))
    assert requests.get(f"{base_url}/healthz", timeout=30).status_code == 200

    caller = Caller(base_url, token)
    time.sleep(0.3)
    take_down(server, how)
    time.sleep(0.3)
    caller.stop()
    assert len(caller.results) > 4
    for _, response_format, outcome in caller.results:  # in flight or started while it went down
        assert isinstance(outcome, requests.Response), outcome
        assert outcome.status_code == 200 and "Traceback" not in outcome.text and token not in outcome.text
        if not succeeded(outcome, response_format):
            assert envelope_exception(outcome, response_format) in DATABASE_EXCEPTIONS, outcome.text[:500]

    for response_format in ("json", "xml", "json", "xml"):
        assert_connection_failure_envelope(call(base_url, token, response_format), response_format, token)
    health = requests.get(f"{base_url}/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["database"]["ok"] is False
    assert token not in health.text

    server.start()
    # Back: every call succeeds at once, the first included, sequential and concurrent, with no restart.
    failures = [f for f in ("json", "xml", "json", "xml") if not succeeded(call(base_url, token, f), f)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda f: (f, call(base_url, token, f)), ["json", "xml"] * 4))
    failures += [f for f, r in responses if not succeeded(r, f)]
    assert failures == [], f"{len(failures)} calls failed after the database came back"
    health = requests.get(f"{base_url}/healthz", timeout=30)
    assert health.status_code == 200, health.text

    # A restart the bridge never saw (no call while it was down): every pooled connection is stale, none shows.
    take_down(server, how)
    server.start()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda f: (f, call(base_url, token, f)), ["json", "xml"] * 4))
    assert [f for f, r in responses if not succeeded(r, f)] == []

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged
    assert "Traceback" not in logged and "unexpected error" not in logged
    assert "dbconnectionfailed" in logged or "cannot connect" in logged  # the outage was logged


# ---------------------------------------------------------------------------------------------------
# 2. A sync


def sync_site(server, name):
    """A demo site with three companies, synced once, then every user renamed: a full sync changes every row.

    The renames are direct database edits, which Moodle does not log: the site's standard log store is turned
    off, so that incremental runs find them by scanning the tables.
    """
    database = Database(server.create_database(name))
    build_demo_site(database, companies=3, users=45, courses=4, now=DEMO_NOW)
    config = database.tables.config_plugins
    with database.begin() as connection:
        connection.execute(
            sa.update(config).where(config.c.plugin == "tool_log", config.c.name == "enabled_stores").values(value="")
        )
    return database


def rename_everyone(database):
    users = database.tables.user
    with database.begin() as connection:
        connection.execute(
            sa.update(users)
            .where(users.c.id > 2)
            .values(lastname=users.c.lastname + " Renamed", timemodified=int(time.time()))
        )


def company_ids(database):
    with database.connect() as connection:
        return sorted(connection.execute(sa.select(database.tables.company.c.id)).scalars())


def company_snapshot(database, companyid):
    """Everything the sync keeps per company: its reporting rows, its sync state, its sync_status rows."""
    tables = database.tables
    reporting, status = tables.local_alx_api_reporting, tables.local_alx_api_sync_status
    with database.connect() as connection:
        return (
            connection.execute(sa.select(reporting).where(reporting.c.companyid == companyid).order_by("id")).all(),
            read_company_state(connection, tables, companyid),
            connection.execute(sa.select(status).where(status.c.companyid == companyid).order_by("id")).all(),
        )


CONTENT = ("companyid", "userid", "courseid", "firstname", "lastname", "email", "coursename", "timecompleted",
           "timestarted", "percentage", "status", "is_deleted")  # fmt: skip


def reporting_content(database):
    reporting = database.tables.local_alx_api_reporting
    with database.connect() as connection:
        return sorted(connection.execute(sa.select(*(reporting.c[name] for name in CONTENT))).all())


def test_a_sync_whose_database_dies_mid_company_leaves_no_company_half_synced(server, tmp_path):
    database = sync_site(server, "sync")
    run_sync(database, full=True)
    rename_everyone(database)
    companies = company_ids(database)
    assert len(companies) == 3
    before = {c: company_snapshot(database, c) for c in companies}
    database.engine.dispose()

    # The full sync pauses with the second company's rows written but not committed; the database dies then.
    middle = companies[1]
    doomed = SyncProcess(database.url, rf"company {middle}: .*committing", tmp_path / "release", "sync", "--full")
    doomed.wait_for("PAUSED")
    server.kill()
    (tmp_path / "release").touch()
    assert doomed.finish() == 2, "\n".join(doomed.output)  # "could not run": the database failed
    output = "\n".join(doomed.output)
    assert "sync success" not in output and "Traceback" not in output, output
    assert "Error: the database failed during the sync:" in output, output

    server.start()
    after_crash = {c: company_snapshot(database, c) for c in companies}
    first = after_crash[companies[0]]
    version = first[1].committed_version
    assert version > before[companies[0]][1].committed_version, "the first company was committed before the crash"
    for companyid in companies:
        rows, state, _ = after_crash[companyid]
        if after_crash[companyid] == before[companyid]:
            continue  # all old: exactly as before the run
        # all new: every row at the run's version, the state at that version, the new names everywhere
        assert state.committed_version == version, companyid
        assert {row.last_updated for row in rows} == {version}, companyid
        assert all(row.lastname.endswith(" Renamed") for row in rows), companyid
        assert len(rows) == len(before[companyid][0]), companyid
    assert after_crash[middle] == before[middle], "the company being written when the database died changed"
    assert after_crash[companies[2]] == before[companies[2]], "a company after the crash changed"

    # The next (automatic) run completes and leaves exactly what a clean full sync of the same site computes.
    rerun = SyncProcess(database.url, "never matches", tmp_path / "unused", "sync")
    assert rerun.finish() == 0, "\n".join(rerun.output)
    assert rerun.output[-1].startswith("sync success:"), rerun.output
    runs = database.tables.local_alxbridge_sync_run
    with database.connect() as connection:
        statuses = connection.execute(sa.select(runs.c.status).order_by(runs.c.id)).scalars().all()
    assert statuses == ["success", "aborted", "success"]
    assert company_snapshot(database, companies[0])[0] == first[0], "the committed company was rewritten"

    clean = sync_site(server, "sync_clean")
    rename_everyone(clean)
    run_sync(clean, full=True)
    assert reporting_content(database) == reporting_content(clean)
    # and a full recompute of the recovered site finds nothing to change
    again = run_sync(database, full=True)
    assert (again.created, again.updated, again.deleted, again.failed) == (0, 0, 0, [])
    database.engine.dispose()
    clean.engine.dispose()


# ---------------------------------------------------------------------------------------------------
# 3. An admin save


CONTROL_CENTER = f"{ADMIN_PREFIX}/control_center.php"
SETTINGS_TAB = f"{CONTROL_CENTER}?tab=settings"
OLD_CONFIG = {"rate_limit": "250", "max_records": "2000", "log_retention_days": "90", "alert_threshold": "medium",
              "alert_emails": "old@example.com", "enable_alerting": "0", "allow_get_method": "0"}  # fmt: skip
NEW_FORM = {
    "config_action": "save", "rate_limit": "500", "max_records": "5000", "cache_ttl": "600", "alert_cooldown": "30",
    "log_retention_days": "30", "high_api_usage_threshold": "300", "health_score_threshold": "60",
    "db_response_time_threshold": "250", "allow_get_method": ["0", "1"], "enable_alerting": ["0", "1"],
    "alert_threshold": "high", "alert_emails": "ops@example.com, dba@example.com",
}  # fmt: skip


@pytest.fixture
def admin(server):
    """A signed-in admin's test client on a small site whose global configuration holds ``OLD_CONFIG``."""
    app = make_app(server.create_database("admin"), ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    database = app.extensions["alx_database"]
    AdminSite(database)
    with database.begin() as connection:
        write_plugin_config(connection, database.tables, OLD_CONFIG)
    client = app.test_client()
    assert sign_in(client).status_code == 302
    yield client, database
    database.engine.dispose()


def stored_config(database):
    config = database.tables.config_plugins
    with database.connect() as connection:
        return connection.execute(sa.select(config).where(config.c.plugin == PLUGIN).order_by(config.c.id)).all()


def post_config(client):
    token = csrf_token(client.get(SETTINGS_TAB).get_data(as_text=True))
    return client.post(SETTINGS_TAB, data={**NEW_FORM, "csrf_token": token})


def assert_admin_error_page(response):
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:2000]
    assert 'id="error-message"' in page and "Traceback" not in page  # the admin error template, no stack
    assert response.headers["Content-Type"].startswith("text/html")
    return page


def kill_at_write(server, engine, statement_number):
    """Kill the server just before the ``statement_number``-th write to ``config_plugins`` reaches it."""
    writes = []

    def before_execute(connection, cursor, statement, parameters, context, executemany):
        if "config_plugins" in statement and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)
            if len(writes) == statement_number:
                server.kill()

    sa.event.listen(engine, "before_cursor_execute", before_execute)
    return writes, lambda: sa.event.remove(engine, "before_cursor_execute", before_execute)


def test_an_admin_save_while_the_database_is_down_answers_503_and_writes_nothing(server, admin, caplog):
    client, database = admin
    old = stored_config(database)
    token = csrf_token(client.get(SETTINGS_TAB).get_data(as_text=True))

    server.kill()
    response = client.post(SETTINGS_TAB, data={**NEW_FORM, "csrf_token": token})
    page = assert_admin_error_page(response)
    # PostgreSQL's backends run in sessions of their own and outlive their killed postmaster by a moment: the pooled
    # connection may still reach one (which ends it, "unexpected postmaster exit") instead of being refused anew.
    # Either way the admin reads that the database is unavailable.
    assert "Moodle database unavailable" in page, page
    assert "ALX_DATABASE_URL" in page or "The connection to the database was lost" in page, page
    server.start()
    assert stored_config(database) == old

    # Killed in the middle of the save: the first value is written (uncommitted), the second never arrives.
    writes, detach = kill_at_write(server, database.engine, 2)
    try:
        token = csrf_token(client.get(SETTINGS_TAB).get_data(as_text=True))
        page = assert_admin_error_page(client.post(SETTINGS_TAB, data={**NEW_FORM, "csrf_token": token}))
    finally:
        detach()
    assert len(writes) == 2, writes
    assert "Moodle database unavailable" in page and "rolled back" in page, page
    server.start()
    assert stored_config(database) == old, "a save cut off by the database left part of its values"
    assert "Traceback" not in caplog.text

    # Back: the same save succeeds, without restarting the bridge, and stores every value.
    response = post_config(client)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with database.connect() as connection:
        stored = read_plugin_config(connection, database.tables)
    expected = {"rate_limit": "500", "max_records": "5000", "log_retention_days": "30", "alert_threshold": "high",
                "alert_emails": "ops@example.com, dba@example.com", "enable_alerting": "1",
                "allow_get_method": "1"}  # fmt: skip
    assert {name: stored.get(name) for name in expected} == expected


def test_a_command_whose_database_is_down_says_so_in_one_line(server, admin):
    """``Database.begin()`` connects when its block is entered; a refused connection is still one line."""
    client, database = admin
    runner = client.application.test_cli_runner()
    server.kill()
    # A command starts in a process of its own, with no pooled connection. The sign-in's pooled one would be handed
    # out unpinged until its socket shows the server's end, which under load came after the block below.
    database.engine.dispose()
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to .*check ALX_DATABASE_URL"), database.begin():
        pass
    result = runner.invoke(args=["alx", "create-token", "--user", "admin"])
    assert result.exit_code != 0
    assert result.output.startswith("Error: cannot connect to ") and result.output.count("\n") == 1, result.output
