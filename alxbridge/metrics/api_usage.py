"""API calls as the audit log (``local_alx_api_logs``) records them: volume, errors, speed and quotas.

One definition each (the plugin had several, see the design's §3.2):

* a call **failed** when its ``error_message`` is neither NULL nor empty (the Control Center's rule;
  ``monitoring_dashboard_new`` counted empty messages as errors, ``advanced_monitoring`` read a
  column that does not exist);
* **success rate** = calls that did not fail ÷ calls, in percent (``None`` without calls);
* **average / p95 response** over the calls with ``response_time_ms > 0``: a zero is a row written
  without timing (the quota's rejection row), not a fast call. p95 is the nearest-rank percentile;
* a caller's **usage** is their admitted calls: the log row of the quota's refusal is not a call the
  quota let through, so a caller at a limit of 2 reads "2 / 2", never "3 / 2, 150 %";
* a **limit reached** (rate-limit violation) is a caller whose calls today reached the daily limit
  that applies to them (:mod:`.limits`) — the web service's own rule, which refuses the next call
  (variant (d)); the plugin's dashboards instead compared a company's calls with the limit, but
  the limit is per token owner, so per-company figures here are those of the company's busiest caller;
* **failed authentication**: calls refused for lack of access. Moodle, the plugin and the bridge
  refuse a bad or expired token before the function runs, so those attempts are never in this log:
  the bridge records them in ``local_alxbridge_refusal`` (:mod:`.refusals`), and they are added to
  the logged ones (errors matching the plugin's auth patterns, and the bridge's refusal of a valid
  token whose owner has no company).

Windows are ``since <= timeaccessed <= until``; chart buckets are ``[start, end)``, the last one
closed at its end (now), so the buckets of a window add up to the window's totals.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from .refusals import refusal_summary

WARNING_SHARE = 0.8  # a caller at 80 % of the limit is shown as a warning
SLOW_CALL_MS = 30000  # the plugin's "timeout" threshold
RESPONSE_BANDS = ((0, 50, "< 50 ms"), (50, 100, "50–100 ms"), (100, 200, "100–200 ms"), (200, None, "≥ 200 ms"))
QUOTA_REJECTION = "Rate limit exceeded:"  # how reporting.quota words the rejection it logs
AUTH_ERROR_PATTERNS = ("auth", "forbidden", "permission", "access denied", "not associated with any company")


def percent(part, whole):
    """``part`` of ``whole`` in percent with one decimal, ``None`` when ``whole`` is zero or unlimited."""
    return round(100 * part / whole, 1) if whole else None


def failed(logs):
    return sa.and_(logs.c.error_message.is_not(None), logs.c.error_message != "")


def quota_rejection(logs):
    """The log row of a day's first call refused by the daily quota (untimed, with the quota's message)."""
    return sa.and_(logs.c.response_time_ms == 0, logs.c.error_message.like(f"{QUOTA_REJECTION}%"))


def _window(logs, since, until):
    return sa.and_(logs.c.timeaccessed >= since, logs.c.timeaccessed <= until)


def _timed(logs):
    """The response time of a timed call, NULL otherwise (aggregates skip it)."""
    return sa.case((logs.c.response_time_ms > 0, sa.type_coerce(logs.c.response_time_ms, sa.Float)))


def _count(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _ms(value):
    return None if value is None else round(float(value), 2)


@dataclass(frozen=True)
class CallCounts:
    """Calls and failed calls of a window: the one definition of success and error rates."""

    calls: int
    errors: int

    @property
    def successful(self):
        return self.calls - self.errors

    @property
    def success_rate(self):
        return percent(self.successful, self.calls)

    @property
    def error_rate(self):
        return percent(self.errors, self.calls)


def call_counts(connection, tables, since, until):
    """:class:`CallCounts` of the window, in one query (no response-time percentiles)."""
    logs = tables.local_alx_api_logs
    calls, errors = connection.execute(
        sa.select(sa.func.count(), _count(failed(logs))).where(_window(logs, since, until))
    ).one()
    return CallCounts(calls, int(errors))


@dataclass(frozen=True)
class CallStats(CallCounts):
    users: int
    avg_response_ms: float | None
    min_response_ms: float | None
    max_response_ms: float | None
    p95_response_ms: float | None
    slow_calls: int


def call_stats(connection, tables, since, until):
    """Volume, errors, distinct callers and response times of the calls in the window."""
    logs = tables.local_alx_api_logs
    window = _window(logs, since, until)
    timed = _timed(logs)
    row = connection.execute(
        sa.select(
            sa.func.count(), _count(failed(logs)), sa.func.count(sa.distinct(logs.c.userid)),
            sa.func.avg(timed, type_=sa.Float), sa.func.min(timed), sa.func.max(timed), sa.func.count(timed),
            _count(logs.c.response_time_ms > SLOW_CALL_MS),
        ).where(window)
    ).one()  # fmt: skip
    calls, errors, users, average, fastest, slowest, timed_calls, slow = row
    p95 = None
    if timed_calls:
        p95 = connection.execute(
            sa.select(sa.type_coerce(logs.c.response_time_ms, sa.Float))
            .where(window, logs.c.response_time_ms > 0)
            .order_by(logs.c.response_time_ms)
            .offset((95 * timed_calls + 99) // 100 - 1)  # nearest rank: ceil(0.95 n), in integers
            .limit(1)
        ).scalar()
    return CallStats(calls, int(errors), users, _ms(average), _ms(fastest), _ms(slowest), _ms(p95), int(slow))


def bucket_index(column, buckets):
    """SQL: the position in ``buckets`` (contiguous, two or more) of the time in ``column``; filter the window apart."""
    return sa.case(*((column < end, i) for i, (_, end, _) in enumerate(buckets[:-1])), else_=len(buckets) - 1)


@dataclass(frozen=True)
class Bucket:
    label: str
    incoming: int = 0
    errors: int = 0
    avg_response_ms: float | None = None

    @property
    def successful(self):
        return self.incoming - self.errors


def traffic(connection, tables, buckets):
    """Calls, errors and average response per bucket of ``buckets`` (two or more, from ``Moment``)."""
    logs = tables.local_alx_api_logs
    index = bucket_index(logs.c.timeaccessed, buckets)
    rows = connection.execute(
        sa.select(index, sa.func.count(), _count(failed(logs)), sa.func.avg(_timed(logs), type_=sa.Float))
        .where(_window(logs, buckets[0][0], buckets[-1][1]))
        .group_by(index)
    )
    found = {int(position): (calls, int(errors), _ms(average)) for position, calls, errors, average in rows}
    return [Bucket(label, *found.get(position, ())) for position, (_, _, label) in enumerate(buckets)]


@dataclass(frozen=True)
class FlowSummary:
    """The busiest bucket, the one with most errors and the quietest one that had calls (``None`` when none)."""

    peak: Bucket | None
    peak_errors: Bucket | None
    quietest: Bucket | None


def flow_summary(buckets):
    busy = [bucket for bucket in buckets if bucket.incoming]
    return FlowSummary(
        max(busy, key=lambda bucket: bucket.incoming, default=None),
        max((bucket for bucket in busy if bucket.errors), key=lambda bucket: bucket.errors, default=None),
        min(busy, key=lambda bucket: bucket.incoming, default=None),
    )


def response_time_bands(connection, tables, since, until):
    """``[(label, calls)]``: how many timed calls of the window fall in each response-time band."""
    logs = tables.local_alx_api_logs
    counts = []
    for low, high, label in RESPONSE_BANDS:
        band = logs.c.response_time_ms >= low if low else logs.c.response_time_ms > 0
        if high is not None:
            band = sa.and_(band, logs.c.response_time_ms < high)
        counts.append((label, _count(band)))
    row = connection.execute(sa.select(*(count for _, count in counts)).where(_window(logs, since, until))).one()
    return [(label, int(value)) for (label, _), value in zip(counts, row, strict=True)]


def failed_auth_calls(connection, tables, since, until):
    """Calls refused for lack of access: the logged ones and the refused authentications (see the module docstring)."""
    logs = tables.local_alx_api_logs
    message = sa.func.lower(logs.c.error_message)
    matches = sa.or_(*(message.like(f"%{pattern}%") for pattern in AUTH_ERROR_PATTERNS))
    logged = connection.execute(
        sa.select(sa.func.count()).select_from(logs).where(_window(logs, since, until), matches)
    ).scalar()
    return logged + refusal_summary(connection, tables, since, until).failed_auth


def _log_rows(tables, *columns):
    """``columns`` of log rows with the caller's ``userid``, ``name`` (first and last name) and ``username``."""
    logs, user = tables.local_alx_api_logs, tables.user
    name = sa.func.trim(sa.func.coalesce(user.c.firstname, "") + " " + sa.func.coalesce(user.c.lastname, ""))
    query = sa.select(*columns, logs.c.userid, name.label("name"), user.c.username)
    return query.select_from(logs.outerjoin(user, user.c.id == logs.c.userid))


