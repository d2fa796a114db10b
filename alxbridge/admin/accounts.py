"""Who may use the admin pages: Moodle site admins, signed in with their Moodle password.

No Flask here. A signed-in session keeps the user id and a fingerprint of the stored password
hash, so a password change or reset in Moodle ends every bridge session of that user, as it
ends their Moodle sessions.
"""

import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from ..passwords import verify_moodle_password
from ..siteconfig import core_config, site_admin_ids

# Auth plugins whose passwords Moodle keeps in mdl_user.password; the others (ldap, oauth2, …)
# store "not cached" there and check the password elsewhere.
INTERNAL_AUTH = ("manual", "email")
# Checked against a dummy hash when the username is unknown, so timing does not reveal accounts.
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


def _admin_of(connection, tables, row):
    admins = site_admin_ids(core_config(connection, tables, "siteadmins").get("siteadmins"))
    if row.id not in admins:
        raise LoginRefused("not a site administrator")
    if row.deleted or row.suspended:
        raise LoginRefused("account suspended or deleted")
    return Admin(row.id, row.username, row.firstname, row.lastname, row.email, password_fingerprint(row.password))


def authenticate(connection, tables, username, password, salts=()):
    """The :class:`Admin` for a correct username and password of a site admin; else :class:`LoginRefused`."""
    username = (username or "").strip().lower()  # Moodle stores usernames in lower case
    row = connection.execute(
        _user_query(tables).where(tables.user.c.username == username, tables.user.c.deleted == 0)
    ).first()
    if row is None:
        verify_moodle_password(password, _DUMMY_HASH)
        raise LoginRefused("unknown username")
    if row.auth not in INTERNAL_AUTH:
        raise LoginRefused(f"account uses the {row.auth!r} authentication plugin; its password is not in Moodle")
    if not verify_moodle_password(password, row.password, salts):
        raise LoginRefused("wrong password")
    return _admin_of(connection, tables, row)


def signed_in_admin(connection, tables, userid, fingerprint):
    """The :class:`Admin` a session names, if that user is still an admin with the same password."""
    row = connection.execute(_user_query(tables).where(tables.user.c.id == userid)).first()
    if row is None:
        return None
    try:
        admin = _admin_of(connection, tables, row)
    except LoginRefused:
        return None
    return admin if hmac.compare_digest(admin.fingerprint, fingerprint or "") else None
