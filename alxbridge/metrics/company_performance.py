"""Each company's API traffic: the monitoring dashboards' "Company API Performance" table.

Calls belong to a company through their caller (:mod:`.limits`). Per company, in a window chosen
by the page (today on the monitoring dashboard, 24 h / 7 d / 30 d on the performance page): calls,
errors, success rate, average response (timed calls) and the data source (share of served pages
that came from the cache, :mod:`.cache`); and regardless of the window: today's quota use, the
last call, all calls the log still holds, and the average per day over the last 30 days
(calls in the last 30 × 24 h ÷ 30). The plugin's table mixed a since-midnight count with a
"24h" label and matched companies by shortname; its "data source" only said whether any cache row existed.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.plugin_settings import SYNC_MODES
from .api_usage import company_usage, failed, percent, recent_errors, user_usage_today
from .cache import CacheOutcomes, cache_outcomes_by_user
from .limits import all_companies
from .moment import DAY

AVERAGE_DAYS = 30
LATEST_ERRORS = 3


@dataclass(frozen=True)
class CompanyPerformance:
    today: object  # api_usage.CompanyUsage: today's calls against the limit
    sync_mode: int
    calls: int  # in the window
    errors: int
    avg_response_ms: float | None
    cache: CacheOutcomes
    last_call: int | None
    total_calls: int
    calls_last_30_days: int
    latest_errors: tuple  # log rows (timeaccessed, error_message, …) of the window, newest first

    @property
    def company(self):
        return self.today.company

    @property
    def mode(self):
        return SYNC_MODES[self.sync_mode]

    @property
    def success_rate(self):
        return percent(self.calls - self.errors, self.calls)

    @property
    def average_per_day(self):
        return round(self.calls_last_30_days / AVERAGE_DAYS, 1)

    @property
    def remaining_today(self):
        """Calls left today to the company's busiest caller (``None``: unlimited)."""
        limit = self.today.limit
        if not limit:
            return None
        return 0 if self.today.status == "Limit reached" else max(limit - self.today.busiest, 0)


@dataclass(frozen=True)
class _UserTotals:
    total: int
    last_call: int
    last_30_days: int
    calls: int
    errors: int
    timed: int
    timed_ms: float


def _per_user(connection, tables, since, until):
    """``{userid: _UserTotals}`` over the log up to ``until``."""
    logs = tables.local_alx_api_logs
    accessed = logs.c.timeaccessed
    window = sa.and_(accessed >= since, accessed <= until)
    timed = sa.and_(window, logs.c.response_time_ms > 0)

    def count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    rows = connection.execute(
        sa.select(
            logs.c.userid, sa.func.count(), sa.func.max(accessed), count(accessed > until - AVERAGE_DAYS * DAY),
            count(window), count(sa.and_(window, failed(logs))), count(timed),
            sa.func.coalesce(sa.func.sum(sa.case((timed, sa.type_coerce(logs.c.response_time_ms, sa.Float)))), 0.0),
        ).where(accessed <= until).group_by(logs.c.userid)
    )  # fmt: skip
    return {row[0]: _UserTotals(*(int(value) for value in row[1:7]), float(row[7])) for row in rows}


def company_performance(connection, tables, limits, moment, since):
    """One :class:`CompanyPerformance` per company, the busiest in the window first."""
    per_user = _per_user(connection, tables, since, moment.now)
    cache = cache_outcomes_by_user(connection, tables, since, moment.now)
    members = {}
    for userid in per_user:
        company = limits.company_of(userid)
        if company is not None:
            members.setdefault(company.id, []).append(userid)
    users_today = user_usage_today(connection, tables, limits, moment)
    today = company_usage(all_companies(connection, tables), limits, users_today)
    rows = []
    for usage in today:
        users = members.get(usage.company.id, [])
        totals = [per_user[userid] for userid in users]
        calls, errors = sum(t.calls for t in totals), sum(t.errors for t in totals)
        timed, timed_ms = sum(t.timed for t in totals), sum(t.timed_ms for t in totals)
        rows.append(
            CompanyPerformance(
                usage, limits.company_settings(usage.company.id).sync_mode, calls, errors,
                round(timed_ms / timed, 2) if timed else None,
                sum((cache.get(userid, CacheOutcomes()) for userid in users), CacheOutcomes()),
                max((t.last_call for t in totals), default=None), sum(t.total for t in totals),
                sum(t.last_30_days for t in totals),
                tuple(recent_errors(connection, tables, LATEST_ERRORS, users, since)) if errors else (),
            )
        )  # fmt: skip
    return sorted(rows, key=lambda row: (-row.calls, row.company.name))


@dataclass(frozen=True)
class TrafficShare:
    """A company's calls in the window and its share of every call of the window (the guide's usage breakdown)."""

    name: str
    companyid: int | None  # None: callers who belong to no company
    calls: int
    share: float | None


def traffic_shares(performance, total_calls):
    """The companies of a :func:`company_performance` list that had calls, busiest first, then the calls of callers
    outside any company (``total_calls`` is every call of the same window), so the shares add up to 100 %."""
    shares = [
        TrafficShare(row.company.name, row.company.id, row.calls, percent(row.calls, total_calls))
        for row in performance
        if row.calls
    ]
    outside = total_calls - sum(share.calls for share in shares)
    if outside:
        shares.append(TrafficShare("Callers without a company", None, outside, percent(outside, total_calls)))
    return shares
