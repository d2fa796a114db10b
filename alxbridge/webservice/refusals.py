"""Calls refused before any function ran, kept durably in ``local_alxbridge_refusal``.

A bad or expired token never reaches the plugin's log (Moodle refuses it before the function runs),
and the abuse shield's counters live in memory, so neither showed on any page. Each refusal adds
one to its row for (minute, client IP, reason, token hash prefix): the table grows by at most one
row per source and minute however many attempts there are (the shield caps failed authentications
per IP), and :mod:`alxbridge.jobs.retention` purges old rows. The token itself is never stored: only the
first 8 hex digits of its SHA-256, enough to tell a stale Power BI token from someone guessing.

Recording costs one single-row upsert on the refusal path only; it never changes the answer (a
failure to record is logged, without the token, and the client still gets its envelope).
"""

import hashlib
import logging

from ..db.upsert import upsert

log = logging.getLogger(__name__)

SHIELD = "blocked by the abuse shield"
PREFIX_LENGTH = 8


def reason_of(error):
    """The refusal's reason in an admin's words, from the Moodle error the client received."""
    code, detail = error.errorcode, error.debuginfo or ""
    if code == "invalidtoken":
        return "invalid token"
    if code == "accessexception":
        if "token expired" in detail:
            return "expired token"
        if "IP:" in detail:
            return "IP not allowed"
        return "no access to the service"
    if code.startswith("wsaccessuser"):
        return f"user refused ({code.removeprefix('wsaccessuser')})"[:30]
    return code[:30]


def token_prefix(token):
    if not isinstance(token, str) or not token:
        return ""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:PREFIX_LENGTH]


def record_refusal(database, reason, token, client_ip, now):
    """Count one refused call; never raises."""
    table = database.tables.local_alxbridge_refusal
    key = {
        "timeminute": int(now) // 60 * 60,
        "ip_address": (client_ip or "unknown")[:45],
        "reason": reason[:30],
        "token_prefix": token_prefix(token),
    }
    try:
        with database.begin() as connection:
            upsert(connection, table, key, {"attempts": 1, "timelast": int(now)},
                   on_update={"attempts": table.c.attempts + 1, "timelast": int(now)})  # fmt: skip
    except Exception as error:  # noqa: BLE001 - the refusal is answered either way
        log.warning("could not record a refused call (%s from %s): %s", reason, key["ip_address"], type(error).__name__)
