"""One ``local_alx_api_logs`` row per call, success or error, with the plugin's columns.

The row is written and committed after the call (a failed call's own writes are rolled back
first), so every call is logged, and a logging failure never turns a served page into an error.
"""

import json
import logging
import time

log = logging.getLogger(__name__)
USER_AGENT_LENGTH = 255


def log_call(connection, tables, *, user_id, company_shortname, endpoint, record_count, error_message, started,
             ip_address, user_agent, details, now=None):  # fmt: skip
    """Insert the audit row; ``details`` becomes ``additional_data`` (JSON)."""
    logs = tables.local_alx_api_logs
    row = {
        "userid": user_id,
        "company_shortname": company_shortname,
        "endpoint": endpoint,
        "record_count": record_count,
        "error_message": error_message,
        "response_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "timeaccessed": int(time.time()) if now is None else now,
        "ip_address": (ip_address or "unknown")[:45],
        "user_agent": (user_agent or "unknown")[:USER_AGENT_LENGTH],
        "additional_data": json.dumps(details, separators=(",", ":")) if details else None,
    }
    try:
        connection.execute(logs.insert().values(**row))
        connection.commit()
    except Exception:
        connection.rollback()
        log.exception("could not write the API log row for user %s", user_id)
