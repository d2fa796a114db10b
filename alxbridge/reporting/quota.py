"""The plugin's daily quota: calls per token owner since local midnight, counted in the audit log.

Semantics kept from the plugin: every logged call counts (errors included); the first rejected call
of the day is logged once and raises an alert; later rejections are neither logged nor counted.
Difference: a limit of ``0`` means unlimited, as the plugin's settings page says (the plugin turns it
into 100).
"""

from datetime import datetime

import sqlalchemy as sa

from .contract import ENDPOINT, rate_limit_exceeded

DEFAULT_DAILY_LIMIT = 100


def local_midnight(now, timezone):
    """Unix time of the start of ``now``'s day in the site timezone."""
    day = datetime.fromtimestamp(now, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp())


def calls_today(connection, tables, user_id, now, timezone):
    logs = tables.local_alx_api_logs
    return connection.execute(
        sa.select(sa.func.count())
        .select_from(logs)
        .where(logs.c.userid == user_id, logs.c.timeaccessed >= local_midnight(now, timezone))
    ).scalar()


def enforce_daily_quota(connection, tables, *, user_id, company_shortname, daily_limit, now, timezone,
                        ip_address, user_agent, on_first_rejection):  # fmt: skip
    """Raise ``ratelimitexceeded`` once the day's calls reach ``daily_limit`` (``0``: unlimited).

    ``on_first_rejection(count, limit)`` is called once a day per user, after the rejection is logged.
    """
    if not daily_limit:
        return
    count = calls_today(connection, tables, user_id, now, timezone)
    if count < daily_limit:
        return
    if count == daily_limit:
        connection.execute(
            tables.local_alx_api_logs.insert().values(
                userid=user_id, company_shortname=company_shortname, endpoint=ENDPOINT, record_count=0,
                error_message=f"Rate limit exceeded: {count}/{daily_limit} requests", response_time_ms=0,
                timeaccessed=now, ip_address=(ip_address or "")[:45], user_agent=user_agent or "",
            )
        )  # fmt: skip
        connection.commit()
        on_first_rejection(count, daily_limit)
    raise rate_limit_exceeded(count, daily_limit)
