"""An admin acknowledging or resolving a stored alert (``alert_history.php``).

*Acknowledged* means "someone is on it": the alert stays open, but it no longer counts as pending
(:mod:`alxbridge.metrics.alert_history`). *Resolved* is the plugin's ``resolved = 1``, the same flag
the alert check sets when a condition clears; if the condition still holds, the check raises a new
alert once the cooldown has passed, so resolving by hand never hides a lasting problem. Who did
what, and when, is kept in ``local_alxbridge_alert_handling``: the plugin's table has no room for it.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..db.upsert import upsert

ACTIONS = ("acknowledge", "resolve")


@dataclass(frozen=True)
class HandlingOutcome:
    done: bool
    message: str


def handle_alert(connection, tables, alertid, action, userid, now):
    """Apply ``action`` (one of :data:`ACTIONS`) to the alert ``alertid`` for the admin ``userid``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown alert action: {action!r}")
    alerts, handling = tables.local_alx_api_alerts, tables.local_alxbridge_alert_handling
    alert = connection.execute(
        sa.select(alerts.c.id, alerts.c.resolved, handling.c.timeacknowledged)
        .outerjoin(handling, handling.c.alertid == alerts.c.id)
        .where(alerts.c.id == alertid)
    ).first()
    if alert is None:
        return HandlingOutcome(False, f"Alert {alertid} does not exist (retention may have deleted it).")
    if alert.resolved:
        return HandlingOutcome(False, f"Alert {alertid} is already resolved.")
    key = {"alertid": alertid}
    if action == "acknowledge":
        if alert.timeacknowledged:
            return HandlingOutcome(False, f"Alert {alertid} is already acknowledged.")
        values = {"acknowledgedby": userid, "timeacknowledged": now}
        upsert(connection, handling, key, values)
        return HandlingOutcome(True, f"Alert {alertid} acknowledged: it stays open but is no longer pending.")
    connection.execute(sa.update(alerts).where(alerts.c.id == alertid).values(resolved=1))
    upsert(connection, handling, key, {"resolvedby": userid, "timeresolved": now})
    return HandlingOutcome(True, f"Alert {alertid} resolved.")
