"""Checking a password against ``mdl_user.password`` the way Moodle's ``validate_internal_user_password`` does.

Moodle stores bcrypt (``$2y$``, PHP's ``password_hash``), SHA-512 crypt (``$6$``, Moodle 4.3+) and,
for accounts not migrated since Moodle 2.5, a bare md5 of the password plus the site's
``passwordsaltmain`` (or one of the older ``passwordsaltalt*`` salts, or no salt). The salts live
in Moodle's ``config.php``, never in the database, so the operator passes them in
``ALX_PASSWORD_SALTS``. Every comparison of a computed digest is constant-time.
"""

import hashlib
import hmac
import warnings

import bcrypt

try:  # Python 3.13 removed the crypt module; crypt_r is its maintained copy.
    import crypt_r as _crypt
except ImportError:  # pragma: no cover - depends on the interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt

BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
SHA512_CRYPT_PREFIX = "$6$"
LEGACY_MD5_LENGTH = 32


def verify_bcrypt(password, stored):
    """True when ``password`` matches a PHP bcrypt hash (PHP writes ``$2y$``, Python reads ``$2b$``)."""
    if not stored.startswith(BCRYPT_PREFIXES):
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8")[:72], ("$2b$" + stored[4:]).encode("ascii"))
    except ValueError:
        return False


def verify_sha512_crypt(password, stored):
    if not stored.startswith(SHA512_CRYPT_PREFIX):
        return False
    computed = _crypt.crypt(password, stored)
    return computed is not None and hmac.compare_digest(computed.encode("ascii"), stored.encode("ascii"))


def verify_legacy_md5(password, stored, salts=()):
    """md5(password + salt) for each configured salt, then the unsalted md5 Moodle accepts without salts."""
    if len(stored) != LEGACY_MD5_LENGTH:
        return False
    expected = stored.lower().encode("ascii")
    candidates = [*salts, ""] if salts else [""]
    matched = False
    for salt in candidates:
        digest = hashlib.md5((password + salt).encode("utf-8"), usedforsecurity=False).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(digest, expected)
    return matched


def verify_moodle_password(password, stored, salts=()):
    """True when ``password`` is the password of a user whose ``mdl_user.password`` is ``stored``."""
    if not password or not stored:
        return False
    if stored.startswith(BCRYPT_PREFIXES):
        return verify_bcrypt(password, stored)
    if stored.startswith(SHA512_CRYPT_PREFIX):
        return verify_sha512_crypt(password, stored)
    try:
        return verify_legacy_md5(password, stored, salts)
    except UnicodeEncodeError:
        return False
