"""``monitoring_dashboard_new.php``: the product guide's three-tab monitor (Auto-Sync, Performance, Security), and
System Health.

``monitoring_dashboard.php`` (the plugin's "System Health & Alerts", whose numbers came from
missing tables and columns) shows the same tabs, opening on System Health: the storage and indexes
of the plugin's and the bridge's tables and the host's memory and load, which only that page had.
The tab is chosen server-side by ``?tab=``.
"""

from flask import request

from ..extensions import get_database
from ..metrics.alert_log import recent_alerts, site_admins
from ..metrics.api_usage import call_stats, recent_errors, traffic, user_usage_today
from ..metrics.cache import cache_outcomes
from ..metrics.company_performance import company_performance
from ..metrics.overview import active_reporting_rows, company_count
from ..metrics.refusals import refusal_report
from ..metrics.security import security_status
from ..metrics.sync import trend_summary
from ..metrics.sync_activity import company_syncs, sync_days
from ..metrics.sync_state import sync_overview
from ..metrics.system_health import host_health, table_health
from ..metrics.tokens import token_counts
from . import bp
from .layout import monitoring_reads, render_page

TABS = (
    ("autosync", "Auto-Sync"),
    ("performance", "Performance"),
    ("security", "Security"),
    ("health", "System Health"),
)
RECENT_ROWS = 20


def _autosync(connection, tables, settings, limits, moment):
    days = sync_days(connection, tables, moment)
    return {
        "sync": sync_overview(connection, tables, settings, moment),
        "days": days,
        "trend": trend_summary(days),
        "companies": company_syncs(connection, tables, moment),
    }


def _performance(connection, tables, settings, limits, moment):
    return {
        "stats": call_stats(connection, tables, moment.midnight, moment.now),
        "cache": cache_outcomes(connection, tables, moment.midnight, moment.now),
        "records": active_reporting_rows(connection, tables),
        "hours": traffic(connection, tables, moment.hour_buckets()),
        "companies": company_performance(connection, tables, limits, moment, moment.midnight),
    }


def _security(connection, tables, settings, limits, moment):
    users = user_usage_today(connection, tables, limits, moment)
    return {
        "security": security_status(connection, tables, settings, moment, request.scheme == "https"),
        "tokens": token_counts(connection, tables, moment.now),
        "reached": [user for user in users if user.limit_reached],
        "errors": recent_errors(connection, tables, RECENT_ROWS),
        "admins": site_admins(connection, tables),
        "alerts": recent_alerts(connection, tables, RECENT_ROWS),
        "refusals": refusal_report(connection, tables, moment.midnight, moment.now),
    }


def _health(connection, tables, settings, limits, moment):
    return {"database": table_health(connection, get_database()), "host": host_health()}


TAB_DATA = {"autosync": _autosync, "performance": _performance, "security": _security, "health": _health}


@bp.route("/monitoring_dashboard_new.php")
def monitoring_dashboard_new(default_tab="autosync"):
    tab = request.args.get("tab", default_tab)
    tab = tab if tab in TAB_DATA else default_tab
    with monitoring_reads() as (connection, tables, moment, settings, limits):
        context = TAB_DATA[tab](connection, tables, settings, limits, moment)
        companies = company_count(connection, tables)
    return render_page(
        "admin/monitoring_dashboard.html", title="Monitoring Dashboard", active="admin.monitoring_dashboard_new",
        tabs=TABS, tab=tab, moment=moment, settings=settings, company_count=companies, **context,
    )  # fmt: skip


@bp.route("/monitoring_dashboard.php")
def monitoring_dashboard():
    return monitoring_dashboard_new(default_tab="health")
