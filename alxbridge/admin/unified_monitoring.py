"""``unified_monitoring_dashboard.php``: the archived five-section dashboard, from the same metrics as the others.

Sections (one page, an in-page menu instead of the plugin's JavaScript switcher): Data Sync,
Overview, Database Performance, API Performance, Security. The plugin's fabricated values
(random endpoint times, a fixed "Jul 11, 12:00", "1,148s") are gone. Its "Clear cache" action
(dead in the plugin) deletes the expired cache-table rows, then redirects with a message.
"""

from flask import flash, redirect, request, url_for

from ..alerts.health import system_health
from ..extensions import get_database
from ..metrics.alert_history import pending_alerts
from ..metrics.alert_log import alert_counts
from ..metrics.api_usage import call_stats, endpoint_stats, top_consumers, traffic, user_usage, user_usage_today
from ..metrics.cache import cache_outcomes, cache_rows, delete_expired_cache_rows
from ..metrics.moment import HOUR
from ..metrics.overview import company_count
from ..metrics.reporting_data import reporting_status
from ..metrics.security import overall_status, security_status
from ..metrics.sync import api_configured_companies, trend_summary
from ..metrics.sync_activity import sync_days
from ..metrics.sync_state import sync_overview
from . import bp
from .layout import monitoring_reads, render_page

SECTIONS = (
    ("data-sync", "Data Sync"),
    ("overview", "Overview"),
    ("database", "Database Performance"),
    ("api", "API Performance"),
    ("security", "Security"),
)
TOP_USAGE = 8  # the plugin's "Rate Limit Usage Today" list


def _clear_expired_cache():
    database = get_database()
    with database.begin() as connection:
        removed = delete_expired_cache_rows(connection, database.tables, database.now())
    flash(f"Cache cleared: {removed} expired entr{'y' if removed == 1 else 'ies'} removed.", "success")
    return redirect(url_for("admin.unified_monitoring_dashboard", _anchor="database"))


@bp.route("/unified_monitoring_dashboard.php", methods=["GET", "POST"])
def unified_monitoring_dashboard():
    if request.method == "POST":
        if request.form.get("action") != "clear_cache":
            flash("Unknown action: only clear_cache is available here.", "error")
            return redirect(url_for("admin.unified_monitoring_dashboard"))
        return _clear_expired_cache()
    with monitoring_reads() as (connection, tables, moment, settings, limits):
        days = sync_days(connection, tables, moment)
        health = system_health(connection, tables, settings, moment.now)
        security = security_status(connection, tables, settings, moment, request.scheme == "https")
        context = {
            "sync": sync_overview(connection, tables, settings, moment),
            "trend": trend_summary(days),
            "days": days,
            "companies": company_count(connection, tables),
            "configured": api_configured_companies(connection, tables),
            "health": health,
            "security": security,
            "system_status": overall_status(health.score, security),
            "alerts": alert_counts(connection, tables, moment.day_ago),
            "pending_alerts": pending_alerts(connection, tables),
            "reporting": reporting_status(connection, tables),
            "cache_table": cache_rows(connection, tables, moment.now),
            "cache": cache_outcomes(connection, tables, moment.day_ago, moment.now),
            "day": call_stats(connection, tables, moment.day_ago, moment.now),
            "last_hour": call_stats(connection, tables, moment.now - HOUR, moment.now),
            "hours": traffic(connection, tables, moment.hour_buckets()),
            "endpoints": endpoint_stats(connection, tables, moment.day_ago, moment.now),
            "consumers": top_consumers(user_usage(connection, tables, limits, moment.day_ago, moment.now)),
            "usage_today": user_usage_today(connection, tables, limits, moment)[:TOP_USAGE],
        }
    return render_page(
        "admin/unified_monitoring_dashboard.html", title="Unified Monitoring Dashboard",
        active="admin.unified_monitoring_dashboard", sections=SECTIONS, moment=moment, settings=settings, **context,
    )  # fmt: skip


@bp.route("/cache_verification.php")
def cache_verification():
    """The archived cache page: its tiles and clean-up action are the unified dashboard's Database section."""
    return redirect(url_for("admin.unified_monitoring_dashboard", _anchor="database"))
