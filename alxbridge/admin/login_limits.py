"""Sign-in limits that slow password guessing down without letting strangers lock an admin out.

Each sign-in attempt is limited per client address (on the view, every attempt counts). Failed
attempts also count against the account the database found for the typed name — its user id, so every
spelling the collation equates shares one allowance — unless they come from a browser the admin
has signed in from before. Such a browser holds a signed "known browser" cookie (OWASP's device
cookie) given at each successful sign-in, and its failures count against that cookie alone: strangers
who use up the account's allowance lock out only other unknown browsers, and a stolen cookie still
gets no more than its own allowance. Every limit is ``ALX_ADMIN_LOGIN_LIMIT``.
"""

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse_many

from ..extensions import limiter

KNOWN_BROWSER_COOKIE = "AlxBridgeKnownBrowser"
KNOWN_BROWSER_SECONDS = 180 * 86400


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="alxbridge-known-browser")


def account_key(account, username):
    """What failures count against: the account the database found, else the typed name (no account to guess)."""
    return f"user:{account.id}" if account is not None else f"name:{username}"


def known_browser(account):
    """The id of this browser's known-browser cookie when ``account`` signed in with it before, else ``None``."""
    raw = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if account is None or not raw:
        return None
    try:
        owner, browser = _serializer().loads(raw)
    except (BadSignature, TypeError, ValueError):
        return None
    return browser if owner == account.id else None


def remember_browser(response, admin):
    """Give the browser that just signed in as ``admin`` a known-browser cookie (for the login page only)."""
    response.set_cookie(
        KNOWN_BROWSER_COOKIE, _serializer().dumps([admin.id, secrets.token_hex(16)]),
        max_age=KNOWN_BROWSER_SECONDS, path=request.script_root + request.path, secure=request.is_secure,
        httponly=True, samesite="Lax",
    )  # fmt: skip


class FailedSignIns:
    """The failure counter one attempt is judged by: its known browser's, else its account's."""

    def __init__(self, account, username):
        browser = known_browser(account)
        if browser:
            self.identifiers = ("admin-login-browser", browser)
        else:
            self.identifiers = ("admin-login-account", account_key(account, username))
        self.limits = parse_many(current_app.config["ALX_ADMIN_LOGIN_LIMIT"])

    def exhausted(self):
        return not all(limiter.limiter.test(limit, *self.identifiers) for limit in self.limits)

    def count(self):
        for limit in self.limits:
            limiter.limiter.hit(limit, *self.identifiers)
