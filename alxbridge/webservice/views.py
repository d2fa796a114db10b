"""The ``/webservice/rest/server.php`` view: read the call, run it, render the result or the Moodle error."""

import logging
import traceback

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import DBAPIError

from ..extensions import cache, get_database
from ..moodle.wwwroot import moodle_path, site_url
from ..operations.errors import DatabaseUnavailable
from .auth import RestProtocolDisabled
from .call import parse_call
from .exceptions import (
    MoodleError,
    database_connection_failed,
    database_read_error,
    rate_limited,
    unexpected_error,
)
from .functions import CallContext
from .passthrough import SERVER_PATH, forward
from .refusals import SHIELD, reason_of, record_refusal
from .registry import FUNCTIONS, spells_a_bridge_function
from .rendering import error_body, headers_for
from .server import AuthenticationFailed, execute
from .throttle import shielded

log = logging.getLogger(__name__)
bp = Blueprint("webservice", __name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def current_call():
    """The parsed call, read once per request (the rate limiter needs it before the view)."""
    if "ws_call" not in g:
        g.ws_call = parse_call(request)
    return g.ws_call


@bp.before_app_request
def _read_call():
    if request.path == SERVER_PATH:
        current_call()


def _loggable(text):
    """``text`` without the caller's token: it is a password, and driver errors quote their parameters."""
    token = g.ws_call.token if "ws_call" in g else None
    if isinstance(token, str) and len(token) >= 8:
        text = text.replace(token, "<wstoken>")
    return text


def _respond(body, response_format, extra_headers=()):
    """Moodle's headers in Moodle's order, then any the function adds (only on its successful answers)."""
    return Response(body, status=200, headers=[*headers_for(response_format), *extra_headers])


def _error_response(error, response_format):
    config = current_app.config
    body = error_body(error, response_format, config["ALX_DEBUG_LEVEL"], config["ALX_DEBUG_DISPLAY"])
    return _respond(body, response_format)


def _is_passed_through(call, database):
    """A named function, an upstream to send it to, and not a function the bridge answers in any spelling."""
    if not (current_app.config["ALX_MOODLE_UPSTREAM"] and isinstance(call.function, str) and call.function):
        return False
    if call.function in FUNCTIONS:  # the bridge's own calls, the hot path: no lookup
        return False
    with database.connect() as connection:
        return not spells_a_bridge_function(connection, database.tables, call.function)


def _forward(call):
    try:
        config = current_app.config
        return forward(request, config["ALX_MOODLE_UPSTREAM"], moodle_path(config, request))
    except MoodleError as error:  # the upstream cannot be reached: still a Moodle envelope, never a 500
        log.error("request %s: pass-through of %s failed: %s", g.request_id, call.function, _loggable(error.debuginfo))
        return _error_response(error, call.format)


def _context(database, connection):
    return CallContext(
        connection=connection, tables=database.tables, caller=None, token=g.ws_call.token, now=database.now(),
        method=request.method, client_ip=request.remote_addr or "", user_agent=request.user_agent.string,
        headers=request.headers, site_url=site_url(current_app.config, request), settings=current_app.config,
        cache=cache,
    )  # fmt: skip


@bp.route(SERVER_PATH, methods=METHODS, provide_automatic_options=False)
@shielded
def server():
    call = current_call()
    database = get_database()
    try:
        if _is_passed_through(call, database):
            return _forward(call)
        with database.connect() as connection:
            # Rendering happens inside: a value PHP cannot encode becomes an envelope too.
            answer = execute(connection, database.tables, call, _context(database, connection))
            connection.commit()
    except AuthenticationFailed as failure:
        g.ws_auth_failed = True
        record_refusal(database, reason_of(failure.error), call.token, request.remote_addr, database.now())
        return _error_response(failure.error, call.format)
    except MoodleError as error:
        return _error_response(error, call.format)
    except RestProtocolDisabled:
        return Response(b"", status=403)
    except DatabaseUnavailable as error:
        log.error("request %s: %s", g.request_id, _loggable(str(error)))
        return _error_response(database_connection_failed(str(error)), call.format)
    except DBAPIError as error:
        reason = " ".join(str(error.orig).split())
        log.error("request %s: database error in %s: %s", g.request_id, call.function, _loggable(reason[:500]))
        return _error_response(database_read_error(reason), call.format)
    except Exception as error:  # noqa: BLE001 - logged below with its traceback, token removed
        details = _loggable("".join(traceback.format_exception(error)).rstrip())
        log.error("request %s: unexpected error in %s\n%s", g.request_id, call.function, details)
        return _error_response(unexpected_error(g.request_id), call.format)
    return _respond(answer.body, call.format, answer.headers)


@bp.app_errorhandler(RateLimitExceeded)
def _rate_limited(breach):
    if request.path != SERVER_PATH:
        return breach
    database = get_database()
    record_refusal(database, SHIELD, current_call().token, request.remote_addr, database.now())
    return _error_response(rate_limited(f"Limit {breach.description} reached"), current_call().format)
