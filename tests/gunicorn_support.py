"""Real gunicorn servers on loopback for the scale-out test and the load benchmark.

Each server is ``python -m gunicorn -c gunicorn.conf.py --bind 127.0.0.1:<port> [--workers N] <app>``
in its own process group, configured through the environment given; its output goes to a log file.
The servers are stopped (TERM to the group, KILL after a grace period) when the block ends, also
when it ends with an exception.
"""

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .nginx_support import free_port

ROOT = Path(__file__).resolve().parents[1]


class ServerDidNotStart(RuntimeError):
    pass


@contextlib.contextmanager
def gunicorn_servers(count, env, folder, app="wsgi:app", workers=2, start_seconds=60):
    """``count`` servers of ``app``; yields their ports once each answers ``/healthz`` with 200."""
    processes, ports, logs = [], [], []
    try:
        for index in range(count):
            port = free_port()
            log = open(Path(folder) / f"gunicorn-{index}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
            if workers is not None:
                command += ["--workers", str(workers)]
            server = subprocess.Popen(
                [*command, app], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            processes.append(server)
            ports.append(port)
        for process, port, log in zip(processes, ports, logs, strict=True):
            _wait_until_serving(process, port, Path(log.name), start_seconds)
        yield ports
    finally:
        for process in processes:
            stop(process)
        for log in logs:
            log.close()


def healthz_status(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _wait_until_serving(process, port, log_path, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if healthz_status(port) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise ServerDidNotStart(f"gunicorn on port {port} did not start:\n{tail}")


def stop(process, grace=15):
    """TERM to the server's process group (master and workers), KILL if it is not gone after ``grace`` s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers left behind by a master that died first
        os.killpg(process.pid, signal.SIGKILL)
