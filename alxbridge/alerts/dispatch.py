"""Storing alerts in the plugin's ``local_alx_api_alerts`` and resolving them when they clear.

The plugin's filters apply: severities below ``alert_threshold`` are dropped, and an alert is not
repeated within ``alert_cooldown`` minutes — but the cooldown is kept per (type, severity,
subject) instead of per (type, severity), so one user's alert does not silence another's (B25).
The subject travels in ``alert_data`` (``{"subject": "user:42", …}``); the table has no column
for it. Alerts whose condition no longer holds are marked ``resolved = 1`` (the plugin never did).
"""

import json

import sqlalchemy as sa

from ..moodle.plugin_settings import SEVERITIES

SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES, 1)}


def subject_of(alert_data):
    """The subject stored with an alert, or ``None`` for rows written without one."""
    try:
        data = json.loads(alert_data or "null")
    except ValueError:
        return None
    return data.get("subject") if isinstance(data, dict) else None


def _cooling_down(connection, alerts, condition, since):
    recent = connection.execute(
        sa.select(alerts.c.alert_data).where(
            alerts.c.alert_type == condition.alert_type,
            alerts.c.severity == condition.severity,
            alerts.c.timecreated > since,
        )
    )
    return any(subject_of(data) == condition.subject for (data,) in recent)


def store_alert(connection, tables, settings, condition, now, hostname):
    """Insert the alert unless it is below the threshold or cooling down; return its id or ``None``."""
    if SEVERITY_RANK[condition.severity] < SEVERITY_RANK[settings.alert_threshold]:
        return None
    alerts = tables.local_alx_api_alerts
    if _cooling_down(connection, alerts, condition, now - settings.alert_cooldown_minutes * 60):
        return None
    return connection.execute(
        sa.insert(alerts).values(
            alert_type=condition.alert_type,
            severity=condition.severity,
            message=condition.message,
            alert_data=json.dumps({**condition.data, "subject": condition.subject}),
            hostname=hostname[:255],
            timecreated=now,
            resolved=0,
        )
    ).inserted_primary_key[0]


def resolve_cleared(connection, tables, alert_types, holding):
    """Mark open alerts of ``alert_types`` resolved unless their (type, subject) is in ``holding``."""
    alerts = tables.local_alx_api_alerts
    open_alerts = connection.execute(
        sa.select(alerts.c.id, alerts.c.alert_type, alerts.c.alert_data).where(
            alerts.c.resolved == 0, alerts.c.alert_type.in_(alert_types)
        )
    ).all()
    cleared = [
        row.id
        for row in open_alerts
        if (subject := subject_of(row.alert_data)) is not None and (row.alert_type, subject) not in holding
    ]
    if cleared:
        connection.execute(sa.update(alerts).where(alerts.c.id.in_(cleared)).values(resolved=1))
    return len(cleared)
