"""The Control Center header (and ``ajax_stats.php``): records, companies, calls today, health."""

from dataclasses import dataclass

import sqlalchemy as sa

from ..alerts.health import system_health
from ..moodle.plugin_settings import read_plugin_settings

HEALTH_ICONS = {"healthy": "✅", "warning": "⚠️", "error": "❌"}


@dataclass(frozen=True)
class Overview:
    total_records: int
    total_companies: int
    api_calls_today: int
    health_status: str  # healthy | warning | error

    @property
    def health_icon(self):
        return HEALTH_ICONS[self.health_status]

    def as_json(self):
        return {
            "total_records": self.total_records,
            "total_companies": self.total_companies,
            "api_calls_today": self.api_calls_today,
            "health_status": self.health_status,
            "health_icon": self.health_icon,
        }


def active_reporting_rows(connection, tables, companyid=None):
    """Reporting rows that are not tombstones (``is_deleted = 0``), of one company or all."""
    reporting = tables.local_alx_api_reporting
    query = sa.select(sa.func.count()).select_from(reporting).where(reporting.c.is_deleted == 0)
    if companyid is not None:
        query = query.where(reporting.c.companyid == companyid)
    return connection.execute(query).scalar()


def company_count(connection, tables):
    return connection.execute(sa.select(sa.func.count()).select_from(tables.company)).scalar()


def api_calls_since(connection, tables, since):
    """Logged web service calls (successes and errors) since ``since``."""
    logs = tables.local_alx_api_logs
    return connection.execute(sa.select(sa.func.count()).select_from(logs).where(logs.c.timeaccessed >= since)).scalar()


def overview(connection, tables, moment):
    """The header numbers; the health is the system health score's status (the plugin's 4-check icon is dropped)."""
    health = system_health(connection, tables, read_plugin_settings(connection, tables), moment.now)
    return Overview(
        total_records=active_reporting_rows(connection, tables),
        total_companies=company_count(connection, tables),
        api_calls_today=api_calls_since(connection, tables, moment.midnight),
        health_status={"unhealthy": "error"}.get(health.status, health.status),
    )
