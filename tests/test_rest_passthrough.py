"""Pass-through to Moodle (``ALX_MOODLE_UPSTREAM``) against a small upstream HTTP server run by the test.

A function the bridge does not implement is forwarded unchanged (method, path, query, body, content
type) and Moodle's status, headers and body come back, streamed. Functions the bridge implements are
answered locally; nothing but ``/webservice/rest/server.php`` ever reaches the upstream; without an
upstream the bridge answers Moodle's unknown-function error after authentication; an unreachable
upstream gives a Moodle envelope, never a 500.
"""

import contextlib
import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlencode

import pytest

from .live_server import StandIn, live_server
from .reference_site import BASE_URL, load_reference_site, reference_app
from .rest_support import (
    BAD_TOKEN,
    RELAXED_LIMITS,
    SERVER,
    SITE_INFO,
    U10,
    SiteChanges,
    assert_moodle_response,
    call,
    envelope,
    recorded_site_info,
)

UNIMPLEMENTED = "core_course_get_courses"


class Upstream(StandIn):
    """A stand-in for Moodle: records each request and answers with ``status``/``headers``/``body``."""

    def __init__(self):
        self.seen = []
        self.status, self.headers, self.body = 200, [("Content-Type", "application/json")], b"[]"
        self.streaming = None  # (first part, second part, threading.Event to wait for between them)
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self):
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                upstream.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": self.rfile.read(length),
                    }
                )
                if upstream.streaming:
                    self._stream(*upstream.streaming)
                    return
                self.send_response(upstream.status)
                for name, value in upstream.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.body)))
                self.end_headers()
                self.wfile.write(upstream.body)

            def _stream(self, first, second, go_on):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (first, None, second):
                    if part is None:
                        upstream.waited = go_on.wait(10)  # until the client has read the first part
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True

            def log_message(self, *args):
                pass

        super().__init__(Handler)


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture
def moodle(upstream):
    """The upstream, cleared and answering a default JSON list."""
    upstream.seen.clear()
    upstream.status, upstream.headers, upstream.body = 200, [("Content-Type", "application/json")], b"[]"
    upstream.streaming = None
    return upstream


@pytest.fixture(scope="module")
def site(database_url, upstream):
    """Two apps on the reference site: one passing through to the upstream, one without upstream."""
    proxying = reference_app(database_url, ALX_MOODLE_UPSTREAM=upstream.url + "/", ALX_DEBUG_LEVEL=15, **RELAXED_LIMITS)
    local = reference_app(database_url, ALX_DEBUG_LEVEL=15, **RELAXED_LIMITS)
    load_reference_site(proxying.extensions["alx_database"])
    yield proxying, local
    for app in (proxying, local):
        app.extensions["alx_database"].engine.dispose()


def forwarded(moodle):
    assert len(moodle.seen) == 1, moodle.seen
    return moodle.seen[0]


QUERY = [("wstoken", U10), ("wsfunction", UNIMPLEMENTED), ("moodlewsrestformat", "json")]


