"""Configuration read from ``ALX_*`` environment variables (and an optional ``.env`` file).

Flask config keys carry the same names as the environment variables, so what an operator
sets is what the code reads: ``app.config["ALX_DB_PREFIX"]`` comes from ``ALX_DB_PREFIX``.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

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
    "ALX_MOODLE_WWWROOT": None,  # Moodle's $CFG->wwwroot (config.php); unset: the address each request came in on
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
# Addresses of Moodle: its public wwwroot (a path allowed, as Moodle allows one) and its own web server, which
# is reached at wwwroot's path (initialise_fullme() refuses any other), so an upstream path would be a mistake.
URL_SETTINGS = {"ALX_MOODLE_WWWROOT": True, "ALX_MOODLE_UPSTREAM": False}


def _checked_url(key, raw):
    """``raw`` as ``scheme://host[:port][/path]`` without a trailing slash, or a one-line refusal."""
    example = (
        "https://moodle.example.com or https://moodle.example.com/moodle"
        if URL_SETTINGS[key]
        else ("http://127.0.0.1:8080")
    )
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query
        or parts.fragment or parts.username is not None
    ):  # fmt: skip
        raise SystemExit(f"{key} must be an http(s) address like {example}, got {raw!r}")
    path = parts.path.rstrip("/")
    if path and not URL_SETTINGS[key]:
        raise SystemExit(
            f"{key} is the address of Moodle's own web server, without a path (got {raw!r}): "
            "a Moodle served under a path gets it from ALX_MOODLE_WWWROOT"
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


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
        elif key in URL_SETTINGS:
            settings[key] = _checked_url(key, raw)
        else:
            settings[key] = raw
    return settings
