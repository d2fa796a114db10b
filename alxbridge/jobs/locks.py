"""Database locks that let any number of processes and hosts start a job while exactly one runs it.

MySQL/MariaDB: a named lock (``GET_LOCK``) held on a dedicated autocommit connection, so it is
released by ``RELEASE_LOCK`` or, if the process dies, by the server when the connection drops.
The name is hashed from the database, prefix and job the way Moodle names its own locks, which
keeps it within MySQL's 64 characters. SQLite has no named locks: a row of
``local_alxbridge_job`` is claimed with one conditional UPDATE. The claim names its holder
(host and process id), so a claim left by a process that died on this host — the only host a
SQLite file has — is taken over at once; any other claim expires after ``ttl`` seconds unless
its holder keeps it alive.
"""

import contextlib
import hashlib
import os
import secrets
import socket

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ..db.upsert import upsert
from ..operations.errors import BridgeError

ROW_LOCK_TTL = 30 * 60
# The one writer of the reporting table: every sync run, admin sync job, reporting-data clear and sync tick
# takes the lock of this job, so they never overlap.
SYNC_JOB = "sync"
# MySQL/MariaDB named locks (text statements are immutable: built once, not per call)
TRY_LOCK = sa.text("SELECT GET_LOCK(:key, 0)")
LOCK_HELD = sa.text("SELECT IS_USED_LOCK(:key) = CONNECTION_ID()")
RELEASE_LOCK = sa.text("SELECT RELEASE_LOCK(:key)")


class LockLost(BridgeError):
    """The job's lock was lost while it ran (its connection dropped or the lock row expired)."""


def lock_key(database_name, name):
    """A ``GET_LOCK`` name for ``name`` in one database: ``alxbridge:`` + 40 hex digits, under MySQL's 64."""
    digest = hashlib.sha1(f"{database_name}/{name}".encode(), usedforsecurity=False)
    return "alxbridge:" + digest.hexdigest()


class NamedLock:
    """``GET_LOCK`` on its own connection; never waits for a holder."""

    def __init__(self, database, job):
        self.database = database
        self.key = lock_key(make_url(database.url).database or "", f"{database.prefix}/{job}")
        self.job = job
        self._connection = None

    def acquire(self):
        connection = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if connection.execute(TRY_LOCK, {"key": self.key}).scalar() == 1:
            self._connection = connection
            return True
        connection.close()
        return False

    def keep_alive(self):
        held = self._connection.execute(LOCK_HELD, {"key": self.key}).scalar()
        if held != 1:
            raise LockLost(f"the database lock of job {self.job!r} was lost; the run stopped")

    def release(self):
        try:
            self._connection.execute(RELEASE_LOCK, {"key": self.key})
        except sa.exc.DBAPIError:
            # The connection is gone (the server dropped the lock with it) or unusable: discard it rather than
            # return it to the pool still holding the lock, and let the run's own error be the one reported.
            self._connection.invalidate()
        finally:
            self._connection.close()
            self._connection = None


class RowLock:
    """A claimed, expiring row in ``local_alxbridge_job``."""

    def __init__(self, database, job, ttl=ROW_LOCK_TTL):
        self.database = database
        self.job = job
        self.ttl = ttl
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(8)}"
        self.table = database.tables.local_alxbridge_job

    def _mine(self):
        return sa.and_(self.table.c.name == self.job, self.table.c.lock_owner == self.owner)

    def acquire(self):
        now = self.database.now()
        table = self.table
        with self.database.begin() as connection:
            upsert(connection, table, {"name": self.job}, {}, on_update={})
            holder = connection.execute(sa.select(table.c.lock_owner).where(table.c.name == self.job)).scalar()
            claimable = sa.or_(table.c.lock_owner.is_(None), table.c.lock_expires < now)
            if holder is not None and _died_here(holder):
                claimable = sa.or_(claimable, table.c.lock_owner == holder)
            claimed = connection.execute(
                sa.update(table)
                .where(table.c.name == self.job, claimable)
                .values(lock_owner=self.owner, lock_expires=now + self.ttl)
            ).rowcount
        return claimed == 1

    def keep_alive(self):
        with self.database.begin() as connection:
            extended = connection.execute(
                sa.update(self.table).where(self._mine()).values(lock_expires=self.database.now() + self.ttl)
            ).rowcount
        if extended != 1:
            raise LockLost(f"the lock row of job {self.job!r} expired and was taken over; the run stopped")

    def release(self):
        with self.database.begin() as connection:
            connection.execute(sa.update(self.table).where(self._mine()).values(lock_owner=None, lock_expires=0))


def _died_here(owner):
    """True when ``owner`` names a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:30] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextlib.contextmanager
def job_lock(database, job):
    """Yield the held lock of ``job``, or ``None`` at once when another process holds it.

    The holder calls ``lock.keep_alive()`` between units of work, outside any transaction.
    """
    lock = NamedLock(database, job) if database.is_mysql else RowLock(database, job)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()
