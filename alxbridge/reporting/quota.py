"""The plugin's daily quota: calls per token owner since local midnight.

Semantics kept from the plugin: every logged call counts (errors included); the first rejected call
of the day is logged once (and counts) and raises an alert; later rejections are neither logged nor
counted. Differences: a limit of ``0`` means unlimited, as the plugin's settings page says (the
plugin turns it into 100). The quota is exact: the plugin counted the log and wrote the call's row
when the call ended, so concurrent calls of one user all passed at ``limit - 1``.

The count lives in a counter row per (user, local day) (``local_alxbridge_quota``): a call is admitted
by one conditional ``UPDATE … SET calls = calls + 1 … AND calls < limit``, whose row lock makes the
user's concurrent calls, in any process or host, take their turns until the call's log row is
committed with it. Its cost does not grow with the log. The day's row starts from the user's calls
already in the log that day (calls served before the counter existed, by an older bridge or the PHP
plugin); calls the PHP plugin serves beside the bridge *after* that are in the log, which the
plugin counts, but not in the bridge's counter (docs/operations.md).
"""

from datetime import datetime

import sqlalchemy as sa

from ..db.prebuilt import prebuilt
from ..db.upsert import upsert
from .contract import rate_limit_exceeded

DEFAULT_DAILY_LIMIT = 100


def local_midnight(now, timezone):
    """Unix time of the start of ``now``'s day in the site timezone."""
    day = datetime.fromtimestamp(now, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp())


def _counter(tables):
    quota = tables.local_alxbridge_quota
    return quota, (quota.c.userid == sa.bindparam("quota_user"), quota.c.day == sa.bindparam("quota_day"))


@prebuilt
def _admit_query(tables):
    """Count the call in when the day's count is below the limit; matches no row at the limit (or without a row)."""
    quota, this_day = _counter(tables)
    return (
        sa.update(quota)
        .where(*this_day, quota.c.calls < sa.bindparam("quota_limit"))
        .values(calls=quota.c.calls + 1, timemodified=sa.bindparam("quota_now"))
    )


@prebuilt
def _first_rejection_query(tables):
    """Count the day's first rejection (the count reaches ``limit + 1``); matches no row for the later ones."""
    quota, this_day = _counter(tables)
    return (
        sa.update(quota)
        .where(*this_day, quota.c.calls == sa.bindparam("quota_limit"))
        .values(calls=quota.c.calls + 1, timemodified=sa.bindparam("quota_now"))
    )


@prebuilt
def _count_query(tables):
    quota, this_day = _counter(tables)
    return sa.select(quota.c.calls).where(*this_day)


@prebuilt
def _logged_query(tables):
    """The user's log rows of the day: where a new day's count starts."""
    logs = tables.local_alx_api_logs
    return (
        sa.select(sa.func.count())
        .select_from(logs)
        .where(logs.c.userid == sa.bindparam("quota_user"), logs.c.timeaccessed >= sa.bindparam("quota_day"))
    )


def _open_day(connection, tables, parameters):
    """Create the user's row of the day unless it exists (another process may have created it meanwhile)."""
    if connection.execute(_count_query(tables), parameters).first() is not None:
        return
    logged = connection.execute(_logged_query(tables), parameters).scalar()
    key = {"userid": parameters["quota_user"], "day": parameters["quota_day"]}
    # Another process may create it at the same moment: the row then stays as that process made it.
    upsert(connection, tables.local_alxbridge_quota, key, {"calls": logged, "timemodified": parameters["quota_now"]},
           on_update={})  # fmt: skip
    connection.commit()  # at once, so that a concurrent creator waits for a committed row, never for a lock of ours


def calls_today(connection, tables, user_id, now, timezone):
    """The user's calls of ``now``'s local day as the quota counts them (0 before the day's first call)."""
    parameters = {"quota_user": user_id, "quota_day": local_midnight(now, timezone)}
    return connection.execute(_count_query(tables), parameters).scalar() or 0


def admit_call(connection, tables, *, user_id, daily_limit, now, timezone, reservation, rejection,
               on_first_rejection):  # fmt: skip
    """Admit the call under the daily quota (``0``: unlimited) and return the id of its log row.

    ``reservation`` and ``rejection`` are the values of the log row of an admitted call and of the
    day's first rejection; either is committed with the count. Raises ``ratelimitexceeded``;
    ``on_first_rejection(count, limit)`` runs once a day per user, after the rejection row is committed.
    """
    logs = tables.local_alx_api_logs
    if not daily_limit:
        return _insert(connection, logs, reservation)
    parameters = {"quota_user": user_id, "quota_day": local_midnight(now, timezone), "quota_limit": daily_limit,
                  "quota_now": now}  # fmt: skip
    admitted = connection.execute(_admit_query(tables), parameters).rowcount == 1
    if not admitted:
        # End the transaction before the day's row is created: the update that matched nothing may hold a gap
        # lock (MariaDB), and two first calls of a day, each holding one, would deadlock on their inserts.
        connection.rollback()
        _open_day(connection, tables, parameters)
        admitted = connection.execute(_admit_query(tables), parameters).rowcount == 1
    if admitted:
        return _insert(connection, logs, reservation)
    if connection.execute(_first_rejection_query(tables), parameters).rowcount == 1:
        message = f"Rate limit exceeded: {daily_limit}/{daily_limit} requests"
        _insert(connection, logs, {**rejection, "error_message": message})
        on_first_rejection(daily_limit, daily_limit)
        raise rate_limit_exceeded(daily_limit, daily_limit)
    count = connection.execute(_count_query(tables), parameters).scalar()
    connection.commit()  # no row of the call is kept: end the transaction that locked the counter
    raise rate_limit_exceeded(count, daily_limit)


def _insert(connection, logs, values):
    row_id = connection.execute(logs.insert(), values).inserted_primary_key[0]
    connection.commit()
    return row_id
