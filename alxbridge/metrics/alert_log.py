"""The stored alerts (``local_alx_api_alerts``) and who they are mailed to.

Rate-limit alerts come in two types: ``rate_limit_exceeded`` (written by the web service at the
first refused call, as the plugin does) and ``rate_limit`` (the periodic check's condition).
Recipients are the ``alert_emails`` setting only: the bridge does not mail site administrators,
so the pages list them apart, as people who could be added.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.siteconfig import core_config, site_admin_ids
from .alert_history import alert_status, with_handling

RATE_LIMIT_TYPES = ("rate_limit_exceeded", "rate_limit")


def recent_alerts(connection, tables, limit=20, alert_types=None):
    """The latest alerts (of ``alert_types`` only, when given), newest first, each with its ``status``."""
    alerts, handling = tables.local_alx_api_alerts, tables.local_alxbridge_alert_handling
    query = (
        with_handling(alerts, handling, alerts, alert_status(alerts, handling).label("status"))
        .order_by(alerts.c.timecreated.desc(), alerts.c.id.desc())
        .limit(limit)
    )
    if alert_types:
        query = query.where(alerts.c.alert_type.in_(alert_types))
    return connection.execute(query).all()


@dataclass(frozen=True)
class AlertCounts:
    open: int
    open_critical: int
    since: int  # raised in the window


def alert_counts(connection, tables, since):
    """Unresolved alerts (and how many of them critical), and alerts raised since ``since``."""
    alerts = tables.local_alx_api_alerts
    unresolved = alerts.c.resolved == 0
    row = connection.execute(
        sa.select(*(sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0) for condition in (
            unresolved, sa.and_(unresolved, alerts.c.severity == "critical"), alerts.c.timecreated >= since,
        )))
    ).one()  # fmt: skip
    return AlertCounts(*(int(value) for value in row))


def site_admins(connection, tables):
    """``[(full name, email)]`` of the site administrators (``$CFG->siteadmins``), by name."""
    ids = site_admin_ids(core_config(connection, tables, "siteadmins").get("siteadmins"))
    user = tables.user
    rows = connection.execute(
        sa.select(user.c.firstname, user.c.lastname, user.c.email)
        .where(user.c.id.in_(ids), user.c.deleted == 0)
        .order_by(user.c.lastname, user.c.firstname)
    )
    return [(f"{first} {last}".strip(), email) for first, last, email in rows]
