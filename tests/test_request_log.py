"""The access log: one JSON line per request with a request id, and never a token."""

import json
import logging

import pytest

from alxbridge.operations.requestlog import SecretMaskingFilter

from .conftest import make_app
from .sitebuilder import SiteBuilder

TOKEN = "0123456789abcdef0123456789abcdef"


def access_lines(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "alxbridge.access"]


def test_each_request_logs_one_json_line_with_its_id_and_no_query(app, database, caplog):
    SiteBuilder(database).create_tables()
    with caplog.at_level(logging.INFO, logger="alxbridge.access"):
        response = app.test_client().get(
            f"/webservice/rest/server.php?wstoken={TOKEN}&wsfunction=core_webservice_get_site_info"
            "&moodlewsrestformat=json"
        )
    [line] = access_lines(caplog)
    assert line["path"] == "/webservice/rest/server.php" and line["status"] == response.status_code
    assert line["wsfunction"] == "core_webservice_get_site_info"
    assert len(line["request_id"]) == 12 and "X-Request-Id" not in response.headers  # Moodle's headers only
    assert TOKEN not in caplog.text


def test_a_proxys_request_id_is_kept_and_a_hostile_one_replaced(app, database, caplog):
    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-Id": "edge-42"}).headers["X-Request-Id"] == "edge-42"
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id;<x>"}).headers["X-Request-Id"]
    assert replaced != "bad id;<x>" and len(replaced) == 12


def test_request_lines_of_the_servers_own_logs_are_masked():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s', ("127.0.0.1", f"GET /x?wstoken={TOKEN}&a=1", 200), None
    )
    SecretMaskingFilter().filter(record)
    assert TOKEN not in record.getMessage() and "wstoken=***&a=1" in record.getMessage()


def test_logging_a_streamed_response_does_not_buffer_it(database_url, caplog):
    """The access line is written before the body is sent: it must not read the stream to measure it."""
    app = make_app(database_url)
    produced = []

    def body():
        for chunk in (b"a", b"b"):
            produced.append(chunk)
            yield chunk

    @app.route("/_stream_probe")
    def stream_probe():
        return app.response_class(body())

    with caplog.at_level(logging.INFO, logger="alxbridge.access"):
        response = app.test_client().get("/_stream_probe", buffered=False)
        [line] = access_lines(caplog)
        assert len(produced) < 2 and line["bytes"] is None  # the test client itself pulls the first chunk
        assert b"".join(response.response) == b"ab"


@pytest.mark.parametrize(
    "query", ["%77stoken={}", "ws%74oken={}", "WSTOKEN={}", "+wstoken={}", "wstoken[]={}", "a=1&%70assword={}"]
)
def test_every_spelling_php_reads_as_a_secret_parameter_is_masked(query):
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '"%s" %s', (f"GET /x?{query.format(TOKEN)} HTTP/1.1", 200), None
    )
    SecretMaskingFilter().filter(record)
    assert TOKEN not in record.getMessage() and "=***" in record.getMessage()
