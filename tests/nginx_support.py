"""Debian's nginx on loopback with deploy/nginx-alxbridge.conf, for the tests that put it in front of bridges.

Only the upstream addresses, the listen port and the access log's folder of the deploy file are
replaced (and, for a Moodle under a path, the edit ``docs/operations.md`` §4 describes); the ``http``
block around it keeps every other file in the same temporary folder. The access log is the deploy file's
own format, which names the upstream that served each request (``upstream=<address>``).
"""

import contextlib
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY_FILE = ROOT / "deploy" / "nginx-alxbridge.conf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Nginx:
    port: int
    folder: Path

    def upstreams(self):
        """The upstream address of every request logged so far, in order."""
        return re.findall(r"upstream=(\S+)", self.access_log().read_text())

    def access_log(self):
        return self.folder / "alxbridge-access.log"

    def log_files(self):
        """Every file nginx wrote a log line to."""
        return [path for path in self.folder.glob("*.log") if path.is_file()]


def under_path(site, path):
    """The deploy file edited for a Moodle whose wwwroot has ``path`` (``/moodle``), as its header says."""
    edits = {
        'set $moodle_path "";': f'set $moodle_path "{path}";',
        "location = /webservice/rest/server.php {": f"location = {path}/webservice/rest/server.php {{",
        "location ^~ /local/alx_report_api/ {": f"location ^~ {path}/local/alx_report_api/ {{",
    }
    for before, after in edits.items():
        assert site.count(before) == 1, before
        site = site.replace(before, after)
    return site


def site_file(bridges, moodle, port, folder, moodle_path=""):
    """The deploy file with ``bridges`` (``host:port`` list) as upstream alxbridge, ``moodle`` as Moodle, its
    access log in ``folder``."""
    site = DEPLOY_FILE.read_text()
    servers = " ".join(f"server {address};" for address in bridges)
    for original in ("server 127.0.0.1:8000;", "server 127.0.0.1:8080;", "listen 80;", "/var/log/nginx/"):
        assert site.count(original) == 1, original
    site = site.replace("server 127.0.0.1:8000;", servers)
    site = site.replace("server 127.0.0.1:8080;", f"server {moodle};")
    site = site.replace("/var/log/nginx/", f"{folder}/")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    return under_path(site, moodle_path) if moodle_path else site


def _listening(port, process, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@contextlib.contextmanager
def nginx_in_front(folder, bridges, moodle, moodle_path=""):
    """Run nginx with the deploy file in ``folder`` for the block; yields an :class:`Nginx`. Stopped after."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (apt-get install nginx-light); ./run tests installs it", pytrace=False)
    folder = Path(folder)
    port = free_port()
    (folder / "site.conf").write_text(site_file(bridges, moodle, port, folder, moodle_path))
    (folder / "nginx.conf").write_text(
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log {folder}/default-access.log; client_body_temp_path {folder}/body;\n"
        f"proxy_temp_path {folder}/proxy; fastcgi_temp_path {folder}/fcgi; uwsgi_temp_path {folder}/uwsgi;\n"
        f"scgi_temp_path {folder}/scgi; include {folder}/site.conf; }}\n"
    )
    process = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder)], stderr=subprocess.PIPE)
    try:
        if not _listening(port, process):
            process.kill()
            process.wait()
            pytest.fail(f"nginx did not start: {process.stderr.read().decode()}", pytrace=False)
        yield Nginx(port, folder)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()
