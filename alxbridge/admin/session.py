"""The admin session: a signed cookie that names the admin, checked against Moodle on every request.

The cookie is scoped to the admin pages' path, HttpOnly, SameSite=Lax, and Secure whenever the
request came over HTTPS (directly or through a trusted proxy). It expires after Moodle's own
``sessiontimeout`` of inactivity.
"""

import time

from flask import g, request, session
from flask.sessions import SecureCookieSessionInterface

from ..siteconfig import core_config
from .accounts import signed_in_admin

PREFIX = "/local/alx_report_api"
DEFAULT_SESSION_TIMEOUT = 28800  # Moodle's default sessiontimeout (8 hours)


class AdminSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app):
        return request.is_secure or super().get_cookie_secure(app)


def init_sessions(app):
    app.session_interface = AdminSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="AlxBridgeSession",
        SESSION_COOKIE_PATH=PREFIX + "/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session, like Moodle's sesskey
    )


def sign_in(admin):
    session.clear()
    session["admin_id"] = admin.id
    session["fingerprint"] = admin.fingerprint
    session["seen"] = int(time.time())


def sign_out():
    session.clear()


def load_admin(connection, tables):
    """Set ``g.admin`` from the session (``None`` when signed out, timed out or no longer an admin)."""
    g.admin = None
    userid = session.get("admin_id")
    if not userid:
        return None
    timeout = int(core_config(connection, tables, "sessiontimeout").get("sessiontimeout") or DEFAULT_SESSION_TIMEOUT)
    now = int(time.time())
    if now - int(session.get("seen", 0)) > timeout:
        sign_out()
        return None
    g.admin = signed_in_admin(connection, tables, userid, session.get("fingerprint"))
    if g.admin is None:
        sign_out()
    elif now - session["seen"] > 60:  # refresh the idle clock without rewriting the cookie on every request
        session["seen"] = now
    return g.admin


def safe_next(target):
    """``target`` when it is a path of the admin pages, else the Control Center: never another site."""
    if (
        isinstance(target, str)
        and target.startswith(PREFIX + "/")
        and "\\" not in target
        and "//" not in target
        and all(ord(ch) > 32 for ch in target)
    ):
        return target
    return PREFIX + "/control_center.php"
