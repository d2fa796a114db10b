"""What every admin request goes through: the sign-in check, error pages and security headers."""

import logging

from flask import g, jsonify, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.utils import redirect

from ..extensions import get_database
from ..operations.errors import BridgeError
from . import bp
from .session import load_admin

log = logging.getLogger(__name__)
OPEN_ENDPOINTS = {"admin.login", "admin.static"}
# Scripts, styles and images from this site only: a page that pulls a third-party asset fails its browser test.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def wants_json():
    return request.path.endswith((".json", "ajax_stats.php")) or request.headers.get("X-Requested-With") == "fetch"


@bp.before_request
def require_site_admin():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    database = get_database()
    with database.connect() as connection:
        admin = load_admin(connection, database.tables)
    if admin is not None:
        return None
    if wants_json():
        return jsonify(error="Your session has expired; sign in again.", login_url=url_for("admin.login")), 401
    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "admin.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(status, title, message):
    if wants_json():
        return jsonify(error=message), status
    return render_template("admin/error.html", title=title, message=message, admin=g.get("admin")), status


@bp.errorhandler(CSRFError)
def csrf_refused(error):
    log.warning("admin: refused %s %s: %s", request.method, request.path, error.description)
    return error_page(
        400, "Form not accepted", "Incorrect sesskey submitted, form not accepted! Reload the page and try again."
    )


@bp.errorhandler(RateLimitExceeded)
def too_many(error):
    return error_page(
        429, "Too many attempts", f"Too many attempts ({error.description}); wait a minute and try again."
    )


@bp.errorhandler(BridgeError)
def bridge_error(error):
    log.error("admin: %s %s: %s", request.method, request.path, error)
    return error_page(503, "Moodle database unavailable", str(error))


@bp.errorhandler(DBAPIError)
def database_error(error):
    reason = " ".join(str(error.orig).split())[:300]
    log.error("admin: %s %s: database error: %s", request.method, request.path, reason)
    if error.connection_invalidated:  # the server went away mid-request: an outage, not a refusal
        return error_page(
            503, "Moodle database unavailable",
            f"The connection to the database was lost ({reason}); an unfinished change was rolled back. "
            "Try again once the database is back.",
        )  # fmt: skip
    return error_page(503, "Database error", f"The database refused the request: {reason}. Nothing was changed.")


@bp.errorhandler(HTTPException)
def http_error(error):
    return error_page(error.code or 500, error.name, error.description or error.name)