def test_get_is_forwarded_and_the_answer_comes_back(site, moodle):
    moodle.status = 201
    moodle.headers = [("Content-Type", "application/json"), ("X-Moodle", "yes"), ("Cache-Control", "no-store")]
    moodle.body = b'[{"id":1,"fullname":"Caf\\u00e9"}]'
    response = call(site[0].test_client(), [*QUERY, ("options[ids][0]", "1")])
    request = forwarded(moodle)
    assert request["method"] == "GET"
    assert request["path"] == f"{SERVER}?{urlencode([*QUERY, ('options[ids][0]', '1')])}"
    assert request["body"] == b""
    assert request["headers"]["Host"] == BASE_URL.removeprefix("http://")  # the client's: Moodle checks it
    assert request["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert response.status_code == 201
    assert response.headers["X-Moodle"] == "yes"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    assert response.data == moodle.body


def test_raw_non_ascii_query_bytes_reach_moodle_percent_encoded_once(site, moodle):
    query = f"wstoken={U10}&wsfunction={UNIMPLEMENTED}&name=Caf\u00e9 x&done=%C3%A9".encode()
    site[0].test_client().get(SERVER, environ_overrides={"QUERY_STRING": query.decode("latin-1")}, base_url=BASE_URL)
    assert (
        forwarded(moodle)["path"] == f"{SERVER}?wstoken={U10}&wsfunction={UNIMPLEMENTED}&name=Caf%C3%A9%20x&done=%C3%A9"
    )


@pytest.mark.parametrize(
    ("method", "content_type", "body"),
    [
        ("POST", "application/x-www-form-urlencoded", f"wstoken={U10}&wsfunction={UNIMPLEMENTED}&a%5B0%5D=%C3%AB"),
        ("POST", "text/plain", f"wstoken={U10}&wsfunction={UNIMPLEMENTED}"),
        ("POST", "application/json", '{"wstoken": "x"}'),
        ("PUT", "application/x-www-form-urlencoded", "courseid=5&x.y=1"),
        ("PATCH", "application/octet-stream", "\x00\x01binary"),
    ],
)
def test_body_method_and_content_type_are_forwarded_unchanged(site, moodle, method, content_type, body):
    moodle.body = b'{"exception":"moodle_exception","errorcode":"x","message":"from upstream"}'
    query = [("wsfunction", UNIMPLEMENTED), ("moodlewsrestformat", "json")]
    response = call(site[0].test_client(), query, method=method, form=body, content_type=content_type)
    request = forwarded(moodle)
    assert (request["method"], request["headers"]["Content-Type"]) == (method, content_type)
    assert request["path"] == f"{SERVER}?{urlencode(query)}"
    assert request["body"] == body.encode()
    assert response.status_code == 200
    assert response.data == moodle.body


def test_multipart_body_is_forwarded_byte_for_byte(site, moodle):
    fields = {"wstoken": U10, "wsfunction": UNIMPLEMENTED, "courses[0][fullname]": "Zoë & Co"}
    response = site[0].test_client().post(SERVER, data=fields, content_type="multipart/form-data", base_url=BASE_URL)
    request = forwarded(moodle)
    content_type = request["headers"]["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    assert request["body"].count(boundary) == 4
    assert 'name="courses[0][fullname]"\r\n\r\nZoë & Co\r\n'.encode() in request["body"]
    assert response.data == b"[]"


def test_upstream_error_status_and_html_come_back_as_moodle_sent_them(site, moodle):
    moodle.status = 503
    moodle.headers = [("Content-Type", "text/html; charset=utf-8"), ("Retry-After", "300")]
    moodle.body = b"<html>Moodle under maintenance</html>"
    response = call(site[0].test_client(), QUERY)
    assert (response.status_code, response.headers["Retry-After"], response.data) == (503, "300", moodle.body)


def test_an_invalid_token_is_moodles_business(site, moodle):
    """Pass-through happens before authentication: Moodle itself judges the token it receives."""
    call(site[0].test_client(), [("wstoken", BAD_TOKEN), ("wsfunction", UNIMPLEMENTED)])
    assert forwarded(moodle)["path"] == f"{SERVER}?wstoken={BAD_TOKEN}&wsfunction={UNIMPLEMENTED}"


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_implemented_functions_are_answered_locally(site, moodle, response_format):
    query = [("wstoken", U10), ("wsfunction", SITE_INFO)]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    response = call(site[0].test_client(), query)
    assert_moodle_response(response, response_format, recorded_site_info(response_format))
    assert moodle.seen == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("wstoken", U10)], ("invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected",
                              "Missing function name")),
        ([("wstoken", U10), ("wsfunction", "")], ("invalid_parameter_exception", "invalidparameter",
                                                  "Invalid parameter value detected", "Missing function name")),
        ([("wstoken", U10), ("wsfunction[]", UNIMPLEMENTED)],
         ("dml_missing_record_exception", "invalidrecord",
          "Can't find data record in database table external_functions.",
          "SELECT * FROM {external_functions} WHERE name = ?\n[array (\n  0 => 'Array',\n)]")),
    ],
)  # fmt: skip
def test_calls_without_a_function_name_are_not_forwarded(site, moodle, query, expected):
    response = call(site[0].test_client(), [*query, ("moodlewsrestformat", "json")])
    assert_moodle_response(response, "json", envelope("json", *expected))
    assert moodle.seen == []


@pytest.mark.parametrize(
    "path",
    [
        "/login/token.php?username=admin&password=x&service=moodle_mobile_app",
        "/webservice/rest/simpleserver.php?wsfunction=core_course_get_courses",
        "/webservice/rest/server.php/extra?wsfunction=core_course_get_courses",
        "/webservice/pluginfile.php/1/user/icon",
        "/webservice/rest/server.phpx?wsfunction=core_course_get_courses",
        "/?wsfunction=core_course_get_courses",
    ],
)
def test_no_other_path_is_forwarded(site, moodle, path):
    response = site[0].test_client().get(path, base_url=BASE_URL)
    assert response.status_code == 404
    assert moodle.seen == []


