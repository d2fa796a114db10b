"""Extension instances, created without an app and bound in :func:`alxbridge.create_app`."""

import threading
import time

from flask import current_app
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage

from .db.database import Database


class ThreadSafeMemoryStorage(MemoryStorage):
    """limits' ``memory://`` storage, with its expiry timer checked and restarted under a lock.

    limits 5.8's ``incr`` asks ``timer.is_alive()`` and replaces and starts the timer with no lock, so two
    request threads of one process can start the same timer twice ("threads can only be started once") or
    race inside ``Thread.is_alive`` ("release unlocked lock"): that call failed with an HTML 500 (seen with
    20 simultaneous calls; gunicorn's threads with one worker use ``memory://``). Declaring the same scheme
    makes limits build this class for every ``memory://`` URL.
    """

    STORAGE_SCHEME = ["memory"]  # noqa: RUF012 - the list limits' registry reads, as in the base class

    def __init__(self, *args, **kwargs):
        self._timer_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _MemoryStorage__schedule_expiry(self):  # the private method every write of the base class calls
        # One thread at a time checks and restarts the timer; the others go on (it is being looked after),
        # so the requests of a busy process never queue behind the check.
        if self._timer_lock.acquire(blocking=False):
            try:
                super()._MemoryStorage__schedule_expiry()
            finally:
                self._timer_lock.release()


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
