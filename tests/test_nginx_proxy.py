"""deploy/nginx-alxbridge.conf in front of a live bridge and a stub Moodle: routing, client addresses, the
access log, the health location, and the edit for a Moodle served under a path.

Debian's nginx runs on loopback with the deploy file, only its upstream addresses, listen port and log
folder replaced (tests/nginx_support.py). The client connects from 127.0.0.2 so that "the real client" and
"the proxy" (127.0.0.1) differ, as they do in production.
"""

import http.client
import json
import re
import time
from http.server import BaseHTTPRequestHandler

import pytest
import sqlalchemy as sa

from alxbridge.demo import build_demo_site
from alxbridge.moodle.tokens import create_token

from .conftest import make_app
from .live_server import StandIn, live_server
from .moodle_standin import MoodleConfig, MoodleStandIn
from .nginx_support import nginx_in_front

CLIENT_ADDRESS = "127.0.0.2"
PROGRESS = "local_alx_report_api_get_course_progress"


class StubMoodle(BaseHTTPRequestHandler):
    """Answers every request with what it received, so tests see what nginx forwarded to Moodle."""

    def do_GET(self):
        body = json.dumps({"stub": "moodle", "path": self.path, "x_forwarded_for": self.headers.get("X-Forwarded-For")})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stub_moodle():
    with StandIn(StubMoodle) as stub:
        yield stub.address


@pytest.fixture(scope="module")
def bridge(mysql_url, stub_moodle):
    app = make_app(mysql_url, ALX_TRUSTED_PROXIES=1, ALX_MOODLE_UPSTREAM=f"http://{stub_moodle}")
    database = app.extensions["alx_database"]
    logins = build_demo_site(database, companies=2, users=30, courses=4)
    owner = next(t.username for t in logins.tokens if t.username)
    with database.begin() as connection:
        tokens = {
            "open": next(t.token for t in logins.tokens if t.token),
            "client_only": create_token(
                connection, database.tables, owner, ip_restriction=CLIENT_ADDRESS, now=database.now()
            ),
            "forged_only": create_token(
                connection, database.tables, owner, ip_restriction="10.9.9.9", now=database.now()
            ),
        }
    with live_server(app) as url:
        yield url.removeprefix("http://"), tokens, database
    database.engine.dispose()


@pytest.fixture(scope="module")
def proxy(bridge, stub_moodle, tmp_path_factory):
    with nginx_in_front(tmp_path_factory.mktemp("nginx"), [bridge[0]], stub_moodle) as running:
        yield running


@pytest.fixture(scope="module")
def nginx(proxy):
    return proxy.port


