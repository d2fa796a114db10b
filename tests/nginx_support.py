"""Debian's nginx on loopback with deploy/nginx-alxbridge.conf, for the tests that put it in front of bridges.

Only the upstream addresses and the listen port of the deploy file are replaced; the ``http`` block
around it keeps every file in a temporary folder and logs which upstream served each request
(``upstream=<address>``), without query strings, so no token lands in the log.
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
        log = (self.folder / "access.log").read_text()
        return re.findall(r"upstream=(\S+)", log)


def site_file(bridges, moodle, port):
    """The deploy file with ``bridges`` (``host:port`` list) as upstream alxbridge and ``moodle`` as Moodle."""
    site = DEPLOY_FILE.read_text()
    servers = " ".join(f"server {address};" for address in bridges)
    assert "server 127.0.0.1:8000;" in site and "server 127.0.0.1:8080;" in site and "listen 80;" in site
    site = site.replace("server 127.0.0.1:8000;", servers)
    site = site.replace("server 127.0.0.1:8080;", f"server {moodle};")
    return site.replace("listen 80;", f"listen 127.0.0.1:{port};")


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
def nginx_in_front(folder, bridges, moodle):
    """Run nginx with the deploy file in ``folder`` for the block; yields an :class:`Nginx`. Stopped after."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (apt-get install nginx-light); ./run tests installs it", pytrace=False)
    folder = Path(folder)
    port = free_port()
    (folder / "site.conf").write_text(site_file(bridges, moodle, port))
    (folder / "nginx.conf").write_text(
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        "http { log_format upstreams '$remote_addr \"$request_method $uri\" $status upstream=$upstream_addr';\n"
        f"access_log {folder}/access.log upstreams; client_body_temp_path {folder}/body;\n"
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
