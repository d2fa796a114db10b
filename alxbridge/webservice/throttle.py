"""The abuse shield: short-window limits per token and per client IP, with failed logins counted apart.

The daily quota of the plugin is a different thing (counted in the database by the reporting code);
these limits stop floods and token guessing. A breach is answered with a Moodle envelope, HTTP 200.
"""

import hashlib

from flask import current_app, g, request

from ..extensions import limiter


def client_ip():
    return request.remote_addr or "unknown"


def token_key():
    """A hash of the presented token: limits never store the token itself."""
    token = g.ws_call.token if "ws_call" in g else None
    if not isinstance(token, str) or not token:
        return "token:none"
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _setting(name):
    return lambda: current_app.config[name]


def shielded(view):
    """Apply the three limits of ``ALX_RATELIMIT_PER_IP``, ``…_PER_TOKEN`` and ``…_FAILED_AUTH``."""
    view = limiter.limit(_setting("ALX_RATELIMIT_PER_IP"), key_func=client_ip, scope="ws-ip")(view)
    view = limiter.limit(_setting("ALX_RATELIMIT_PER_TOKEN"), key_func=token_key, scope="ws-token")(view)
    return limiter.limit(
        _setting("ALX_RATELIMIT_FAILED_AUTH"),
        key_func=client_ip,
        scope="ws-failed-auth",
        deduct_when=lambda response: g.get("ws_auth_failed", False),
    )(view)
