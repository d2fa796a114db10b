"""The pool's two safety round trips, kept only where they can matter.

SQLAlchemy pings every connection it hands out (``pool_pre_ping``) and rolls every returned connection
back (``reset_on_return``): two round trips of a cached page's eleven. Both guard real cases — a
connection the server dropped while it sat in the pool (restart, ``wait_timeout``, a killed session),
and a connection returned in the middle of a transaction — but on a busy site the connection came back a
few milliseconds ago from a call that committed. So:

- a connection is pinged when its socket has something to read (a server that closes a connection, by
  a restart, a timeout or ``KILL``, sends end-of-file: seen with a zero-timeout ``poll``, no round trip) or
  when it sat idle in the pool for :data:`PING_AFTER_IDLE_SECONDS` (a connection a firewall dropped
  silently sends nothing). A failed ping makes the pool throw the connection away and try another, as
  pre-ping does;
- a returned connection is rolled back unless SQLAlchemy ended its transaction (``commit()``/``rollback()``)
  after its last ``BEGIN`` (a connection is marked open when handed out). Code that used the driver's
  connection below SQLAlchemy after a commit would have to end its own transaction; the bridge has none.
"""

import select
import time

import sqlalchemy as sa
from sqlalchemy import exc

PING_AFTER_IDLE_SECONDS = 10.0
_RETURNED_AT = "alx_returned_at"  # keys in the pool record's ``info``, which lives as long as the connection
_OPEN = "alx_transaction_open"
_NEWS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | getattr(select, "POLLRDHUP", 0)


def _socket_has_news(dbapi_connection):
    """Whether the server sent anything (end-of-file included) to a connection that expects nothing."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), _NEWS)
    return bool(poller.poll(0))


def _ping_when_in_doubt(dialect):
    def checkout(dbapi_connection, record, proxy):
        returned_at = record.info.get(_RETURNED_AT)
        record.info[_OPEN] = True
        if (
            returned_at is not None
            and time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS
            and not _socket_has_news(dbapi_connection)
        ):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"ping failed: {error}") from error

    return checkout


def _checkin(dbapi_connection, record):
    if record is not None:
        record.info[_RETURNED_AT] = time.monotonic()


def _set_open(value):
    def listener(connection):
        if not connection.invalidated:  # an invalidated connection goes back to no pool (and reading its info raises)
            connection.info[_OPEN] = value

    return listener


def _rollback_if_open(dialect):
    def reset(dbapi_connection, record, reset_state):
        if not reset_state.terminate_only and (record is None or record.info.get(_OPEN, True)):
            dialect.do_rollback(dbapi_connection)

    return reset


NO_POOL_CHECKS = {"pool_pre_ping": False, "pool_reset_on_return": None}  # create_engine() options :func:`install` needs


def install(engine):
    """Give an engine created with :data:`NO_POOL_CHECKS` the checks above."""
    sa.event.listen(engine.pool, "checkout", _ping_when_in_doubt(engine.dialect))
    sa.event.listen(engine.pool, "checkin", _checkin)
    sa.event.listen(engine.pool, "reset", _rollback_if_open(engine.dialect))
    sa.event.listen(engine, "begin", _set_open(True))
    sa.event.listen(engine, "commit", _set_open(False))
    sa.event.listen(engine, "rollback", _set_open(False))