def get(port, path, headers=None, client=CLIENT_ADDRESS):
    """GET through nginx from the client address; returns (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(client, 0))
    connection.request("GET", path, headers={"Host": "moodle.example.com", **(headers or {})})
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    return response.status, response.headers, body


def progress_path(token):
    return f"/webservice/rest/server.php?wstoken={token}&wsfunction={PROGRESS}&moodlewsrestformat=json&limit=5"


def test_the_reporting_function_is_answered_by_the_bridge(nginx, bridge):
    status, headers, body = get(nginx, progress_path(bridge[1]["open"]))
    assert status == 200
    assert isinstance(json.loads(body), list)
    assert "X-Request-Id" not in headers  # the REST server's headers stay exactly Moodle's


def test_the_admin_pages_are_the_bridges(nginx, bridge):
    status, headers, body = get(nginx, "/local/alx_report_api/login.php")
    assert status == 200 and 'id="loginbtn"' in body
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])  # nginx's request id, carried through


def test_everything_else_goes_to_moodle_with_the_real_client_address(nginx):
    status, _, body = get(nginx, "/course/view.php?id=2", headers={"X-Forwarded-For": "10.9.9.9"})
    answer = json.loads(body)
    assert status == 200 and answer["path"] == "/course/view.php?id=2"
    assert answer["x_forwarded_for"] == CLIENT_ADDRESS


def test_other_web_service_functions_pass_through_to_moodle(nginx, bridge):
    status, _, body = get(
        nginx, f"/webservice/rest/server.php?wstoken={bridge[1]['open']}&wsfunction=core_course_get_courses"
    )
    answer = json.loads(body)
    assert status == 200 and answer["stub"] == "moodle"
    assert answer["x_forwarded_for"].endswith(CLIENT_ADDRESS)


def test_ip_restrictions_and_logs_see_the_real_client(nginx, bridge):
    _, tokens, database = bridge
    status, _, body = get(nginx, progress_path(tokens["client_only"]))
    assert status == 200 and isinstance(json.loads(body), list)
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        last_ip = connection.execute(sa.select(logs.c.ip_address).order_by(logs.c.id.desc()).limit(1)).scalar()
    assert last_ip == CLIENT_ADDRESS


def test_a_forged_forwarded_for_does_not_pass_an_ip_restriction(nginx, bridge):
    status, _, body = get(nginx, progress_path(bridge[1]["forged_only"]), headers={"X-Forwarded-For": "10.9.9.9"})
    assert status == 200 and json.loads(body)["errorcode"] == "accessexception"
    # …and the forged header does not make the real client look like someone else either.
    status, _, body = get(nginx, progress_path(bridge[1]["client_only"]), headers={"X-Forwarded-For": "10.9.9.9"})
    assert status == 200 and isinstance(json.loads(body), list)


def test_no_token_reaches_any_nginx_log(proxy, bridge):
    """The shipped log_format has no query string; each line carries nginx's request id, as the bridge's does."""
    token = bridge[1]["open"]
    status, _, _ = get(proxy.port, progress_path(token))
    assert status == 200
    _, headers, _ = get(proxy.port, "/local/alx_report_api/login.php")
    # nginx writes a request's line once the request is finalised, which can be just after the client has the answer.
    line_id = f"rid={headers['X-Request-Id']}"
    deadline = time.monotonic() + 10
    while True:
        logs = {path.name: path.read_text() for path in proxy.log_files()}
        if line_id in logs.get("alxbridge-access.log", "") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "alxbridge-access.log" in logs and "/webservice/rest/server.php" in logs["alxbridge-access.log"]
    assert line_id in logs["alxbridge-access.log"]
    leaks = [name for name, text in logs.items() if token in text or "wstoken" in text]
    assert leaks == []


def test_the_health_location_answers_this_host_only(proxy):
    status, _, body = get(proxy.port, "/alxbridge/healthz", client="127.0.0.1")
    assert status == 200 and json.loads(body)["status"] in ("ok", "degraded")
    status, _, _ = get(proxy.port, "/alxbridge/healthz")  # another host: add its address to allow
    assert status == 403


WWWROOT_WITH_PATH = "http://moodle.example.com/moodle"


@pytest.fixture(scope="module")
def moodle_under_a_path():
    with MoodleStandIn(MoodleConfig(WWWROOT_WITH_PATH)) as moodle:
        yield moodle


@pytest.fixture(scope="module")
def nginx_under_a_path(mysql_url, bridge, moodle_under_a_path, tmp_path_factory):
    """The deploy file edited for wwwroot …/moodle, in front of a bridge passing through to a Moodle there."""
    app = make_app(mysql_url, ALX_TRUSTED_PROXIES=1, ALX_MOODLE_UPSTREAM=moodle_under_a_path.url)
    folder = tmp_path_factory.mktemp("nginx-path")
    with (
        live_server(app) as url,
        nginx_in_front(folder, [url.removeprefix("http://")], moodle_under_a_path.address, "/moodle") as running,
    ):
        yield running.port
    app.extensions["alx_database"].engine.dispose()


def test_under_a_path_the_api_and_pass_through_answer_json(nginx_under_a_path, bridge):
    status, _, body = get(nginx_under_a_path, "/moodle" + progress_path(bridge[1]["open"]))
    assert status == 200 and isinstance(json.loads(body), list)
    query = f"wstoken={bridge[1]['open']}&wsfunction=core_course_get_courses"
    status, _, body = get(nginx_under_a_path, f"/moodle/webservice/rest/server.php?{query}")
    assert status == 200
    assert json.loads(body)["fullme"] == f"{WWWROOT_WITH_PATH}/webservice/rest/server.php?{query}"


def test_under_a_path_the_admin_pages_link_and_sign_in_below_it(nginx_under_a_path, bridge):
    status, _, body = get(nginx_under_a_path, "/moodle/local/alx_report_api/login.php")
    assert status == 200
    assert 'action="/moodle/local/alx_report_api/login.php"' in body
    assert 'href="/moodle/local/alx_report_api/static/' in body
    status, headers, _ = get(nginx_under_a_path, "/moodle/local/alx_report_api/control_center.php")
    assert status == 302 and headers["Location"].startswith("/moodle/local/alx_report_api/login.php")


def test_a_client_cannot_set_the_path_prefix(nginx):
    """$moodle_path is empty at the root: nginx then drops X-Forwarded-Prefix, the client's included."""
    status, _, body = get(nginx, "/local/alx_report_api/login.php", headers={"X-Forwarded-Prefix": "/evil"})
    assert status == 200 and 'action="/local/alx_report_api/login.php"' in body
