"""``control_center.php``: the plugin's Control Center, and ``ajax_stats.php`` that refreshes its header.

Tabs are chosen on the server (``?tab=``) so every tab is a link that works without JavaScript.
POSTs carry ``settings_action=save`` (one company's settings, as on ``company_settings.php``) or
``config_action=save`` (the global configuration); both redirect back to their tab when saved.
"""

from dataclasses import dataclass

from flask import abort, flash, jsonify, redirect, request, url_for

from ..extensions import get_database
from ..metrics.alert_history import pending_alerts
from ..metrics.api_usage import CallStats, call_stats, traffic
from ..metrics.client_kinds import CLIENT_DAYS, clients_by_company
from ..metrics.limits import DailyLimits
from ..metrics.overview import overview
from ..metrics.reporting_data import company_data
from ..metrics.security import SecurityStatus, security_status
from ..metrics.sync_state import SyncOverview, sync_overview
from ..metrics.tokens import token_counts
from ..moodle.plugin_settings import read_plugin_settings, write_plugin_config
from ..moodle.plugin_task import enabled_php_tasks
from . import bp
from .company_settings import changes_message, company_panel, save_company_form
from .layout import render_page, site_moment
from .settings_forms import plugin as config_form

TABS = (
    ("overview", "System Overview"),
    ("companies", "Company Management"),
    ("data", "Data Management"),
    ("monitoring", "Monitoring & Analytics"),
    ("settings", "System Configuration"),
)


@bp.route("/ajax_stats.php")
def ajax_stats():
    database = get_database()
    with database.connect() as connection:
        return jsonify(overview(connection, database.tables, site_moment(connection)).as_json())


@dataclass(frozen=True)
class OverviewTab:
    """The System Overview tab's three cards: the API over the last 24 hours, the sync, security."""

    api: CallStats
    hourly: list  # api_usage.Bucket per hour of the last 24
    sync: SyncOverview
    rows_by_company: list  # reporting_data.CompanyData of companies with active rows
    active_tokens: int
    security: SecurityStatus
    clients: list  # client_kinds.CompanyClients of companies called in the last CLIENT_DAYS days, by name
    client_days: int = CLIENT_DAYS

    @property
    def calls_per_hour(self):
        return round(self.api.calls / 24, 1)


def overview_tab(connection, tables, moment):
    settings = read_plugin_settings(connection, tables)
    return OverviewTab(
        api=call_stats(connection, tables, moment.day_ago, moment.now),
        hourly=traffic(connection, tables, moment.hour_buckets()),
        sync=sync_overview(connection, tables, settings, moment),
        rows_by_company=[company for company in company_data(connection, tables) if company.active],
        active_tokens=token_counts(connection, tables, moment.now).active,
        security=security_status(connection, tables, settings, moment, https=request.is_secure),
        clients=sorted(
            clients_by_company(connection, tables, DailyLimits(connection, tables, settings), moment.now).values(),
            key=lambda clients: clients.company.name,
        ),
    )


def save_config_form(form):
    """Store the global configuration in one transaction and flash what changed; returns the validation errors."""
    database = get_database()
    with database.begin() as connection:
        current = config_form.current_config(connection, database.tables)
        webhooks = config_form.stored_webhooks(connection, database.tables)
        writes, changes, errors = config_form.parse_config_form(form, current, webhooks)
        if errors:
            return errors
        write_plugin_config(connection, database.tables, writes)
    flash(changes_message("System configuration", changes), "success")
    return []


def _page(tab, companyid=0, form=None, errors=(), status=200):
    """The Control Center on ``tab``; ``form`` and ``errors`` re-show a refused submission of that tab."""
    database = get_database()
    with database.connect() as connection:
        moment = site_moment(connection)
        context = {
            "header": overview(connection, database.tables, moment),
            "php_tasks": enabled_php_tasks(connection, database.tables),
        }
        if tab == "overview":
            context["overview"] = overview_tab(connection, database.tables, moment)
            context["pending_alerts"] = pending_alerts(connection, database.tables)
        elif tab == "companies":
            context["panel"] = company_panel(connection, database.tables, companyid, moment, form, errors)
        elif tab == "settings":
            context["config"] = config_form.config_state(connection, database.tables, form)
            context["config_errors"] = errors
            context["webhooks"] = config_form.webhook_state(connection, database.tables)
    return render_page(
        "admin/control_center.html", title="ALX Report API Control Center", active="admin.control_center",
        tabs=TABS, tab=tab, config_form=config_form, status=status, timezone=moment.timezone, **context,
    )  # fmt: skip


@bp.route("/control_center.php", methods=["GET", "POST"])
def control_center():
    tab = request.args.get("tab", "overview")
    if tab not in dict(TABS):
        tab = "overview"
    if request.method == "GET":
        return _page(tab, request.args.get("companyid", 0, type=int))
    form = request.form.to_dict(flat=False)
    if request.form.get("settings_action") == "save":
        companyid = request.form.get("companyid", 0, type=int)
        errors = save_company_form(form, companyid, "save")
        if errors:
            return _page("companies", companyid, form, errors, status=400)
        return redirect(url_for("admin.control_center", tab="companies", companyid=companyid))
    if request.form.get("config_action") == "save":
        errors = save_config_form(form)
        if errors:
            return _page("settings", form=form, errors=errors, status=400)
        return redirect(url_for("admin.control_center", tab="settings"))
    abort(400, "Unknown action: expected settings_action=save or config_action=save.")
