"""The admin session: a signed cookie naming a server-side session row, checked against Moodle on every request.

The cookie is scoped to the admin pages' path, HttpOnly, SameSite=Lax, and Secure whenever the
request came over HTTPS (directly or through a trusted proxy). It carries a random session id whose
hash is a row of ``local_alxbridge_admin_session``: signing out deletes the row, so a copy of the
cookie stops working too. A session ends after Moodle's ``sessiontimeout`` of inactivity, and in any
case ``ALX_ADMIN_SESSION_LIFETIME`` seconds after sign-in, however busy it is.
"""

import hashlib
import secrets
from urllib.parse import unquote

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from ..extensions import get_database
from ..moodle.siteconfig import core_config
from .accounts import signed_in_admin

PREFIX = "/local/alx_report_api"
DEFAULT_SESSION_TIMEOUT = 28800  # Moodle's default sessiontimeout (8 hours)


class AdminSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app):
        return request.is_secure or super().get_cookie_secure(app)

    def get_cookie_path(self, app):
        """The admin pages' path as browsers see it: below Moodle's path when nginx names one (X-Forwarded-Prefix)."""
        return request.script_root + PREFIX + "/"


def init_sessions(app):
    app.session_interface = AdminSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="AlxBridgeSession",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session, like Moodle's sesskey
    )


def _sid_hash(sid):
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def sign_in(connection, tables, admin):
    """Start a session for ``admin``: a new row (expired rows of anyone are purged here) and a new cookie."""
    now = get_database().now()
    sessions = tables.local_alxbridge_admin_session
    sid = secrets.token_hex(32)
    connection.execute(
        sa.delete(sessions).where(sessions.c.timecreated < now - current_app.config["ALX_ADMIN_SESSION_LIFETIME"])
    )
    connection.execute(sessions.insert().values(sid_hash=_sid_hash(sid), userid=admin.id, timecreated=now))
    connection.commit()
    session.clear()
    session.update(sid=sid, admin_id=admin.id, fingerprint=admin.fingerprint, seen=now)


def sign_out(connection, tables):
    """End the session on the server (its row) and in this browser (its cookie)."""
    sid = session.get("sid")
    if isinstance(sid, str):
        sessions = tables.local_alxbridge_admin_session
        connection.execute(sa.delete(sessions).where(sessions.c.sid_hash == _sid_hash(sid)))
        connection.commit()
    session.clear()


def _session_is_live(connection, tables, sid, userid, now):
    sessions = tables.local_alxbridge_admin_session
    created = connection.execute(
        sa.select(sessions.c.timecreated).where(sessions.c.sid_hash == _sid_hash(sid), sessions.c.userid == userid)
    ).scalar()
    return created is not None and now - created <= current_app.config["ALX_ADMIN_SESSION_LIFETIME"]


def load_admin(connection, tables):
    """Set ``g.admin`` from the session (``None`` when signed out, revoked, timed out or no longer an admin)."""
    g.admin = None
    userid, sid = session.get("admin_id"), session.get("sid")
    if not userid:
        return None
    timeout = int(core_config(connection, tables, "sessiontimeout").get("sessiontimeout") or DEFAULT_SESSION_TIMEOUT)
    now = get_database().now()
    if (
        not isinstance(sid, str)
        or now - int(session.get("seen", 0)) > timeout
        or not _session_is_live(connection, tables, sid, userid, now)
    ):
        sign_out(connection, tables)
        return None
    g.admin = signed_in_admin(connection, tables, userid, session.get("fingerprint"))
    if g.admin is None:
        sign_out(connection, tables)
    elif now - session["seen"] > 60:  # refresh the idle clock without rewriting the cookie on every request
        session["seen"] = now
    return g.admin


def safe_next(target):
    """``target`` when it is a path of the admin pages, else the Control Center: never another site or path.

    The path is judged as a browser resolves it: ``.``/``..`` segments (also percent-encoded) would climb out
    of the admin pages, so a target with any is refused.
    """
    if (
        isinstance(target, str)
        and target.startswith(PREFIX + "/")
        and "\\" not in target
        and "//" not in target
        and all(ord(ch) > 32 for ch in target)
    ):
        segments = unquote(target.split("?", 1)[0].split("#", 1)[0]).split("/")
        if not {".", ".."} & set(segments):
            return target
    return PREFIX + "/control_center.php"