def recent_calls(connection, tables, limit=20):
    """The latest calls with who made them, from where, and how they went."""
    logs = tables.local_alx_api_logs
    columns = [logs.c[name] for name in (
        "id", "timeaccessed", "company_shortname", "endpoint", "record_count", "error_message", "ip_address",
        "user_agent",
    )] + [sa.type_coerce(logs.c.response_time_ms, sa.Float).label("response_time_ms")]  # fmt: skip
    query = _log_rows(tables, *columns).order_by(logs.c.timeaccessed.desc(), logs.c.id.desc()).limit(limit)
    return connection.execute(query).all()


def recent_errors(connection, tables, limit=20, userids=None, since=None):
    """The latest failed calls (of ``userids`` and since ``since`` only, when given), newest first."""
    logs = tables.local_alx_api_logs
    query = _log_rows(
        tables, logs.c.id, logs.c.timeaccessed, logs.c.company_shortname, logs.c.endpoint, logs.c.error_message,
        logs.c.ip_address,
    ).where(failed(logs))  # fmt: skip
    if userids is not None:
        query = query.where(logs.c.userid.in_(userids))
    if since is not None:
        query = query.where(logs.c.timeaccessed >= since)
    return connection.execute(query.order_by(logs.c.timeaccessed.desc(), logs.c.id.desc()).limit(limit)).all()


