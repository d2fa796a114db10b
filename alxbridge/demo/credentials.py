"""Passwords, password hashes and tokens of the demo site, derived from the seed and a credentials key.

The key is secret and differs per install (``alx demo`` derives it from the app's secret key, itself
random per install unless ``ALX_SECRET_KEY`` is set), so the source alone opens no demo site. Deriving
instead of drawing from ``os.urandom`` keeps two builds of one install with the same seed identical
row for row, and lets ``--if-missing`` print the admin password again without storing it.
"""

import base64
import hashlib
import hmac
import random
import secrets

import bcrypt

ADMIN_COST = 10  # what Moodle 4.1's password_hash(PASSWORD_DEFAULT) uses
_STANDARD_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT_B64 = bytes.maketrans(_STANDARD_B64, _BCRYPT_B64)


def _bcrypt_base64(data):
    return base64.b64encode(data).rstrip(b"=").translate(_TO_BCRYPT_B64).decode("ascii")


def credentials_key(app_secret=None):
    """The demo's credentials key: derived from ``app_secret`` (one per install), else a random one."""
    if app_secret is None:
        return secrets.token_hex(32)
    return hmac.new(app_secret.encode("utf-8"), b"alxbridge-demo-credentials", hashlib.sha256).hexdigest()


def _derived(key, label, hex_digits):
    return hmac.new(key.encode("ascii"), label.encode("utf-8"), hashlib.sha512).hexdigest()[:hex_digits]


def token(key, seed, number):
    """The ``number``-th web service token: 32 hex characters, as Moodle's."""
    return _derived(key, f"token:{seed}:{number}", 32)


def private_token(key, seed, number):
    return _derived(key, f"privatetoken:{seed}:{number}", 64)


def admin_password(seed, key):
    """A password that passes Moodle's default policy (upper, lower, digit, symbol; 8+ characters)."""
    rng = random.Random(_derived(key, f"admin-password:{seed}", 64))
    groups = (
        rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
        + rng.choice("abcdefghijkmnpqrstuvwxyz")
        + rng.choice("23456789")
        + rng.choice("abcdefghijkmnpqrstuvwxyz")
        for _ in range(3)
    )
    return "-".join(groups)


def moodle_bcrypt(password, seed):
    """``password_hash()`` as PHP writes it: bcrypt with the ``$2y$`` prefix, salt taken from the seed."""
    salt_bytes = random.Random(f"alxbridge-demo-admin-salt:{seed}").randbytes(16)
    salt = f"$2b${ADMIN_COST:02d}${_bcrypt_base64(salt_bytes)[:22]}".encode("ascii")
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii").replace("$2b$", "$2y$", 1)


def placeholder_hash(seed, userid):
    """A well-formed ``$2y$10$`` hash that no known password matches: demo people log in via tokens.

    Hashing for real costs ~70 ms per user; this costs a microsecond.
    """
    digest = hashlib.blake2b(f"{seed}:{userid}".encode("ascii"), digest_size=40).digest()
    return "$2y$10$" + _bcrypt_base64(digest)[:53]
