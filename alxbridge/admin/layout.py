"""The chrome every admin page shares: navigation, Moodle's breadcrumb and page title."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, render_template

from ..extensions import get_database
from ..metrics.limits import DailyLimits
from ..metrics.moment import Moment
from ..moodle.plugin_settings import read_plugin_settings
from . import bp

PLUGIN_NAME = "ALX Report API"


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    args: tuple = ()  # (name, value) pairs for url_for


# The menu mirrors the plugin's: Control Center first, then its tabs' destinations.
NAVIGATION = (
    ("Control Center", (NavItem("Control Center", "admin.control_center"),)),
    ("Companies", (
        NavItem("Company settings", "admin.company_settings"),
        NavItem("Create API token", "admin.create_token"),
    )),
    ("Data", (
        NavItem("Populate reporting table", "admin.populate_reporting_table"),
        NavItem("Manual data sync", "admin.sync_reporting_data"),
        NavItem("View reporting data", "admin.view_reporting_data"),
        NavItem("Export data", "admin.export_data"),
    )),
    ("Monitoring", (
        NavItem("Monitoring dashboard", "admin.monitoring_dashboard_new"),
        NavItem("Auto-sync status", "admin.auto_sync_status"),
        NavItem("API performance & security", "admin.advanced_monitoring"),
        NavItem("Rate limit monitor", "admin.check_rate_limit"),
        NavItem("Unified dashboard", "admin.unified_monitoring_dashboard"),
        NavItem("Alert history", "admin.alert_history_page"),
    )),
    ("Tools", (
        NavItem("Fix missing tables", "admin.fix_missing_tables"),
        NavItem("Fix web service access", "admin.fix_webservice_access"),
        NavItem("Test alerts", "admin.test_alerts"),
        NavItem("Test email alert", "admin.test_email_alert"),
    )),
)  # fmt: skip


def render_page(template, *, title, active, status=200, **context):
    """Render ``template`` inside the admin chrome; ``active`` is the endpoint the menu highlights."""
    breadcrumb = ("Site administration", "Plugins", "Local plugins", PLUGIN_NAME, title)
    html = render_template(
        template, title=title, active=active, breadcrumb=breadcrumb, navigation=NAVIGATION, admin=g.get("admin"),
        **context,
    )  # fmt: skip
    return html, status


@bp.app_template_filter("localtime")
def localtime(value, timezone, fmt="%Y-%m-%d %H:%M:%S"):
    """A Unix time as the site's local time (Moodle's ``userdate``), e.g. ``2026-11-22 10:05:00``."""
    return datetime.fromtimestamp(int(value), timezone).strftime(fmt)


def site_moment(connection):
    """The :class:`Moment` a page is computed for: now, in the site's timezone."""
    database = get_database()
    return Moment.of(connection, database.tables, database.now(), current_app.config["ALX_TIMEZONE"])


@contextmanager
def monitoring_reads():
    """A read connection for a monitoring page, with what each of them starts from.

    Yields ``(connection, tables, moment, settings, limits)``: the page's :func:`site_moment`, the plugin's
    settings and the callers' :class:`DailyLimits` (which look a company up only when first asked).
    """
    database = get_database()
    with database.connect() as connection:
        moment = site_moment(connection)
        settings = read_plugin_settings(connection, database.tables)
        yield connection, database.tables, moment, settings, DailyLimits(connection, database.tables, settings)
