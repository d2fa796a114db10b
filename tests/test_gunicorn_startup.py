"""gunicorn with the shipped ``gunicorn.conf.py`` refuses, in one line, settings that would weaken the bridge.

``memory://`` limiter storage with several workers would multiply every limit by the worker count; a
public bind without a proxy in front leaves the gthread workers to slow-body clients. Each case is a
real gunicorn master started in its own process group.
"""

import http.client
import os
import signal
import subprocess
import sys
import time

import pytest

from .gunicorn_support import ROOT, stop
from .nginx_support import free_port

REDIS_URL = "redis://127.0.0.1:6379/15"


def start_gunicorn(tmp_path, bind, workers, **settings):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ALX_", "WEB_CONCURRENCY"))}
    env.update(
        ALX_DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}", ALX_SECRET_KEY="s", ALX_SCHEDULER="off", **settings
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", bind, "--workers", str(workers)]
    return subprocess.Popen(
        [*command, "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True,
    )  # fmt: skip


def refusal(process):
    """The last output line of a server that stopped by itself (fails the test if it kept running)."""
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("gunicorn started instead of refusing")
    assert process.returncode != 0
    return output.strip().splitlines()[-1]


def answers_http(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            return connection.getresponse().status
        except OSError:
            time.sleep(0.2)
    return None


def test_memory_limiter_storage_with_several_workers_is_refused_in_one_line(tmp_path):
    process = start_gunicorn(tmp_path, f"127.0.0.1:{free_port()}", 2, ALX_RATELIMIT_STORAGE_URI="memory://")
    line = refusal(process)
    assert line.startswith("alxbridge: ALX_RATELIMIT_STORAGE_URI is memory://") and "2 workers" in line


def test_a_public_bind_without_a_proxy_in_front_is_refused_in_one_line(tmp_path):
    public = f"0.0.0.0:{free_port()}"  # refused before gunicorn binds any socket
    process = start_gunicorn(tmp_path, public, 1, ALX_TRUSTED_PROXIES="0")
    line = refusal(process)
    assert line.startswith("alxbridge: gunicorn would listen on 0.0.0.0:") and "buffering proxy" in line


def test_several_workers_with_shared_limiter_storage_still_start(tmp_path):
    port = free_port()
    process = start_gunicorn(tmp_path, f"127.0.0.1:{port}", 2, ALX_RATELIMIT_STORAGE_URI=REDIS_URL)
    try:
        assert answers_http(port) is not None, "gunicorn did not answer"
    finally:
        stop(process)
