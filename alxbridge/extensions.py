"""Extension instances, created without an app and bound in :func:`alxbridge.create_app`."""

import time

from flask import current_app
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .db.database import Database

cache = Cache()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def cache_config(url):
    """Flask-Caching settings for ``ALX_CACHE_URL`` (``simple``, ``null``, ``redis://…``)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url}
    return {"CACHE_TYPE": {"simple": "SimpleCache", "null": "NullCache"}.get(url, url)}


def init_database(app):
    """The app's database; ``app.config["CLOCK"]`` (a callable, tests only) replaces the wall clock."""
    app.extensions["alx_database"] = Database(
        app.config["ALX_DATABASE_URL"], app.config["ALX_DB_PREFIX"], clock=app.config.get("CLOCK", time.time)
    )


def get_database():
    """The :class:`Database` of the current app."""
    return current_app.extensions["alx_database"]
