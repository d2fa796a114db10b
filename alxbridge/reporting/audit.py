"""One ``local_alx_api_logs`` row per call, success or error, with the plugin's columns.

A call the daily quota admits gets its row when it is admitted (:func:`reserved_row`, written by
:func:`~alxbridge.reporting.quota.admit_call`) and :func:`log_call` completes it when the call ends;
calls refused before the quota check get theirs from :func:`log_call` alone. Either way the final
write is committed after the call (a failed call's own writes are rolled back first), so every call
is logged, and a logging failure never turns a served page into an error.
"""

import json
import logging
import time

import sqlalchemy as sa

from ..db.prebuilt import prebuilt

log = logging.getLogger(__name__)
USER_AGENT_LENGTH = 255
IP_LENGTH = 45


def _details(details):
    return json.dumps(details, separators=(",", ":")) if details else None


def reserved_row(*, user_id, company_shortname, endpoint, ip_address, user_agent, details, now):
    """The row of an admitted call as it starts: no records, no error and no timing yet (``0``)."""
    return {
        "userid": user_id,
        "company_shortname": company_shortname,
        "endpoint": endpoint,
        "record_count": 0,
        "error_message": None,
        "response_time_ms": 0,
        "timeaccessed": now,
        "ip_address": (ip_address or "unknown")[:IP_LENGTH],
        "user_agent": (user_agent or "unknown")[:USER_AGENT_LENGTH],
        "additional_data": _details(details),
    }


def rejection_row(*, user_id, company_shortname, endpoint, ip_address, user_agent, now):
    """The day's first quota rejection (its ``error_message`` is added by the quota)."""
    return {
        "userid": user_id, "company_shortname": company_shortname, "endpoint": endpoint, "record_count": 0,
        "response_time_ms": 0, "timeaccessed": now, "ip_address": (ip_address or "")[:IP_LENGTH],
        "user_agent": (user_agent or "")[:USER_AGENT_LENGTH],
    }  # fmt: skip


@prebuilt
def _completion_query(tables):
    logs = tables.local_alx_api_logs
    return sa.update(logs).where(logs.c.id == sa.bindparam("log_id"))


def log_call(connection, tables, *, user_id, company_shortname, endpoint, record_count, error_message, started,
             ip_address, user_agent, details, now, reservation=None):  # fmt: skip
    """Complete the call's reserved row (id ``reservation``) or insert it; ``details`` become ``additional_data``."""
    logs = tables.local_alx_api_logs
    outcome = {
        "record_count": record_count,
        "error_message": error_message,
        "response_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "additional_data": _details(details),
    }
    try:
        if reservation is not None:
            connection.execute(_completion_query(tables), {"log_id": reservation, **outcome})
        else:
            row = reserved_row(
                user_id=user_id, company_shortname=company_shortname, endpoint=endpoint, ip_address=ip_address,
                user_agent=user_agent, details=None, now=now,
            )  # fmt: skip
            connection.execute(logs.insert().values({**row, **outcome}))
        connection.commit()
    except Exception:
        connection.rollback()
        log.exception("could not write the API log row for user %s", user_id)
