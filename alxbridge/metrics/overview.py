"""The Control Center header (and ``ajax_stats.php``): records, companies, calls today, cache hit rate, error
rate, health.

Calls, errors and the cache hit rate are those of today (since local midnight), the window of "API
calls today"; each uses the one definition of :mod:`.api_usage` and :mod:`.cache` that the
monitoring pages use, so the header and a monitoring page over today read the same numbers.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..alerts.health import system_health
from ..moodle.plugin_settings import read_plugin_settings
from .api_usage import call_counts
from .cache import cache_outcomes

HEALTH_ICONS = {"healthy": "✅", "warning": "⚠️", "error": "❌"}


@dataclass(frozen=True)
class Overview:
    total_records: int
    total_companies: int
    api_calls_today: int
    errors_today: int
    error_rate: float | None  # percent of today's calls that failed; None without calls
    cache_hit_rate: float | None  # percent of today's cache lookups that hit; None without lookups
    health_status: str  # healthy | warning | error

    @property
    def health_icon(self):
        return HEALTH_ICONS[self.health_status]

    def as_json(self):
        return {
            "total_records": self.total_records,
            "total_companies": self.total_companies,
            "api_calls_today": self.api_calls_today,
            "errors_today": self.errors_today,
            "error_rate": self.error_rate,
            "cache_hit_rate": self.cache_hit_rate,
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


def overview(connection, tables, moment):
    """The header numbers; the health is the system health score's status (the plugin's 4-check icon is dropped)."""
    health = system_health(connection, tables, read_plugin_settings(connection, tables), moment.now)
    today = call_counts(connection, tables, moment.midnight, moment.now)
    return Overview(
        total_records=active_reporting_rows(connection, tables),
        total_companies=company_count(connection, tables),
        api_calls_today=today.calls,
        errors_today=today.errors,
        error_rate=today.error_rate,
        cache_hit_rate=cache_outcomes(connection, tables, moment.midnight, moment.now).hit_rate,
        health_status={"unhealthy": "error"}.get(health.status, health.status),
    )
