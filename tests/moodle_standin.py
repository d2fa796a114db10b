"""A stand-in for Moodle's web server that judges every request by ``$CFG->wwwroot`` as Moodle 4.1 does.

Moodle's ``lib/setup.php`` calls ``initialise_fullme()`` (``lib/setuplib.php``) before any script runs,
``webservice/rest/server.php`` included. Transcribed here, with IOMAD's addition:

* ``$rurl``: host = the ``Host`` header without its port, port = the port this server listens on
  (``SERVER_PORT``), path = the script path, scheme = ``http`` (this server speaks plain HTTP).
* No Host: no check. ``$CFG->reverseproxy`` set: no check. Else a host other than wwwroot's, a port other
  than wwwroot's (only when wwwroot names one), or a path not under wwwroot's path is redirected:
  ``303`` to wwwroot with an HTML page, unless IOMAD's ``iomad::check_redirect()`` finds the host in
  ``company.hostname`` first, which redirects to ``/login/index.php?id=<company>&code=<shortname>``.
* Without ``$CFG->sslproxy`` an ``http`` request to an ``https`` wwwroot is redirected too (Moodle 4.1
  redirects when ``REQUIRE_CORRECT_ACCESS`` is not defined, as for server.php); with it, wwwroot must be
  ``https`` (else a coding exception) and the request counts as ``https``.
* ``$CFG->reverseproxy`` with a host equal to wwwroot's stops with ``reverseproxyabused`` (an early error
  page; the status is the stand-in's choice, the point is that no JSON comes back).

IOMAD's documented per-company URLs ("elegant tenant URL") set wwwroot from the request's host in
``config.php``; ``tenant_wwwroot=True`` models that: a host listed in ``company_hostnames`` becomes wwwroot's
host for that request.

A request that passes answers like Moodle's REST server for ``/webservice/rest/server.php`` (JSON: the
function called and ``$FULLME``, the URL Moodle believes it serves, so tests see what Moodle saw) and with a
small HTML page for any other script.
"""

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from .live_server import StandIn

SERVER_SCRIPT = "/webservice/rest/server.php"


@dataclass
class MoodleConfig:
    wwwroot: str
    reverseproxy: bool = False
    sslproxy: bool = False
    company_hostnames: dict = field(default_factory=dict)  # hostname -> (company id, shortname)
    tenant_wwwroot: bool = False


class Refusal(Exception):
    def __init__(self, status, body, location=None):
        super().__init__(status)
        self.status, self.body, self.location = status, body, location


def _redirect(url):
    """Moodle's ``redirect($url, get_string('wwwrootmismatch', ...), 3)``: 303 and a page with the message."""
    page = (
        f'<html><head><meta http-equiv="refresh" content="3; url={url}" /></head><body>'
        f'<p>Incorrect access detected, this server may be accessed only through "{url}" address, sorry.</p>'
        "</body></html>"
    )
    return Refusal(303, page, location=url)


def _early_error(code):
    return Refusal(503, f"<html><body><p>error/{code}</p></body></html>")


def initialise_fullme(config, host_header, server_port, script_path):
    """``$FULLME``'s scheme, host and port part for this request, or :class:`Refusal` as Moodle answers."""
    host = host_header.split(":")[0] if host_header else None
    wwwroot_text = config.wwwroot
    if config.tenant_wwwroot and host in config.company_hostnames:
        wwwroot_text = urlsplit(wwwroot_text)._replace(netloc=host).geturl()
    wwwroot = urlsplit(wwwroot_text + "/")
    scheme = "http"
    if host and not config.reverseproxy:
        mismatch = (
            host != wwwroot.hostname
            or (wwwroot.port is not None and server_port != wwwroot.port)
            or not script_path.startswith(wwwroot.path)
        )
        if mismatch:
            if host in config.company_hostnames:  # iomad::check_redirect()
                company_id, shortname = config.company_hostnames[host]
                raise _redirect(f"{wwwroot_text}/login/index.php?{urlencode({'id': company_id, 'code': shortname})}")
            raise _redirect(wwwroot_text)
    if not script_path.startswith(wwwroot.path):
        return None  # "probably some weird external script": Moodle carries on without $FULLME
    if not config.sslproxy:
        if scheme == "http" and wwwroot.scheme == "https":
            raise _redirect(wwwroot_text)
    else:
        if wwwroot.scheme != "https":
            raise _early_error("codingerror")
        scheme = "https"
    if config.reverseproxy and host == wwwroot.hostname:
        raise _early_error("reverseproxyabused")
    return f"{scheme}://{wwwroot.netloc}"


class MoodleStandIn(StandIn):
    """The stand-in on 127.0.0.1 and a free port, for the length of a ``with`` block; records what it saw."""

    def __init__(self, config):
        self.config = config
        self.seen = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                standin.seen.append({"path": self.path, "headers": dict(self.headers.items())})
                try:
                    fullme = initialise_fullme(
                        standin.config, self.headers.get("Host"), self.server.server_port, parts.path
                    )
                except Refusal as refusal:
                    self._send(refusal.status, "text/html; charset=utf-8", refusal.body, refusal.location)
                    return
                if parts.path.endswith(SERVER_SCRIPT):
                    values = {**parse_qs(parts.query), **parse_qs(body.decode("latin-1"))}
                    answer = {
                        "wsfunction": (values.get("wsfunction") or [""])[0],
                        "fullme": f"{fullme}{self.path}" if fullme else None,
                        "x_forwarded_for": self.headers.get("X-Forwarded-For"),
                    }
                    self._send(200, "application/json; charset=utf-8", json.dumps(answer))
                else:
                    self._send(200, "text/html; charset=utf-8", "<html><body>Moodle</body></html>")

            def _send(self, status, content_type, text, location=None):
                data = text.encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        super().__init__(Handler)
