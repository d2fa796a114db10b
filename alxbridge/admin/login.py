"""Sign in with a Moodle site admin's username and password; sign out.

Attempts are limited per client address and per username, and every refusal is logged with its
reason (never the password); the page itself gives the same answer for every refusal.
"""

import logging

from flask import current_app, flash, render_template, request, url_for
from werkzeug.utils import redirect

from ..extensions import get_database, limiter
from . import bp
from .accounts import LoginRefused, authenticate
from .session import safe_next, sign_in, sign_out

log = logging.getLogger(__name__)
REFUSED = "Invalid login, please try again"  # Moodle's own wording


def _username_key():
    return "admin-login:" + (request.form.get("username") or "").strip().lower()


def _salts():
    return tuple(s for s in (current_app.config["ALX_PASSWORD_SALTS"] or "").split(",") if s)


@bp.route("/login.php", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["ALX_ADMIN_LOGIN_LIMIT"], methods=["POST"], scope="admin-login-ip")
@limiter.limit(
    lambda: current_app.config["ALX_ADMIN_LOGIN_LIMIT"], methods=["POST"], key_func=_username_key,
    scope="admin-login-user",
)  # fmt: skip
def login():
    target = safe_next(request.values.get("next"))
    error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        database = get_database()
        try:
            with database.connect() as connection:
                admin = authenticate(
                    connection, database.tables, username, request.form.get("password") or "", _salts()
                )
        except LoginRefused as refusal:
            log.warning("admin login refused for username %r from %s: %s", username[:100], request.remote_addr,
                        refusal.reason)  # fmt: skip
            error = REFUSED
        else:
            sign_in(admin)
            log.info("admin login: %s (id %s) from %s", admin.username, admin.id, request.remote_addr)
            return redirect(target)
    status = 200 if error is None else 401
    return render_template("admin/login.html", title="Log in", error=error, username=username, next=target), status


@bp.route("/logout.php", methods=["POST"])
def logout():
    sign_out()
    flash("You have been logged out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
def index():
    return redirect(url_for("admin.control_center"))
