"""The conditions the 15-minute alert check looks for, each with the subject it is about.

The plugin's rules and severities, with its thresholds read from its settings (B26) and a subject
on every condition, so that one user's violation neither silences nor duplicates another's (B25):

* ``rate_limit``/high: a user reached their daily limit — the company's own limit when set, else
  the global one, exactly as the web service enforces it (B16); an unlimited quota never alerts;
* ``health``/critical when the system is unhealthy, ``health``/medium when the score is below
  ``health_score_threshold``;
* ``performance``/medium: more API calls in the last hour than ``high_api_usage_threshold``;
* ``performance``/medium (high for database, timeout, memory or authentication failures): repeated
  errors of one user on one endpoint since the previous check — the plugin raised these right
  after logging the call; here they are found by the periodic check, off the request path;
* ``sync``/high when the latest sync run failed for a company, ``sync``/medium when no run has
  succeeded for :data:`STALE_SYNC_AFTER` (the product's monitoring guide asks for both);
* ``sync``/medium about the tick when it should run but has not caught up with Moodle's log for
  longer than its lag threshold (:mod:`alxbridge.metrics.freshness`);
* the product documents' service levels over the last hour (:mod:`alxbridge.metrics.service_levels`),
  once it has at least :data:`MIN_CALLS` calls (one failure in two calls is not an outage), each
  threshold a setting where 0 switches the rule off: ``performance``/medium when the average
  response is above ``response_time_warning_threshold`` (2 s), critical above
  ``response_time_critical_threshold`` (5 s); ``performance``/high when the error rate is above
  ``error_rate_threshold`` (5 %); ``performance``/medium when the success rate of attempts is below
  ``success_rate_threshold`` (95 %) or the cache hit rate below ``cache_hit_rate_threshold`` (70 %);
* ``storage``/medium when the API log holds more than ``log_rows_threshold`` rows.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..metrics.freshness import lag_threshold, read_freshness
from ..metrics.limits import DailyLimits
from ..metrics.service_levels import api_log_rows, service_levels
from ..reporting.quota import local_midnight
from .health import system_health

CHECK_INTERVAL = 15 * 60
REPEATED_ERRORS = 3
CRITICAL_ERROR_PATTERNS = (
    "database error",
    "connection failed",
    "timeout",
    "memory limit",
    "fatal error",
    "access denied",
    "authentication failed",
)
STALE_SYNC_AFTER = 2 * 3600
SERVICE_LEVEL_WINDOW = 3600
MIN_CALLS = 10
RULE_TYPES = ("rate_limit", "health", "performance", "sync", "storage")  # open alerts of these types get resolved


@dataclass(frozen=True)
class Condition:
    alert_type: str
    severity: str
    subject: str
    message: str
    data: dict

    @property
    def key(self):
        return (self.alert_type, self.subject)


def _full_name(row):
    name = f"{row.firstname} {row.lastname}".strip()
    return name or row.username or f"User ID {row.userid}"


def rate_limit_conditions(connection, tables, settings, now, timezone):
    logs, user, api_settings = tables.local_alx_api_logs, tables.user, tables.local_alx_api_settings
    lowest_company_limit = connection.execute(
        sa.select(sa.func.min(api_settings.c.setting_value)).where(
            api_settings.c.setting_name == "rate_limit", api_settings.c.setting_value > 0
        )
    ).scalar()
    limits = [limit for limit in (settings.rate_limit, lowest_company_limit) if limit]
    if not limits:
        return []  # nobody has a finite quota
    calls = sa.func.count().label("calls")
    rows = connection.execute(
        sa.select(logs.c.userid, calls, user.c.firstname, user.c.lastname, user.c.username)
        .outerjoin(user, user.c.id == logs.c.userid)
        .where(logs.c.timeaccessed >= local_midnight(now, timezone))
        .group_by(logs.c.userid, user.c.firstname, user.c.lastname, user.c.username)
        .having(calls >= min(limits))
        .order_by(logs.c.userid)  # alerts are stored and mailed in user order on every database
    )
    conditions, daily_limits = [], DailyLimits(connection, tables, settings)
    for row in rows:
        limit = daily_limits.of_user(row.userid)
        if limit is None or row.calls < limit:
            continue
        conditions.append(
            Condition(
                "rate_limit",
                "high",
                f"user:{row.userid}",
                f"{_full_name(row)} reached the daily API limit: {row.calls} of {limit} requests today",
                {"user_id": row.userid, "requests_today": row.calls, "daily_limit": limit},
            )
        )
    return conditions


def health_conditions(connection, tables, settings, now):
    health = system_health(connection, tables, settings, now)
    if health.status == "unhealthy":
        severity = "critical"
    elif health.score < settings.health_score_threshold:
        severity = "medium"
    else:
        return []
    message = f"System health {health.status}: score {health.score}/100 (alert below {settings.health_score_threshold})"
    return [Condition("health", severity, "site", message, health.as_data())]


def usage_conditions(connection, tables, settings, now):
    logs = tables.local_alx_api_logs
    calls = connection.execute(
        sa.select(sa.func.count()).select_from(logs).where(logs.c.timeaccessed >= now - 3600)
    ).scalar()
    if calls <= settings.high_api_usage_threshold:
        return []
    return [
        Condition(
            "performance",
            "medium",
            "site",
            f"High API usage: {calls} calls in the last hour (threshold {settings.high_api_usage_threshold})",
            {"calls_last_hour": calls, "threshold": settings.high_api_usage_threshold},
        )
    ]


def repeated_error_conditions(connection, tables, now):
    logs, user = tables.local_alx_api_logs, tables.user
    failed = sa.and_(
        logs.c.timeaccessed >= now - CHECK_INTERVAL, logs.c.error_message.is_not(None), logs.c.error_message != ""
    )
    errors = sa.func.count().label("errors")
    groups = connection.execute(
        sa.select(logs.c.userid, logs.c.endpoint, errors, sa.func.max(logs.c.id).label("latest"))
        .where(failed)
        .group_by(logs.c.userid, logs.c.endpoint)
        .having(errors >= REPEATED_ERRORS)
        .order_by(logs.c.userid, logs.c.endpoint)
    ).all()
    conditions = []
    for group in groups:
        latest = connection.execute(
            sa.select(logs.c.error_message, logs.c.company_shortname, logs.c.response_time_ms,
                      user.c.firstname, user.c.lastname, user.c.username, logs.c.userid)
            .outerjoin(user, user.c.id == logs.c.userid)
            .where(logs.c.id == group.latest)
        ).one()  # fmt: skip
        critical = any(pattern in latest.error_message.lower() for pattern in CRITICAL_ERROR_PATTERNS)
        conditions.append(
            Condition(
                "performance",
                "high" if critical else "medium",
                f"user:{group.userid}:{group.endpoint}",
                f"Repeated API errors for {_full_name(latest)} on {group.endpoint}: {latest.error_message}",
                {
                    "user_id": group.userid,
                    "company": latest.company_shortname,
                    "endpoint": group.endpoint,
                    "error_message": latest.error_message,
                    "recent_error_count": group.errors,
                    "is_critical_pattern": critical,
                },
            )
        )
    return conditions


def sync_conditions(connection, tables, now):
    runs = tables.local_alxbridge_sync_run
    finished = connection.execute(
        sa.select(runs).where(runs.c.status.in_(("success", "failed"))).order_by(runs.c.id.desc()).limit(1)
    ).first()
    if finished is None:
        return []  # never synced: nothing to compare with yet
    if finished.status == "failed":
        return [
            Condition(
                "sync",
                "high",
                "site",
                f"The latest sync failed for {finished.companies_failed} company(ies): {finished.message}",
                {"run": finished.id, "companies_failed": finished.companies_failed},
            )
        ]
    if finished.timefinished < now - STALE_SYNC_AFTER:
        hours = (now - finished.timefinished) // 3600
        return [
            Condition(
                "sync",
                "medium",
                "site",
                f"No sync has completed for {hours} hours: is the scheduler running?",
                {"last_sync_run": finished.id, "last_finished": finished.timefinished},
            )
        ]
    return []


def tick_conditions(connection, tables, now, tick_seconds):
    freshness = read_freshness(connection, tables, now, tick_seconds)
    if not freshness.lagging:
        return []
    behind = (
        "has never run" if freshness.lag_seconds is None else f"last caught up {freshness.lag_seconds // 60} min ago"
    )
    return [
        Condition(
            "sync",
            "medium",
            "tick",
            f"The sync tick {behind} (every {tick_seconds} s expected): Moodle's changes wait for the hourly run",
            {
                "lag_seconds": freshness.lag_seconds,
                "threshold": lag_threshold(tick_seconds),
                "last_error": freshness.last_error,
            },
        )
    ]


def _seconds(ms):
    return f"{ms / 1000:.2f} s"


def response_time_condition(levels, settings):
    average, warning, critical = (
        levels.avg_response_ms,
        settings.response_time_warning_ms,
        settings.response_time_critical_ms,
    )
    if average is None:
        return None
    if critical and average > critical:
        severity = "critical"
    elif warning and average > warning:
        severity = "medium"
    else:
        return None
    limits = ", ".join(
        f"{name} above {_seconds(ms)}" for name, ms in (("alert", warning), ("critical", critical)) if ms
    )
    return Condition(
        "performance",
        severity,
        "response_time",
        f"Slow API: average response {_seconds(average)} over the last hour's {levels.calls} calls ({limits})",
        {"average_response_ms": average, "calls": levels.calls, "warning_ms": warning, "critical_ms": critical},
    )


def error_rate_condition(levels, settings):
    threshold, rate = settings.error_rate_threshold, levels.error_rate
    if not threshold or rate is None or rate <= threshold:
        return None
    return Condition(
        "performance",
        "high",
        "error_rate",
        f"High error rate: {rate}% of the last hour's calls failed ({levels.errors} of {levels.calls}; "
        f"alert above {threshold}%)",
        {"error_rate": rate, "errors": levels.errors, "calls": levels.calls, "threshold": threshold},
    )


def success_rate_condition(levels, settings):
    threshold, rate = settings.success_rate_threshold, levels.attempt_success_rate
    if not threshold or rate is None or rate >= threshold:
        return None
    succeeded = levels.successful
    return Condition(
        "performance",
        "medium",
        "success_rate",
        f"Low success rate: {rate}% of the last hour's attempts succeeded ({succeeded} of {levels.attempts}: "
        f"{levels.errors} failed, {levels.refused} refused before running; alert below {threshold}%)",
        {"success_rate": rate, "succeeded": succeeded, "attempts": levels.attempts, "errors": levels.errors,
         "refused": levels.refused, "threshold": threshold},
    )  # fmt: skip


def cache_hit_rate_condition(levels, settings):
    threshold, cache = settings.cache_hit_rate_threshold, levels.cache
    if not threshold or cache.lookups < MIN_CALLS or cache.hit_rate >= threshold:
        return None
    return Condition(
        "performance",
        "medium",
        "cache_hit_rate",
        f"Low cache hit rate: {cache.hit_rate}% over the last hour ({cache.hits} of {cache.lookups} cache lookups; "
        f"alert below {threshold}%)",
        {"cache_hit_rate": cache.hit_rate, "hits": cache.hits, "lookups": cache.lookups, "threshold": threshold},
    )


def service_level_conditions(connection, tables, settings, now):
    """The product documents' thresholds over the last hour, once it had :data:`MIN_CALLS` calls."""
    levels = service_levels(connection, tables, now - SERVICE_LEVEL_WINDOW, now)
    if levels.calls < MIN_CALLS:
        return []
    rules = (response_time_condition, error_rate_condition, success_rate_condition, cache_hit_rate_condition)
    return [condition for rule in rules if (condition := rule(levels, settings)) is not None]


def storage_conditions(connection, tables, settings):
    threshold = settings.log_rows_threshold
    if not threshold:
        return []
    rows = api_log_rows(connection, tables)
    if rows <= threshold:
        return []
    retention = settings.log_retention_days
    kept = f"kept for {retention} days" if retention else "kept for ever (log_retention_days = 0)"
    return [
        Condition(
            "storage",
            "medium",
            "api_log",
            f"The API log holds {rows:,} rows (alert above {threshold:,}); its rows are {kept}",
            {"log_rows": rows, "threshold": threshold, "log_retention_days": retention},
        )
    ]


def current_conditions(connection, tables, settings, now, timezone, tick_seconds=0):
    """Every condition that holds at ``now`` (``tick_seconds``: the sync tick's interval, 0 when off)."""
    return [
        *rate_limit_conditions(connection, tables, settings, now, timezone),
        *health_conditions(connection, tables, settings, now),
        *usage_conditions(connection, tables, settings, now),
        *repeated_error_conditions(connection, tables, now),
        *sync_conditions(connection, tables, now),
        *tick_conditions(connection, tables, now, tick_seconds),
        *service_level_conditions(connection, tables, settings, now),
        *storage_conditions(connection, tables, settings),
    ]
