"""``check_rate_limit.php``: the Rate Limit & Security Monitor (the plugin's archived verification page, made whole).

Per company and per caller: today's calls against the daily limit that applies (see
:mod:`alxbridge.metrics.limits`), the latest calls with their real IP address and user agent
(the plugin read misspelt columns and showed none), recent errors and rate-limit alerts, the
plugin service's tokens, masked, and today's refused calls (bad tokens, blocked requests, suspicious IPs).
"""

from ..metrics.alert_log import RATE_LIMIT_TYPES, recent_alerts
from ..metrics.api_usage import company_usage, quota_summary, recent_calls, recent_errors, user_usage_today
from ..metrics.limits import all_companies
from ..metrics.refusals import refusal_report
from ..metrics.tokens import service_tokens
from ..moodle.tokens import plugin_service
from . import bp
from .layout import monitoring_reads, render_page

RECENT_CALLS = 20
RECENT_ERRORS = 10
RECENT_ALERTS = 20


@bp.route("/check_rate_limit.php")
def check_rate_limit():
    with monitoring_reads() as (connection, tables, moment, settings, limits):
        users = user_usage_today(connection, tables, limits, moment)
        context = {
            "users": users,
            "quota": quota_summary(users),
            "companies": company_usage(all_companies(connection, tables), limits, users),
            "calls": recent_calls(connection, tables, RECENT_CALLS),
            "errors": recent_errors(connection, tables, RECENT_ERRORS),
            "alerts": recent_alerts(connection, tables, RECENT_ALERTS, RATE_LIMIT_TYPES),
            "service": plugin_service(connection, tables),
            "tokens": service_tokens(connection, tables, moment.now),
            "refusals": refusal_report(connection, tables, moment.midnight, moment.now),
        }
    return render_page(
        "admin/check_rate_limit.html", title="Rate Limit & Security Monitor", active="admin.check_rate_limit",
        moment=moment, settings=settings, **context,
    )  # fmt: skip
