"""Configuration read from ``ALX_*`` environment variables (and an optional ``.env`` file).

Flask config keys carry the same names as the environment variables, so what an operator
sets is what the code reads: ``app.config["ALX_DB_PREFIX"]`` comes from ``ALX_DB_PREFIX``.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_PATH = PROJECT_ROOT / "instance"


def _load_dotenv(path):
    """Put ``KEY=value`` lines of ``path`` into the environment without overriding it."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


# Every setting with its default; README.md documents the same table.
DEFAULTS = {
    "ALX_DATABASE_URL": f"sqlite:///{INSTANCE_PATH / 'demo.db'}",
    "ALX_DB_PREFIX": "mdl_",
    "ALX_SECRET_KEY": None,  # generated once into instance/secret_key when unset
    "ALX_TIMEZONE": None,  # Moodle's forcetimezone/timezone config, else the server's
    "ALX_DEBUG_LEVEL": 0,
    "ALX_DEBUG_DISPLAY": 0,
    "ALX_SCHEDULER": "on",
    "ALX_RATELIMIT_STORAGE_URI": "memory://",
    "ALX_RATELIMIT_PER_IP": "2400/minute",
    "ALX_RATELIMIT_PER_TOKEN": "1200/minute",
    "ALX_RATELIMIT_FAILED_AUTH": "30/minute",
    "ALX_CACHE_URL": "simple",
    "ALX_MOODLE_UPSTREAM": None,
    "ALX_TRUSTED_PROXIES": 0,
    "ALX_SMTP_URL": None,
    "ALX_PASSWORD_SALTS": None,  # Moodle's passwordsaltmain (and passwordsaltalt*), comma-separated
    "ALX_ADMIN_LOGIN_LIMIT": "10/minute;50/hour",
    "ALX_SYNC_TICK_SECONDS": 30,  # the sync tick's interval; 0 turns it off (the hourly run stays)
    "ALX_ADMIN_SESSION_LIFETIME": 43200,  # seconds from sign-in after which an admin session ends, busy or not
    "ALX_MAX_REQUEST_BYTES": 8 * 1024 * 1024,  # PHP's default post_max_size: a larger body is never read
}

INTEGER_SETTINGS = {
    "ALX_DEBUG_LEVEL", "ALX_DEBUG_DISPLAY", "ALX_TRUSTED_PROXIES", "ALX_SYNC_TICK_SECONDS",
    "ALX_ADMIN_SESSION_LIFETIME", "ALX_MAX_REQUEST_BYTES",
}  # fmt: skip


def from_environment(environ=None):
    """Return the settings mapping, environment values over defaults."""
    if environ is None:
        _load_dotenv(PROJECT_ROOT / ".env")
        environ = os.environ
    settings = {}
    for key, default in DEFAULTS.items():
        raw = environ.get(key)
        if raw is None or raw == "":
            settings[key] = default
        elif key in INTEGER_SETTINGS:
            try:
                settings[key] = int(raw)
            except ValueError:
                raise SystemExit(f"{key} must be a whole number, got {raw!r}") from None
        else:
            settings[key] = raw
    return settings
