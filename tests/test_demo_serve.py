"""``./run demo`` as a first-time visitor runs it: a synced site at once, learners at work, dashboards that move.

The demo is started with the very command the ``run`` script's demo branch executes (read from the script,
so the two cannot drift), in its own process on a free port and a temporary SQLite file, and is then only
reached over HTTP, as a visitor would. The test sits idle for a minute (six of the demo's 10-second ticks)
while it measures the process's CPU time and memory from ``/proc``; then the Control Center shows the
synced rows, the API shows changes the simulator made (each named by an event it logged), the Auto-Sync
page's tick lag is within its threshold, and after Ctrl-C the simulator reports its own thread's CPU time.
"""

import http.cookiejar
import json
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from alxbridge.demo.server import DEMO_TICK_SECONDS
from alxbridge.metrics.freshness import lag_threshold
from alxbridge.sync.events import ROW_EVENTS, USER_EVENTS

from .test_demo_site import printed_password, printed_tokens

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 60  # seconds the demo runs untouched while its CPU time is measured
MAX_CPU_SHARE = 0.05  # of one core
MAX_RSS_MB = 300
STARTUP_SECONDS = 180
ADMIN = "/local/alx_report_api"


def run_script_command(host, port):
    """The demo branch's ``exec`` line of ``./run``, as argv: ``$VENV/bin/flask`` is this interpreter's flask."""
    script = (ROOT / "run").read_text(encoding="utf-8")
    branch = script[script.index("    demo)") : script.index(";;", script.index("    demo)"))]
    line = next(line.strip() for line in branch.splitlines() if line.strip().startswith("exec "))
    words = {"$VENV/bin/flask": [sys.executable, "-m", "flask"], "${HOST:-127.0.0.1}": [host],
             "${PORT:-5000}": [str(port)], "${@:2}": []}  # fmt: skip
    return [part for word in shlex.split(line)[1:] for part in words.get(word, [word])]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoProcess:
    """The demo's process, its output collected line by line."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self):
        return "\n".join(self.lines)

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output, re.MULTILINE)
            if match:
                return match
            assert self.process.poll() is None, f"the demo exited early:\n{self.output}"
            time.sleep(0.5)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def rss_mb(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("living-demo")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALX_")}
    env.update(ALX_DATABASE_URL=f"sqlite:///{folder / 'demo.db'}", ALX_SECRET_KEY="living-demo-test",
               PYTHONUNBUFFERED="1", HOST="127.0.0.1", PORT=str(port))  # fmt: skip
    process = DemoProcess(run_script_command(env["HOST"], port), env)
    try:
        process.wait_for(r"^ALX Bridge demo: http://", STARTUP_SECONDS)
        process.base = f"http://127.0.0.1:{port}"
        process.database = folder / "demo.db"
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
        process.process.wait(10)


def call_api(base, token):
    body = urllib.parse.urlencode({
        "wstoken": token, "wsfunction": "local_alx_report_api_get_course_progress", "moodlewsrestformat": "json",
        "limit": 1000,
    }).encode()  # fmt: skip
    with urllib.request.urlopen(f"{base}/webservice/rest/server.php", data=body, timeout=60) as response:  # noqa: S310
        rows = json.loads(response.read())
    assert isinstance(rows, list), rows
    return {(row["userid"], row["courseid"]): row for row in rows}


def signed_in(base, password):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}{ADMIN}/login.php", timeout=60).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf_token": csrf}).encode()
    opener.open(f"{base}{ADMIN}/login.php", data=form, timeout=60).read()
    return lambda path: opener.open(f"{base}{ADMIN}/{path}", timeout=60).read().decode()


def logged_subjects(database):
    """``(userid, courseid)`` rows and users named by the progress events in the demo's log: all the simulator's,
    since a freshly built demo site has an empty log."""
    connection = sqlite3.connect(database)
    try:
        query = "SELECT eventname, relateduserid, courseid FROM mdl_logstore_standard_log"
        events = connection.execute(query).fetchall()
    finally:
        connection.close()
    rows = {(user, course) for name, user, course in events if name in ROW_EVENTS}
    users = {user for name, user, _ in events if name in USER_EVENTS}
    return rows, users


def test_the_demo_is_synced_at_once_and_moves_while_it_serves(demo):
    tokens = [token for _, _, token in printed_tokens(demo.output)]
    assert len(tokens) == 3, demo.output
    before = {token: call_api(demo.base, token) for token in tokens}  # every row; completes each token's session
    assert all(before.values())

    cpu_start, wall_start = demo.cpu_seconds(), time.monotonic()
    time.sleep(WINDOW)  # untouched: ticks, the simulator and its API refreshes only
    cpu_share = (demo.cpu_seconds() - cpu_start) / (time.monotonic() - wall_start)
    rss = demo.rss_mb()
    print(f"demo process over {WINDOW} s: {100 * cpu_share:.2f} % of a core, {rss:.0f} MB resident")

    # The API: changes the simulator made, each row named by an event it logged.
    logged_rows, logged_users = logged_subjects(demo.database)
    changed = {
        key: row for token in tokens for key, row in call_api(demo.base, token).items() if before[token].get(key) != row
    }
    assert changed, "no change reached the API in a minute"
    assert all(key in logged_rows or key[0] in logged_users for key in changed), (changed.keys(), logged_rows)

    # The Control Center counts the synced rows; the Auto-Sync page's tick lag is within its threshold.
    page = signed_in(demo.base, printed_password(demo.output))
    center = page("control_center.php")
    total = int(re.search(r'id="total-records">([\d,]+)<', center).group(1).replace(",", ""))
    assert total > 0 and "No syncs yet" not in center
    status = page("auto_sync_status.php")
    tone, lag = re.search(r'alx-stat-value text-(\w+)" id="tick-lag">(\d+) s<', status).groups()
    assert tone == "success" and int(lag) <= min(2 * DEMO_TICK_SECONDS, lag_threshold(DEMO_TICK_SECONDS)), lag

    # Ctrl-C stops server and simulator; the simulator's own thread stayed far under 5 % of a core.
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(30) == 0, demo.output
    demo._reader.join(10)
    summary = r"^site activity: (\d+) change\(s\).* in (\d+) s; simulator CPU ([\d.]+) s \(([\d.]+) % of a core\)$"
    line = re.search(summary, demo.output, re.MULTILINE)
    assert line, demo.output
    print(line.group(0))
    assert int(line.group(1)) > 0 and int(line.group(2)) >= WINDOW
    assert float(line.group(4)) < 100 * MAX_CPU_SHARE
    assert cpu_share < MAX_CPU_SHARE and rss < MAX_RSS_MB
    assert "Traceback" not in demo.output and not any(token in demo.output.split("Ctrl-C stops")[1] for token in tokens)
