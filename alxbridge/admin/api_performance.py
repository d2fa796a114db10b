"""``advanced_monitoring.php``: the API Performance & Security dashboard, over 24 hours, 7 days or 30 days.

Corrected from the plugin: response times and errors from the columns that exist, the limits the
web service applies, no random chart values, and the 30-day window the product guide describes.
Added from the guide: each company's share of the window's calls and the errors by category.
"Clear API cache" retires the cached answers of one company (or all) in the bridge's response cache,
which is what serves them, by bumping the company's cache generation, and deletes its rows of the
plugin's cache table, instead of purging every Moodle cache; "Test all endpoints" runs five probes.
Both are CSRF-protected POSTs that answer JSON with ``ajax=1`` and otherwise flash and redirect, or
render the probe results.
"""

from flask import abort, current_app, flash, jsonify, redirect, request, url_for

from ..extensions import cache, get_database
from ..metrics.api_usage import (
    call_stats,
    flow_summary,
    quota_summary,
    response_time_bands,
    traffic,
    user_usage_today,
)
from ..metrics.cache import cache_outcomes, cache_rows, delete_cache_rows
from ..metrics.company_performance import company_performance, traffic_shares
from ..metrics.error_analysis import error_categories
from ..metrics.limits import all_companies
from ..metrics.probes import run_probes
from ..metrics.tokens import token_counts
from ..sync.state import bump_cache_generation
from . import bp
from .layout import monitoring_reads, render_page

WINDOWS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days"}
DEFAULT_WINDOW = "24h"
LINKS = (
    ("admin.monitoring_dashboard_new", "Monitoring dashboard"),
    ("admin.check_rate_limit", "Rate limit monitor"),
    ("admin.export_data", "Export API report"),
    ("admin.create_token", "Create API token"),
    ("admin.test_alerts", "Send a test alert"),
)


def _window_key(value):
    return value if value in WINDOWS else DEFAULT_WINDOW


def _buckets(moment, window):
    """The chart buckets of the window; the first bucket's start is the window's start."""
    return moment.hour_buckets(24) if window == "24h" else moment.day_buckets(int(window[:-1]))


def _page(window, probes=None):
    with monitoring_reads() as (connection, tables, moment, settings, limits):
        buckets = _buckets(moment, window)
        since = buckets[0][0]
        flow = traffic(connection, tables, buckets)
        users = user_usage_today(connection, tables, limits, moment)
        stats = call_stats(connection, tables, since, moment.now)
        companies = company_performance(connection, tables, limits, moment, since)
        context = {
            "stats": stats,
            "cache": cache_outcomes(connection, tables, since, moment.now),
            "flow": flow,
            "summary": flow_summary(flow),
            "bands": response_time_bands(connection, tables, since, moment.now),
            "quota": quota_summary(users),
            "tokens": token_counts(connection, tables, moment.now),
            "companies": companies,
            "shares": traffic_shares(companies, stats.calls),
            "error_categories": error_categories(connection, tables, since, moment.now),
            "cache_table": cache_rows(connection, tables, moment.now),
            "company_list": all_companies(connection, tables),
        }
    links = [(endpoint, label) for endpoint, label in LINKS if endpoint in current_app.view_functions]
    return render_page(
        "admin/advanced_monitoring.html", title="API Performance & Security", active="admin.advanced_monitoring",
        window=window, windows=WINDOWS, moment=moment, settings=settings, probes=probes, links=links, **context,
    )  # fmt: skip


def _answer(ajax, window, done, message, **details):
    if ajax:
        return jsonify(success=done, message=message, **details), 200 if done else 400
    flash(message, "success" if done else "error")
    return redirect(url_for("admin.advanced_monitoring", window=window))


def _clear_cache(window, ajax):
    """Retire the cached answers of one company (or all) and delete their rows of the plugin's cache table."""
    text = request.form.get("companyid", "").strip()
    database = get_database()
    with database.begin() as connection:
        companies = {company.id: company for company in all_companies(connection, database.tables)}
        company = companies.get(int(text)) if text.isdigit() else None
        if text and company is None:
            return _answer(ajax, window, False, "Choose a company from the list, or all companies.")
        chosen = [company] if company else list(companies.values())
        generations = bump_cache_generation(connection, database.tables, [c.id for c in chosen], database.now())
        deleted = delete_cache_rows(connection, database.tables, company.id if company else None)
    rows = "row" if deleted == 1 else "rows"
    if company and not generations[company.id]:
        retired = "it has not been synced yet, so its answers are read live and none is cached"
    else:
        retired = (
            "every answer cached so far is retired from the bridge's response cache; the next calls read the "
            "reporting table"
        )
    scope = company.name if company else f"all {len(chosen)} companies"
    message = f"API cache cleared for {scope}: {retired}; {deleted} {rows} of the plugin's cache table deleted."
    return _answer(ajax, window, True, message, deleted=deleted, companies=[c.id for c in chosen])


@bp.route("/advanced_monitoring.php", methods=["GET", "POST"])
def advanced_monitoring():
    window = _window_key((request.form if request.method == "POST" else request.args).get("window"))
    if request.method == "GET":
        return _page(window)
    ajax = request.form.get("ajax") == "1"
    action = request.form.get("action")
    if action == "clear_cache":
        return _clear_cache(window, ajax)
    if action != "test_endpoints":
        abort(400, "Unknown action: use clear_cache or test_endpoints.")
    database = get_database()
    probes = run_probes(database, cache, database.now())
    if ajax:
        return jsonify(success=True, results=[probe.as_json() for probe in probes])
    return _page(window, probes)