def _raw_request(base_url, request_line):
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"{request_line}\r\nHost: evil.example\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def test_absolute_urls_do_not_make_an_open_proxy(site, moodle):
    """A proxy-style request line names another host: only the path counts, and only for server.php."""
    with live_server(site[0]) as base_url:
        answer = _raw_request(base_url, "GET http://evil.example/login/token.php?username=a HTTP/1.1")
        assert answer.startswith(b"HTTP/1.1 404")
        assert moodle.seen == []
        answer = _raw_request(base_url, f"GET http://evil.example{SERVER}?wsfunction={UNIMPLEMENTED} HTTP/1.1")
        assert answer.startswith(b"HTTP/1.1 200")
    request = forwarded(moodle)  # to the configured upstream, whatever host the request line named
    assert request["path"] == f"{SERVER}?wsfunction={UNIMPLEMENTED}"
    # The client's Host goes along, for Moodle to judge against its wwwroot (it redirects a stranger's).
    assert request["headers"]["Host"] == "evil.example"


def test_answer_is_streamed(site, moodle):
    """The first part of Moodle's answer reaches the client while Moodle is still writing the rest."""
    go_on = threading.Event()
    moodle.streaming = (b'[{"id":1},', b'{"id":2}]', go_on)
    with live_server(site[0]) as base_url:
        connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=10)
        connection.request("GET", f"{SERVER}?{urlencode(QUERY)}")
        response = connection.getresponse()
        assert response.status == 200
        first = response.read1(65536)
        assert first == b'[{"id":1},'
        assert not go_on.is_set()  # Moodle has not finished: the bridge did not buffer the answer
        go_on.set()
        rest = response.read()
        connection.close()
    assert first + rest == b'[{"id":1},{"id":2}]'
    assert moodle.waited


def unknown_function(name):
    return (
        "dml_missing_record_exception", "invalidrecord", "Can't find data record in database table external_functions.",
        f"SELECT * FROM {{external_functions}} WHERE name = ?\n[array (\n  0 => '{name}',\n)]",
    )  # fmt: skip


@pytest.fixture
def declared_in_service(site):
    """``core_course_get_courses`` declared in Moodle and granted by u10's service, yet not implemented here."""
    changes = SiteChanges(site[1].extensions["alx_database"])
    changes.insert("external_functions", name=UNIMPLEMENTED, classname="core_course_external",
                   methodname="get_courses", component="moodle")  # fmt: skip
    changes.insert("external_services_functions", externalserviceid=3, functionname=UNIMPLEMENTED)
    yield
    changes.restore()


@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize(
    ("token", "function", "expected"),
    [
        (U10, UNIMPLEMENTED, unknown_function(UNIMPLEMENTED)),
        (U10, "core_no_such_function", unknown_function("core_no_such_function")),
        (BAD_TOKEN, UNIMPLEMENTED, ("moodle_exception", "invalidtoken", "Invalid token - token not found", None)),
    ],
)
def test_without_upstream_unimplemented_functions_are_unknown_after_authentication(
    site, moodle, token, function, expected, response_format
):
    query = [("wstoken", token), ("wsfunction", function)]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    response = call(site[1].test_client(), query)
    assert_moodle_response(response, response_format, envelope(response_format, *expected))
    assert moodle.seen == []


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_without_upstream_a_declared_and_granted_but_unimplemented_function_is_unknown(
    site, moodle, declared_in_service, response_format
):
    """Moodle's access checks pass (the service grants it), then the bridge has no code for it."""
    query = [("wstoken", U10), ("wsfunction", UNIMPLEMENTED)]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    response = call(site[1].test_client(), query)
    assert_moodle_response(response, response_format, envelope(response_format, *unknown_function(UNIMPLEMENTED)))
    not_granted = call(site[1].test_client(), [("wstoken", "a1c0ffee000000000000000000070001"), *query[1:]])
    assert b"accessexception" in not_granted.data  # u12's service lacks it: Moodle's order, access first
    assert moodle.seen == []


def _closed_port():
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_unreachable_upstream_is_a_moodle_envelope(database_url, site, response_format, caplog):
    app = reference_app(database_url, ALX_MOODLE_UPSTREAM=f"http://127.0.0.1:{_closed_port()}", **RELAXED_LIMITS)
    query = [("wstoken", U10), ("wsfunction", UNIMPLEMENTED)]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    started = time.monotonic()
    response = call(app.test_client(), query)
    assert time.monotonic() - started < 10
    expected = envelope(
        response_format,
        "moodle_exception",
        "upstreamunreachable",
        "The Moodle site behind ALX Bridge cannot be reached",
    )
    assert_moodle_response(response, response_format, expected)
    assert any("pass-through of core_course_get_courses failed" in r.getMessage() for r in caplog.records)
    assert all(U10 not in r.getMessage() for r in caplog.records)
    app.extensions["alx_database"].engine.dispose()
