"""Sign in with a Moodle site admin's username and password; sign out.

Attempts are limited per client address, and failures per account or known browser
(:mod:`.login_limits`); every refusal is logged with its reason (never the password); the page itself
gives the same answer for every refusal.
"""

import logging

from flask import current_app, flash, render_template, request, url_for
from werkzeug.utils import redirect

from ..extensions import get_database, limiter
from . import bp
from .accounts import LoginRefused, authenticate, find_account
from .guard import error_page
from .login_limits import FailedSignIns, remember_browser
from .session import safe_next, sign_in, sign_out

log = logging.getLogger(__name__)
REFUSED = "Invalid login, please try again"  # Moodle's own wording


def _page(target, error=None, username=""):
    html = render_template("admin/login.html", title="Log in", error=error, username=username, next=target)
    return html, 200 if error is None else 401


def _salts():
    return tuple(s for s in (current_app.config["ALX_PASSWORD_SALTS"] or "").split(",") if s)


@bp.route("/login.php", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["ALX_ADMIN_LOGIN_LIMIT"], methods=["POST"], scope="admin-login-ip")
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return _page(target)
    username = (request.form.get("username") or "").strip()
    database = get_database()
    with database.connect() as connection:
        account = find_account(connection, database.tables, username)
        failures = FailedSignIns(account, username)
        if failures.exhausted():
            log.warning("admin login refused for username %r from %s: too many failed attempts", username[:100],
                        request.remote_addr)  # fmt: skip
            return error_page(429, "Too many attempts", "Too many failed attempts; wait a minute and try again.")
        try:
            admin = authenticate(
                connection, database.tables, account, username, request.form.get("password") or "", _salts()
            )
        except LoginRefused as refusal:
            failures.count()
            log.warning("admin login refused for username %r from %s: %s", username[:100], request.remote_addr,
                        refusal.reason)  # fmt: skip
            return _page(target, REFUSED, username)
        sign_in(connection, database.tables, admin)
    log.info("admin login: %s (id %s) from %s", admin.username, admin.id, request.remote_addr)
    response = redirect(request.script_root + target)  # target is a path of the admin pages, below Moodle's path
    remember_browser(response, admin)
    return response


@bp.route("/logout.php", methods=["POST"])
def logout():
    database = get_database()
    with database.connect() as connection:
        sign_out(connection, database.tables)
    flash("You have been logged out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
def index():
    return redirect(url_for("admin.control_center"))
