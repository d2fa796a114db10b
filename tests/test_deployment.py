"""A deployment that follows docs/operations.md §2 and §4, in front of a Moodle stand-in that enforces wwwroot.

What is the operator's, as the guide has it:

* the environment file, with exactly the settings the guide's example lists (values for this site, each
  single-quoted as the guide advises), read with the guide's own ``set -a; . FILE; set +a``;
* the guide's commands, run from the checkout as ``/opt/alxbridge/app``: ``repair-tables --check``,
  ``repair-tables``, ``sync --full``, then gunicorn with ``ExecStart=`` of ``deploy/alxbridge.service`` (its
  port moved through ``GUNICORN_CMD_ARGS``, as the guide allows, so as not to collide with other servers);
* ``deploy/nginx-alxbridge.conf`` as shipped (tests/nginx_support.py moves only its upstreams, port and log
  folder), and the guide's ``curl`` of ``/healthz`` on the bridge's port and, for a monitor, through nginx.

What stands in: the "venv install" is this test run's venv (a fresh ``pip install`` would only repeat what
tests/test_packaging.py checks, at minutes' cost); ``runuser -u alxbridge --`` is left out (no system user is
created on a shared test host; the commands run as the test's user with the same environment); the IOMAD
site is ``alx demo``'s, in a fresh MariaDB database, then a PostgreSQL one; Moodle's web server is
:class:`~tests.moodle_standin.MoodleStandIn`, which redirects any request whose Host is not wwwroot's.
"""

import http.client
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .gunicorn_support import stop
from .moodle_standin import MoodleConfig, MoodleStandIn
from .nginx_support import free_port, nginx_in_front

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
UNIT = (ROOT / "deploy" / "alxbridge.service").read_text(encoding="utf-8")
VENV_BIN = Path(sys.executable).parent
WWWROOT = "http://moodle.example.com"
CLIENT = "127.0.0.2"
REDIS_URL = "redis://127.0.0.1:6379/14"
READ_ENV = "set -a; . /etc/alxbridge/alxbridge.env; set +a"
COMMANDS = (  # as the guide writes them, after "runuser -u alxbridge -- "
    ".venv/bin/flask --app wsgi alx repair-tables --check",
    ".venv/bin/flask --app wsgi alx repair-tables",
    ".venv/bin/flask --app wsgi alx sync --full",
)


def guide_block_after(marker):
    """The fenced block that follows ``marker`` in the guide."""
    start = GUIDE.index(marker)
    block = re.search(r"```sh\n(.*?)```", GUIDE[start:], flags=re.DOTALL)
    return block.group(1)


def env_file(path, moodle, database_url):
    """The guide's example file with this site's values; fails if the guide lists other settings."""
    documented = [line.split("=", 1)[0] for line in guide_block_after("Put the configuration in").splitlines()]
    values = {
        "ALX_DATABASE_URL": database_url,
        "ALX_DB_PREFIX": "mdl_",
        "ALX_SECRET_KEY": "deployment-test-secret",
        "ALX_TRUSTED_PROXIES": "1",
        "ALX_MOODLE_WWWROOT": WWWROOT,
        "ALX_MOODLE_UPSTREAM": moodle.url,
        "ALX_SMTP_URL": "smtp://127.0.0.1:1?starttls=0",
        "ALX_RATELIMIT_STORAGE_URI": REDIS_URL,
    }
    assert documented == list(values), "the guide's example environment file changed: follow it here"
    values.update(WEB_CONCURRENCY="2", ALX_SCHEDULER="off")  # §6 starts this way; the jobs are not tested here
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items()))
    path.chmod(0o600)
    return path


def clean_environment():
    return {name: value for name, value in os.environ.items() if not name.startswith(("ALX_", "WEB_CONCURRENCY"))}


def in_guide_shell(env, command, prelude="", **options):
    """``command`` (paths as in the guide) in a shell that read the environment file as the guide does."""
    assert READ_ENV in GUIDE
    read_env = READ_ENV.replace("/etc/alxbridge/alxbridge.env", shlex.quote(str(env)))
    script = f"{read_env}; {prelude}exec {command.replace('.venv/bin/', f'{VENV_BIN}/')}"
    return subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=clean_environment(), **options)