def endpoint_stats(connection, tables, since, until):
    """Per endpoint: calls, errors and average response in the window, busiest first."""
    logs = tables.local_alx_api_logs
    calls = sa.func.count().label("calls")
    return connection.execute(
        sa.select(
            logs.c.endpoint, calls, _count(failed(logs)).label("errors"),
            sa.func.avg(_timed(logs), type_=sa.Float).label("avg_response_ms"),
        )
        .where(_window(logs, since, until))
        .group_by(logs.c.endpoint)
        .order_by(calls.desc(), logs.c.endpoint)
    ).all()  # fmt: skip


def quota_status(calls, limit, refused=False):
    """``refused``: the quota already refused a call today (the limit may have been lowered since)."""
    if not limit:
        return "Unlimited"
    if refused or calls >= limit:
        return "Limit reached"
    return "Warning" if calls >= WARNING_SHARE * limit else "OK"


@dataclass(frozen=True)
class UserUsage:
    """One caller's calls in a window and the daily limit that applies to them."""

    userid: int
    name: str
    username: str | None
    company: object  # reporting.company.Company or None
    calls: int  # admitted calls: the quota's refusal is not usage
    errors: int
    first_call: int
    last_call: int
    limit: int | None
    refused: int = 0  # calls refused by the daily quota (only the day's first is logged)

    @property
    def percent(self):
        return percent(self.calls, self.limit)

    @property
    def status(self):
        return quota_status(self.calls, self.limit, self.refused > 0)

    @property
    def limit_reached(self):
        return self.status == "Limit reached"


def user_usage(connection, tables, limits, since, until):
    """Every caller of the window with their calls and limit, busiest first."""
    logs, user = tables.local_alx_api_logs, tables.user
    calls = (sa.func.count() - _count(quota_rejection(logs))).label("calls")
    rows = connection.execute(
        _log_rows(
            tables,
            calls,
            _count(quota_rejection(logs)).label("refused"),
            _count(failed(logs)).label("errors"),
            sa.func.min(logs.c.timeaccessed).label("first"),
            sa.func.max(logs.c.timeaccessed).label("last"),
        )
        .where(_window(logs, since, until))
        .group_by(logs.c.userid, user.c.firstname, user.c.lastname, user.c.username)
        .order_by(calls.desc(), logs.c.userid)
    )
    return [
        UserUsage(row.userid, row.name or f"User ID {row.userid}", row.username, limits.company_of(row.userid),
                  int(row.calls), int(row.errors), row.first, row.last, limits.of_user(row.userid), int(row.refused))
        for row in rows
    ]  # fmt: skip


def user_usage_today(connection, tables, limits, moment):
    """Callers since local midnight: the window the daily quota counts."""
    return user_usage(connection, tables, limits, moment.midnight, moment.now)


@dataclass(frozen=True)
class QuotaSummary:
    callers: int
    limit_reached: int  # the rate-limit violations
    near_limit: int  # at 80 % of their limit or more, not yet at it

    @property
    def compliance(self):
        """Share of the callers below their limit (the unified dashboard's "compliance")."""
        return percent(self.callers - self.limit_reached, self.callers)


def quota_summary(users):
    """How a :func:`user_usage` list stands against the limits."""
    return QuotaSummary(
        len(users), sum(1 for user in users if user.limit_reached), sum(1 for user in users if user.status == "Warning")
    )


@dataclass(frozen=True)
class CompanyUsage:
    """A company's callers today against the limit each of them has."""

    company: object  # reporting.company.Company
    limit: int | None
    calls: int
    errors: int
    callers: int
    busiest: int  # calls of the company's busiest caller: the one the limit stops first
    refused: bool = False  # one of its callers was refused by the quota today

    @property
    def percent(self):
        return percent(self.busiest, self.limit)

    @property
    def status(self):
        return quota_status(self.busiest, self.limit, self.refused)


def company_usage(companies, limits, users):
    """Every company of ``companies`` with the calls of its callers in ``users`` (a :func:`user_usage` list)."""
    usage = []
    for company in companies:
        own = [user for user in users if user.company is not None and user.company.id == company.id]
        usage.append(
            CompanyUsage(company, limits.of_company(company.id), sum(u.calls for u in own), sum(u.errors for u in own),
                         len(own), max((u.calls for u in own), default=0), any(u.refused for u in own))
        )  # fmt: skip
    return usage


def top_consumers(users, limit=5):
    """``[(UserUsage, percent of all calls)]`` for the busiest ``limit`` callers of a :func:`user_usage` list."""
    total = sum(user.calls for user in users)
    return [(user, percent(user.calls, total)) for user in users[:limit]]
