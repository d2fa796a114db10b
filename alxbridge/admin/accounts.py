"""Who may use the admin pages: Moodle site admins, signed in with their Moodle password.

No Flask here. A signed-in session keeps the user id and a fingerprint of the stored password
hash, so a password change or reset in Moodle ends every bridge session of that user, as it
ends their Moodle sessions.

Usernames are matched as Moodle stores them: the typed name, trimmed and lowercased as Moodle's
login does, must equal ``mdl_user.username`` exactly. The lookup itself runs in the database, whose
collation (MySQL's ``utf8mb4_unicode_ci``) also finds the row for ``ádmin`` or a fullwidth ``ａdmin``;
such a spelling is refused, but :func:`find_account` still names the account it reached, so that
sign-in limits count every spelling against the one account.
"""

import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.passwords import BCRYPT_PREFIXES, verify_moodle_password
from ..moodle.siteconfig import core_config, site_admin_ids

# Auth plugins whose passwords Moodle keeps in mdl_user.password; the others (ldap, oauth2, …)
# store "not cached" there and check the password elsewhere.
INTERNAL_AUTH = ("manual", "email")
# One bcrypt check of Moodle's default cost against this hash is spent on every attempt that does not check a
# bcrypt hash of its own (unknown username, external authentication, SHA-512 or md5 hash): timing reveals nothing.
_DUMMY_HASH = "$2y$10$TdleazjhIatPIiaZBiEsz.eDhqWpMufTaf7UEYvATsrlRh2eBRY4K"


class LoginRefused(Exception):
    """The login is refused; ``reason`` is for the log, the user always sees the same message."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Admin:
    id: int
    username: str
    firstname: str
    lastname: str
    email: str
    fingerprint: str

    @property
    def fullname(self):
        return f"{self.firstname} {self.lastname}".strip()


def password_fingerprint(stored_hash):
    return hashlib.sha256(("alxbridge-session:" + (stored_hash or "")).encode("utf-8")).hexdigest()[:32]


def _user_query(tables):
    user = tables.user
    return sa.select(
        user.c.id, user.c.username, user.c.firstname, user.c.lastname, user.c.email,
        user.c.password, user.c.auth, user.c.suspended, user.c.deleted,
    )  # fmt: skip


def _external_authentication(auth):
    return LoginRefused(f"account uses the {auth!r} authentication plugin; its password is not in Moodle")


def _admin_of(connection, tables, row):
    if row.auth not in INTERNAL_AUTH:
        raise _external_authentication(row.auth)
    admins = site_admin_ids(core_config(connection, tables, "siteadmins").get("siteadmins"))
    if row.id not in admins:
        raise LoginRefused("not a site administrator")
    if row.deleted or row.suspended:
        raise LoginRefused("account suspended or deleted")
    return Admin(row.id, row.username, row.firstname, row.lastname, row.email, password_fingerprint(row.password))


def typed_username(username):
    """The username as Moodle's login reads it: trimmed and in lower case (Moodle stores usernames so)."""
    return (username or "").strip().lower()


def find_account(connection, tables, username):
    """The undeleted ``mdl_user`` row the database matches to ``username`` (any spelling its collation equates)."""
    user = tables.user
    return connection.execute(
        _user_query(tables).where(user.c.username == typed_username(username), user.c.deleted == 0)
    ).first()


def _password_matches(password, row, salts):
    """Check ``password`` with the same cost on every path: a row without a bcrypt hash to check (or none at all)
    costs one dummy bcrypt check on top of its own."""
    stored = row.password if row is not None else None
    if stored and stored.startswith(BCRYPT_PREFIXES):
        return verify_moodle_password(password, stored, salts)
    matched = bool(stored) and verify_moodle_password(password, stored, salts)
    verify_moodle_password(password, _DUMMY_HASH)
    return matched


def authenticate(connection, tables, account, username, password, salts=()):
    """The :class:`Admin` when ``account`` (from :func:`find_account`) is a site admin whose username is exactly
    ``username`` and whose password is ``password``; else :class:`LoginRefused`."""
    if account is not None and account.username != typed_username(username):
        account = None  # a spelling the collation equates, not the username itself
    usable = account is not None and account.auth in INTERNAL_AUTH
    if not _password_matches(password, account if usable else None, salts):
        if account is None:
            raise LoginRefused("unknown username")
        if not usable:
            raise _external_authentication(account.auth)
        raise LoginRefused("wrong password")
    return _admin_of(connection, tables, account)


def signed_in_admin(connection, tables, userid, fingerprint):
    """The :class:`Admin` a session names, if that user is still an admin, signing in with Moodle's own password
    (not switched to ``nologin`` or another authentication plugin), with the same password."""
    row = connection.execute(_user_query(tables).where(tables.user.c.id == userid)).first()
    if row is None:
        return None
    try:
        admin = _admin_of(connection, tables, row)
    except LoginRefused:
        return None
    return admin if hmac.compare_digest(admin.fingerprint, fingerprint or "") else None
