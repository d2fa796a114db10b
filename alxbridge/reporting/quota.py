"""The plugin's daily quota: calls per token owner since local midnight, counted in the audit log.

Semantics kept from the plugin: every logged call counts (errors included); the first rejected call
of the day is logged once and raises an alert; later rejections are neither logged nor counted.
Differences: a limit of ``0`` means unlimited, as the plugin's settings page says (the plugin turns it
into 100). The quota is exact: the plugin counted the log and wrote the call's row when the call
ended, so concurrent calls of one user all passed at ``limit - 1``. Here a call's row is written
(reserved) as it is admitted, under a per-user database lock, and completed when the call ends;
a process that dies mid-call leaves its row (it was a call) with ``response_time_ms = 0``.
"""

from datetime import datetime

import sqlalchemy as sa

from ..locks import LockTimeout, section_lock
from ..prebuilt import prebuilt
from ..webservice.exceptions import database_read_error
from .contract import rate_limit_exceeded

DEFAULT_DAILY_LIMIT = 100
# The section is a count and an insert (about a millisecond); waiting longer means the database is in trouble.
LOCK_WAIT_SECONDS = 20


def local_midnight(now, timezone):
    """Unix time of the start of ``now``'s day in the site timezone."""
    day = datetime.fromtimestamp(now, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp())


@prebuilt
def _count_query(tables):
    """The count of the log rows of the user bound as ``quota_user`` since ``quota_since``.

    A plain (consistent) read: counting inside ``INSERT … SELECT`` would take shared next-key locks
    on the log's index and, with concurrent callers, fail on InnoDB's AUTO-INC lock (error 1467).
    """
    logs = tables.local_alx_api_logs
    return (
        sa.select(sa.func.count())
        .select_from(logs)
        .where(logs.c.userid == sa.bindparam("quota_user"), logs.c.timeaccessed >= sa.bindparam("quota_since"))
    )


def calls_today(connection, tables, user_id, now, timezone):
    since = local_midnight(now, timezone)
    return connection.execute(_count_query(tables), {"quota_user": user_id, "quota_since": since}).scalar()


def admit_call(connection, tables, *, user_id, daily_limit, now, timezone, reservation, rejection,
               on_first_rejection):  # fmt: skip
    """Admit the call under the daily quota (``0``: unlimited) and return the id of its log row.

    ``reservation`` and ``rejection`` are the values of the log row of an admitted call and of the
    day's first rejection. Counting and inserting happen under the user's lock and the row is
    committed before the lock is released, so concurrent calls of one user in any process or host
    are admitted one after the other and exactly ``daily_limit`` get through. Raises
    ``ratelimitexceeded``; ``on_first_rejection(count, limit)`` runs once a day per user, after the
    rejection row is committed and the lock released.
    """
    logs = tables.local_alx_api_logs
    # End the transaction first: under REPEATABLE READ an older snapshot would not see the calls
    # that other processes committed while this one waited for the lock.
    connection.commit()
    if not daily_limit:
        return _insert(connection, logs, reservation)
    try:
        with section_lock(connection, f"quota/{logs.name}/{user_id}", LOCK_WAIT_SECONDS):
            count = calls_today(connection, tables, user_id, now, timezone)
            if count < daily_limit:
                return _insert(connection, logs, reservation)
            if count == daily_limit:
                message = f"Rate limit exceeded: {count}/{daily_limit} requests"
                _insert(connection, logs, {**rejection, "error_message": message})
    except LockTimeout as error:
        raise database_read_error(str(error)) from None
    if count == daily_limit:
        on_first_rejection(count, daily_limit)
    raise rate_limit_exceeded(count, daily_limit)


def _insert(connection, logs, values):
    row_id = connection.execute(logs.insert(), values).inserted_primary_key[0]
    connection.commit()
    return row_id
