"""Alert status and history: what is pending, and every stored alert filtered and paged.

One definition of an alert's **status**, used by every page that shows it:

* **resolved**: ``resolved = 1`` in the plugin's table (the alert check cleared it, or an admin did);
* **acknowledged**: not resolved, and an admin acknowledged it (``local_alxbridge_alert_handling``);
* **pending**: neither; "n alerts pending" on the Control Center counts these.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.plugin_settings import SEVERITIES

STATUSES = ("pending", "acknowledged", "resolved")
PERIODS = {"24h": ("Last 24 hours", 86400), "7d": ("Last 7 days", 7 * 86400), "30d": ("Last 30 days", 30 * 86400),
           "all": ("All time", None)}  # fmt: skip
PAGE_SIZE = 25


def alert_status(alerts, handling):
    """SQL: the alert's status (:data:`STATUSES`), from the plugin's ``resolved`` and the bridge's handling row."""
    return sa.case(
        (alerts.c.resolved != 0, "resolved"),
        (sa.func.coalesce(handling.c.timeacknowledged, 0) > 0, "acknowledged"),
        else_="pending",
    )


def with_handling(alerts, handling, *columns):
    """``SELECT columns`` over the alerts joined to their handling rows (when they have one)."""
    return sa.select(*columns).select_from(alerts.outerjoin(handling, handling.c.alertid == alerts.c.id))


@dataclass(frozen=True)
class PendingAlerts:
    total: int
    by_severity: tuple  # (severity, count) of the severities present, most severe first

    def __str__(self):
        if not self.total:
            return "No alerts pending"
        counts = ", ".join(f"{count} {severity}" for severity, count in self.by_severity)
        return f"{self.total} alert{'s' if self.total != 1 else ''} pending ({counts})"


def pending_alerts(connection, tables):
    """The alerts neither resolved nor acknowledged, counted by severity."""
    alerts, handling = tables.local_alx_api_alerts, tables.local_alxbridge_alert_handling
    status = alert_status(alerts, handling)
    rows = connection.execute(
        with_handling(alerts, handling, alerts.c.severity, sa.func.count())
        .where(status == "pending")
        .group_by(alerts.c.severity)
    ).all()
    counts = dict(rows)
    ranked = [(severity, counts.pop(severity)) for severity in reversed(SEVERITIES) if severity in counts]
    ranked += sorted(counts.items())  # severities the plugin does not know, written by other code
    return PendingAlerts(sum(count for _, count in ranked), tuple(ranked))


@dataclass(frozen=True)
class AlertFilters:
    """The history's filters, each ``""`` for "any"; ``period`` is a key of :data:`PERIODS`."""

    alert_type: str = ""
    severity: str = ""
    status: str = ""
    period: str = "7d"

    def as_args(self):
        """The filters as query arguments (unset ones left out), to link back to the same view."""
        return {name: value for name, value in vars(self).items() if value}


@dataclass(frozen=True)
class AlertPage:
    rows: list  # alert rows with status, acknowledgedby, timeacknowledged, resolvedby, timeresolved
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self):
        return max(1, -(-self.total // self.page_size))


def alert_types(connection, tables):
    """Every alert type stored, alphabetically (the type filter's choices)."""
    alerts = tables.local_alx_api_alerts
    query = sa.select(alerts.c.alert_type).distinct().order_by(alerts.c.alert_type)
    return [value for (value,) in connection.execute(query)]


def alert_history(connection, tables, filters, now, page=1, page_size=PAGE_SIZE):
    """The alerts matching ``filters``, newest first, page ``page`` (1-based) of ``page_size``."""
    alerts, handling = tables.local_alx_api_alerts, tables.local_alxbridge_alert_handling
    status = alert_status(alerts, handling)
    conditions = []
    if filters.alert_type:
        conditions.append(alerts.c.alert_type == filters.alert_type)
    if filters.severity:
        conditions.append(alerts.c.severity == filters.severity)
    if filters.status:
        conditions.append(status == filters.status)
    window = PERIODS[filters.period][1]
    if window is not None:
        conditions.append(alerts.c.timecreated >= now - window)
    total = connection.execute(with_handling(alerts, handling, sa.func.count()).where(*conditions)).scalar()
    rows = connection.execute(
        with_handling(
            alerts, handling, alerts, status.label("status"), handling.c.acknowledgedby, handling.c.timeacknowledged,
            handling.c.resolvedby, handling.c.timeresolved,
        )
        .where(*conditions)
        .order_by(alerts.c.timecreated.desc(), alerts.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()  # fmt: skip
    return AlertPage(rows, total, page, page_size)
