"""One structured (JSON) log line per request, with a request id, and no secret in any log line.

The id comes from a sane ``X-Request-Id`` set by the proxy, else a new one; it is in Moodle's
"unexpected error" message, so an admin can find the log line, and in the ``X-Request-Id`` header
of every answer but the REST server's, whose headers stay exactly Moodle's.
Only the path is logged, never the query string, and :class:`SecretMaskingFilter` rewrites the value
of every ``name=value`` pair whose name PHP would read as ``wstoken``, ``token``, ``password`` (…) in
every record of the loggers it guards (the development server's access log quotes whole request
lines): ``%77stoken=`` and ``ws.token[]=`` are masked as ``wstoken=`` is.
"""

import json
import logging
import re
import time
import uuid
from urllib.parse import unquote_plus

from flask import g, request

from ..webservice.php_input import split_name

access_log = logging.getLogger("alxbridge.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PAIR = re.compile(r"([^\s&?;\"'=]+)=([^&\s\"']+)")
SECRET_NAMES = frozenset({"wstoken", "token", "password", "privatetoken", "wspassword"})
# Loggers that print request lines; a logger's filter sees only records logged to that logger itself.
GUARDED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def _is_secret_name(name):
    """Whether PHP reads the (percent-encoded) ``name`` as one of :data:`SECRET_NAMES`, in any letter case."""
    split = split_name(unquote_plus(name))
    return split is not None and split[0].lower() in SECRET_NAMES


def mask_secrets(text):
    return _PAIR.sub(lambda pair: pair.group(1) + "=***" if _is_secret_name(pair.group(1)) else pair.group(0), text)


class SecretMaskingFilter(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _start():
    supplied = request.headers.get("X-Request-Id", "")
    g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex[:12]
    g.request_started = time.perf_counter()


def _finish(response):
    if "request_id" not in g:  # an earlier before_request answered first
        _start()
    if "ws_call" not in g:  # Moodle's REST answers keep exactly Moodle's headers
        response.headers["X-Request-Id"] = g.request_id
    entry = {
        "request_id": g.request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        "client": request.remote_addr,
        # A streamed body's length is unknown until sent; asking for it would buffer the whole stream.
        "bytes": None if response.is_streamed else response.calculate_content_length(),
    }
    call = g.get("ws_call")  # the web service's own parse; request.values would re-read a big body
    if call is not None:
        entry["wsfunction"] = call.function if isinstance(call.function, str) else None
    access_log.info(json.dumps(entry, separators=(",", ":")))
    return response


def _ensure_output():
    """Show the bridge's INFO lines (the access log) when nobody configured logging (gunicorn, flask run)."""
    bridge = logging.getLogger("alxbridge")
    if bridge.level == logging.NOTSET:
        bridge.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not bridge.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        bridge.addHandler(handler)


def init_request_logging(app):
    _ensure_output()
    masking = SecretMaskingFilter()
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretMaskingFilter) for f in logger.filters):
            logger.addFilter(masking)
    app.before_request(_start)
    app.after_request(_finish)
