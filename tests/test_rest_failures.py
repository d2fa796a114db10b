"""Unexpected failures still answer a Moodle envelope with HTTP 200: no traceback, no HTML, no token in logs.

A database that cannot be reached is ``dml_connection_exception``/``dbconnectionfailed``; one lost under a
running app is ``dml_read_exception``/``dmlreadexception`` "Error reading from database"; any other
exception is ``generalexceptionmessage`` carrying a request id that finds the traceback in the log.
"""

import dataclasses
import logging
import re

import pytest
import sqlalchemy as sa

from alxbridge.webservice.registry import FUNCTIONS

from .reference_site import load_reference_site, reference_app
from .rest_support import RELAXED_LIMITS, SITE_INFO, U10, assert_moodle_response, call, envelope, recorded_site_info

FORMATS = ["json", "xml"]


def site_info_query(response_format, token=U10):
    query = [("wstoken", token), ("wsfunction", SITE_INFO)]
    return [*query, ("moodlewsrestformat", "json")] if response_format == "json" else query


def logged_text(caplog):
    """Every log line as it would be written, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def assert_no_leak(response, caplog, *secrets):
    for text in (response.data.decode("utf-8", "replace"), logged_text(caplog)):
        for secret in (U10, *secrets):
            assert secret not in text
    assert b"Traceback" not in response.data
    assert b"<html" not in response.data.lower()


# --- the database cannot be reached ---------------------------------------------------------------

UNREACHABLE = [
    pytest.param("mysql+mysqldb://alx:s3cr3t-pw@127.0.0.1:1/moodle", id="mariadb-refused"),
    pytest.param("sqlite:////nonexistent-dir/alx/moodle.db", id="sqlite-unopenable"),
]


@pytest.mark.parametrize("response_format", FORMATS)
@pytest.mark.parametrize("url", UNREACHABLE)
def test_unreachable_database(url, response_format, caplog):
    app = reference_app(url, **RELAXED_LIMITS)
    with caplog.at_level(logging.INFO):
        response = call(app.test_client(), site_info_query(response_format))
    expected = envelope(
        response_format, "dml_connection_exception", "dbconnectionfailed", "Error: Database connection failed"
    )
    assert_moodle_response(response, response_format, expected)
    assert_no_leak(response, caplog, "s3cr3t-pw")
    assert "cannot connect to" in logged_text(caplog)


@pytest.mark.parametrize("response_format", FORMATS)
def test_unreachable_database_debuginfo_names_the_server_not_the_password(response_format, caplog):
    app = reference_app(UNREACHABLE[0].values[0], ALX_DEBUG_LEVEL=15, **RELAXED_LIMITS)
    response = call(app.test_client(), site_info_query(response_format))
    assert_moodle_response(response, response_format)
    assert b"dbconnectionfailed" in response.data
    text = response.data.decode().replace("\\/", "/")  # JSON writes / as \/
    assert "cannot connect to mysql+mysqldb://***@127.0.0.1:1/moodle" in text  # user and password hidden
    assert_no_leak(response, caplog, "s3cr3t-pw")


# --- the database goes away under a running app (MariaDB; killed connections on PostgreSQL too) -----------


@pytest.fixture
def doomed_site(request, new_database):
    """A reference site served by an app (MariaDB unless the test asks for another backend), and a way to drop or
    cut its database."""
    with new_database(getattr(request, "param", "mysql")) as url:
        app = reference_app(url, **RELAXED_LIMITS)
        database = app.extensions["alx_database"]
        load_reference_site(database)
        yield app, database.engine.url.database
        database.engine.dispose()


# The server sessions of one database, ended from another session (``KILL``, ``pg_terminate_backend``).
SESSIONS = {
    "mysql": ("SELECT id FROM information_schema.PROCESSLIST WHERE db = :name", "KILL {}"),
    "postgres": (
        "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()",
        "SELECT pg_terminate_backend({})",
    ),
}


def _kill_connections(server, name, backend="mysql"):
    """End every session of database ``name``; return how many there were."""
    sessions, end = SESSIONS[backend]
    with server.connect() as connection:
        ids = list(connection.execute(sa.text(sessions), {"name": name}).scalars())
        for session_id in ids:
            connection.execute(sa.text(end.format(int(session_id))))
    return len(ids)


def test_database_dropped_under_the_running_app(doomed_site, mysql_server, caplog):
    app, name = doomed_site
    client = app.test_client()
    assert_moodle_response(call(client, site_info_query("json")), "json", recorded_site_info("json"))
    with mysql_server.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE `{name}`"))
    for response_format in FORMATS:
        response = call(client, site_info_query(response_format))
        expected = envelope(response_format, "dml_read_exception", "dmlreadexception", "Error reading from database")
        assert_moodle_response(response, response_format, expected)
        assert_no_leak(response, caplog)
    assert re.search(r"request [0-9a-f]{12}: database error in core_webservice_get_site_info: .*doesn't exist",
                     logged_text(caplog))  # fmt: skip


def test_database_dropped_debuginfo_carries_the_driver_message(doomed_site, mysql_server):
    app, name = doomed_site
    debug_app = reference_app(str(app.config["ALX_DATABASE_URL"]), ALX_DEBUG_LEVEL=15, **RELAXED_LIMITS)
    client = debug_app.test_client()
    assert_moodle_response(call(client, site_info_query("json")), "json", recorded_site_info("json"))
    with mysql_server.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE `{name}`"))
    response = call(client, site_info_query("json"))
    assert_moodle_response(response, "json")
    assert response.json["errorcode"] == "dmlreadexception"
    assert re.fullmatch(r"\(1146, \"Table '.*' doesn't exist\"\)", response.json["debuginfo"])
    debug_app.extensions["alx_database"].engine.dispose()


@pytest.mark.parametrize("doomed_site", ["mysql", "postgres"], indirect=True)
def test_killed_connection_is_replaced_transparently(doomed_site, request):
    """A connection the server dropped between calls (restart, wait_timeout, KILL, pg_terminate_backend) is not an
    error."""
    app, name = doomed_site
    backend = "postgres" if app.extensions["alx_database"].is_postgres else "mysql"
    client = app.test_client()
    assert_moodle_response(call(client, site_info_query("xml")), "xml", recorded_site_info("xml"))
    assert _kill_connections(request.getfixturevalue(f"{backend}_server"), name, backend)
    assert_moodle_response(call(client, site_info_query("xml")), "xml", recorded_site_info("xml"))


# --- an exception inside a function ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(database_url):
    apps = {level: reference_app(database_url, ALX_DEBUG_LEVEL=level, **RELAXED_LIMITS) for level in (0, 15)}
    load_reference_site(apps[0].extensions["alx_database"])
    yield apps
    for app in apps.values():
        app.extensions["alx_database"].engine.dispose()


def _failing(monkeypatch, exception_factory):
    original = FUNCTIONS[SITE_INFO]

    def run(context, params):
        raise exception_factory(context)

    monkeypatch.setitem(FUNCTIONS, SITE_INFO, dataclasses.replace(original, run=run))


@pytest.mark.parametrize("debug", [0, 15])
@pytest.mark.parametrize("response_format", FORMATS)
def test_unexpected_exception_is_an_envelope_with_a_request_id(site, monkeypatch, caplog, response_format, debug):
    _failing(monkeypatch, lambda context: RuntimeError("boom: internal detail"))
    with caplog.at_level(logging.INFO):
        response = call(site[debug].test_client(), site_info_query(response_format))
    assert_moodle_response(response, response_format)
    request_id = re.search(rb"request id ([0-9a-f]{12})", response.data).group(1).decode()
    message = f"Error: unexpected server error (request id {request_id})"
    assert response.data == envelope(response_format, "moodle_exception", "generalexceptionmessage", message)
    assert b"boom" not in response.data
    assert_no_leak(response, caplog)
    (record,) = [r for r in caplog.records if request_id in r.getMessage() and r.name != "alxbridge.access"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(f"request {request_id}: unexpected error in {SITE_INFO}")
    assert "RuntimeError: boom: internal detail" in logged_text(caplog)  # the traceback is in the log only


@pytest.mark.parametrize("response_format", FORMATS)
def test_exception_quoting_the_token_does_not_put_it_in_the_log(site, monkeypatch, caplog, response_format):
    """SQLAlchemy errors render their bound parameters; the token is one of them in every auth query."""
    _failing(
        monkeypatch,
        lambda context: sa.exc.StatementError(
            "bind failed", "SELECT id FROM mdl_external_tokens WHERE token = ?", (context.token,), ValueError("x")
        ),
    )
    response = call(site[0].test_client(), site_info_query(response_format))
    assert b"generalexceptionmessage" in response.data
    assert "bind failed" in logged_text(caplog)
    assert_no_leak(response, caplog)


@pytest.mark.parametrize("response_format", FORMATS)
def test_database_error_inside_a_function_is_a_read_error(site, monkeypatch, caplog, response_format):
    _failing(
        monkeypatch,
        lambda context: sa.exc.OperationalError(
            "SELECT 1", (context.token,), Exception(f"Lost connection to server during query ({context.token})")
        ),
    )
    response = call(site[15].test_client(), site_info_query(response_format))
    debuginfo = f"Lost connection to server during query ({U10})"  # the caller's own token, to the caller only
    expected = envelope(
        response_format, "dml_read_exception", "dmlreadexception", "Error reading from database", debuginfo
    )
    assert_moodle_response(response, response_format, expected)
    assert "Lost connection to server during query" in logged_text(caplog)
    assert U10 not in logged_text(caplog)


def test_value_json_cannot_encode_is_an_envelope_not_a_500(site, monkeypatch, caplog):
    """Serialising happens inside the error handling too: a PARAM_RAW value PHP could not encode."""
    original = FUNCTIONS[SITE_INFO]

    def run(context, params):
        return {**original.run(context, params), "sitename": object()}

    monkeypatch.setitem(FUNCTIONS, SITE_INFO, dataclasses.replace(original, run=run))
    response = call(site[0].test_client(), site_info_query("json"))
    assert_moodle_response(response, "json")
    assert response.json["errorcode"] == "generalexceptionmessage"
    assert "cannot encode object" in logged_text(caplog)
    assert_no_leak(response, caplog)
