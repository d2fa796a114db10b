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
    """limits' ``memory://`` storage, sweeping expired keys inline instead of from a timer thread.

    limits 5.8 starts a new 10 ms ``threading.Timer`` on a write whenever the last one has ended, so most
    calls of a process paid for starting a thread (about half a millisecond of a cached page), and it
    checked and replaced the timer with no lock, so two request threads could start the same timer twice
    ("threads can only be started once") or race inside ``Thread.is_alive`` ("release unlocked lock"): an
    HTML 500, seen with 20 simultaneous calls. Expired counters need no sweep to be right (``get`` drops an
    expired key, moving windows compare times); the sweep only frees memory, so here one thread at a time
    runs it inline, at most every :attr:`SWEEP_SECONDS`. Declaring the same scheme makes limits build this
    class for every ``memory://`` URL.
    """

    STORAGE_SCHEME = ["memory"]  # noqa: RUF012 - the list limits' registry reads, as in the base class
    SWEEP_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        self._sweep_lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(*args, **kwargs)

    def _MemoryStorage__schedule_expiry(self):  # the private method every write of the base class calls
        # The others go on while one thread sweeps, so the requests of a busy process never queue behind it.
        if time.time() >= self._next_sweep and self._sweep_lock.acquire(blocking=False):
            try:
                self._MemoryStorage__expire_events()
                self._next_sweep = time.time() + self.SWEEP_SECONDS
            finally:
                self._sweep_lock.release()


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