def run(env, command, timeout=180):
    process = in_guide_shell(env, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def run_documented(env, command):
    assert f"runuser -u alxbridge -- {command}" in GUIDE, command
    return run(env, command)


def http_get(port, path, client="127.0.0.1", host="moodle.example.com"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(client, 0))
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_until_serving(port, process, log, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if http_get(port, "/healthz", host=f"127.0.0.1:{port}")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def deployment(request, new_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("deployment")
    with MoodleStandIn(MoodleConfig(WWWROOT)) as moodle, new_database(request.param) as database_url:
        env = env_file(folder / "alxbridge.env", moodle, database_url)
        code, output = run(env, ".venv/bin/flask --app wsgi alx demo --companies 2 --users 20 --courses 4")
        assert code == 0, output
        token = re.search(r"^  \S.*\s([0-9a-f]{32})$", output, flags=re.MULTILINE).group(1)  # a row of the token table
        steps = {command: run_documented(env, command) for command in COMMANDS}
        [exec_start] = re.findall(r"^ExecStart=(.*)$", UNIT, flags=re.MULTILINE)
        assert exec_start.startswith("/opt/alxbridge/app/.venv/bin/")
        port = free_port()
        journal = folder / "journal.log"  # what systemd keeps: gunicorn's and the bridge's standard error
        with open(journal, "wb") as output_file:
            server = in_guide_shell(
                env, exec_start.removeprefix("/opt/alxbridge/app/"),
                prelude=f"export GUNICORN_CMD_ARGS='--bind 127.0.0.1:{port}'; ",
                stdout=output_file, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until_serving(port, server, journal)
            with nginx_in_front(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{port}"], moodle.address) as nginx:
                yield {"steps": steps, "token": token, "port": port, "nginx": nginx, "journal": journal}
        finally:
            stop(server)


def test_the_documented_commands_prepare_the_site(deployment):
    check, repair, sync = (deployment["steps"][command] for command in COMMANDS)
    assert check[0] == 0 and "all tables match install.xml" in check[1], check[1]  # the demo built them
    assert repair[0] == 0 and "0 change(s) made" in repair[1], repair[1]
    assert sync[0] == 0, sync[1]


def test_rest_and_pass_through_answer_json_through_nginx(deployment):
    port, token = deployment["nginx"].port, deployment["token"]
    query = f"wstoken={token}&moodlewsrestformat=json"
    status, body = http_get(
        port, f"/webservice/rest/server.php?{query}&wsfunction=local_alx_report_api_get_course_progress&limit=5", CLIENT
    )
    assert status == 200 and isinstance(json.loads(body), list) and json.loads(body), body
    status, body = http_get(port, f"/webservice/rest/server.php?{query}&wsfunction=core_course_get_courses", CLIENT)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["fullme"] == f"{WWWROOT}/webservice/rest/server.php?{query}&wsfunction=core_course_get_courses"
    assert answer["x_forwarded_for"] == CLIENT


def test_healthz_is_reachable_as_documented(deployment):
    assert "curl -s http://127.0.0.1:8000/healthz" in GUIDE and "/alxbridge/healthz" in GUIDE
    status, body = http_get(deployment["port"], "/healthz", host="127.0.0.1:8000")
    assert status == 200 and json.loads(body)["database"]
    status, body = http_get(deployment["nginx"].port, "/alxbridge/healthz")  # from the host itself
    assert status == 200 and json.loads(body)["status"] in ("ok", "degraded")
    assert http_get(deployment["nginx"].port, "/alxbridge/healthz", CLIENT)[0] == 403  # until allowed


def test_a_token_in_a_get_leaves_no_trace_in_any_log(deployment):
    token = deployment["token"]
    http_get(
        deployment["nginx"].port,
        f"/webservice/rest/server.php?wstoken={token}&wsfunction=core_course_get_courses",
        CLIENT,
    )
    logs = [deployment["journal"], *deployment["nginx"].log_files()]
    assert deployment["nginx"].access_log() in logs
    assert "core_course_get_courses" not in deployment["nginx"].access_log().read_text()  # no query strings
    assert "/webservice/rest/server.php" in deployment["journal"].read_text()  # the bridge logged the call
    assert [log.name for log in logs if token in log.read_text(errors="replace")] == []
