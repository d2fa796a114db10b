"""The monitoring metrics on a hand-built site at a fixed instant, each checked against a value computed by hand.

The site (UTC, ``NOW`` = 2025-06-15 15:06:40, so ``MIDNIGHT`` = NOW − 54 400 s):

* companies Acme (its own ``rate_limit`` 4), Beta and Idle (the global ``rate_limit`` 10);
* callers alice and bob (Acme), carol (Beta), erin (Beta first, then Acme), dave (no company);
* nine calls today, one yesterday (inside the last 24 hours), one 40 days ago;
* the plugin's service with permanent tokens: 4 active (two 0, one NULL, one in the future), 1 expired,
  besides an embedded token and another service's token.
"""

import json
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alxbridge.alerts.rules import rate_limit_conditions
from alxbridge.metrics.api_usage import (
    call_stats,
    company_usage,
    failed_auth_calls,
    quota_status,
    quota_summary,
    recent_errors,
    response_time_bands,
    top_consumers,
    traffic,
    user_usage_today,
)
from alxbridge.metrics.cache import (
    cache_outcomes,
    cache_rows,
    cache_rows_by_company,
    delete_cache_rows,
    delete_expired_cache_rows,
)
from alxbridge.metrics.company_performance import company_performance
from alxbridge.metrics.limits import DailyLimits, all_companies
from alxbridge.metrics.moment import Moment
from alxbridge.metrics.security import overall_status, security_status
from alxbridge.metrics.sync_activity import company_syncs, records_changed_today, sync_days
from alxbridge.metrics.sync_state import sync_overview
from alxbridge.metrics.tokens import service_tokens, token_counts
from alxbridge.moodle.plugin_settings import read_plugin_settings
from alxbridge.moodle.tokens import mask
from alxbridge.sync.status import cron_token_hash, record_sync_status

from ..sitebuilder import NOW, Clock, SiteBuilder

UTC = ZoneInfo("UTC")
MIDNIGHT = 1_749_945_600
DAY = 86400
HIT = {"cache_hit": True, "mode": "incremental"}
MISS = {"cache_hit": False, "mode": "full"}
LIVE = {"cache_hit": False, "mode": "live"}


@pytest.fixture(scope="module")
def site(database):
    return SiteBuilder(database, Clock(NOW)).create_tables()


@pytest.fixture(scope="module")
def moment():
    assert MIDNIGHT == NOW - 54400
    return Moment(NOW, UTC)


def call(site, userid, at, ms, error=None, details=None, company="x"):
    site._insert(
        site.tables.local_alx_api_logs, userid=userid, company_shortname=company, endpoint="get_course_progress",
        record_count=0 if error else 5, error_message=error, response_time_ms=ms, timeaccessed=at,
        ip_address="10.0.0.1", user_agent="PowerBI", additional_data=json.dumps(details) if details else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(site):
    acme, beta, idle = site.company("Acme"), site.company("Beta"), site.company("Idle")
    alice = site.user("Alice", companies=[acme])
    bob = site.user("Bob", companies=[acme])
    carol = site.user("Carol", companies=[beta])
    erin = site.user("Erin", companies=[beta, acme])
    dave = site.user("Dave")
    site.plugin_config("rate_limit", 10)
    site.company_setting(acme, "rate_limit", 4)
    site.company_setting(beta, "sync_mode", 2)

    call(site, alice, NOW - 100, 100, details=HIT)
    call(site, alice, NOW - 200, 200, details=MISS)
    call(site, alice, NOW - 300, 0, error="Rate limit exceeded: 4/4 requests", details={"limit": 100})
    call(site, alice, NOW - 4000, 300, error="")  # an empty message is not an error
    call(site, bob, NOW - 50, 50, details=HIT)
    call(site, carol, NOW - 10, 1000, error="Access denied: permission missing")
    call(site, carol, NOW - 7200, 400, details=LIVE)
    call(site, dave, NOW - 20, 5, error="User is not associated with any company")
    call(site, erin, NOW - 30, 25)
    call(site, alice, MIDNIGHT - 100, 10000)  # yesterday, within the last 24 hours
    call(site, alice, NOW - 40 * DAY, 70)  # older than 30 days

    service = site.api_service(tokens=2)  # validuntil = 0: never expire
    other = site.api_service("another_service", tokens=1)
    for token, kind, serviceid, until in (
        ("a" * 32, 0, service, NOW + 1000), ("b" * 32, 0, service, NOW - 1000), ("c" * 32, 0, service, None),
        ("d" * 32, 1, service, 0), ("e" * 32, 0, other, NOW + 10),
    ):  # fmt: skip
        site._insert(site.tables.external_tokens, token=token, tokentype=kind, userid=2, externalserviceid=serviceid,
                     contextid=1, validuntil=until, timecreated=NOW - 60)  # fmt: skip
    return {"acme": acme, "beta": beta, "idle": idle, "alice": alice, "bob": bob, "carol": carol, "erin": erin,
            "dave": dave}  # fmt: skip


@pytest.fixture
def connection(site, world):
    with site.database.connect() as connection:
        yield connection


def limits_of(connection, site):
    return DailyLimits(connection, site.tables, read_plugin_settings(connection, site.tables))


def test_call_stats_today_and_over_the_last_24_hours(site, connection, moment):
    today = call_stats(connection, site.tables, moment.midnight, moment.now)
    # 9 calls; 3 errors (the empty message is not one); 6 succeed.
    assert (today.calls, today.errors, today.successful, today.users) == (9, 3, 6, 5)
    assert today.success_rate == 66.7 and today.error_rate == 33.3
    # Timed calls (the 0 ms rejection row left out): 100+200+300+50+1000+400+5+25 = 2080 over 8.
    assert today.avg_response_ms == 260.0
    assert (today.min_response_ms, today.max_response_ms) == (5.0, 1000.0)
    assert today.p95_response_ms == 1000.0  # nearest rank: ceil(0.95 × 8) = 8th of 8
    day = call_stats(connection, site.tables, moment.day_ago, moment.now)
    assert (day.calls, day.errors) == (10, 3)
    assert day.avg_response_ms == 1342.22  # (2080 + 10000) / 9 timed calls
    assert day.p95_response_ms == 10000.0  # ceil(0.95 × 9) = 9th of 9
    assert day.slow_calls == 0


def test_an_empty_window_has_no_rates(site, connection):
    stats = call_stats(connection, site.tables, NOW + 10, NOW + 20)
    assert (stats.calls, stats.success_rate, stats.avg_response_ms, stats.p95_response_ms) == (0, None, None, None)


def test_hourly_traffic_covers_the_last_24_hours_exactly(site, connection, moment):
    hours = traffic(connection, site.tables, moment.hour_buckets())
    assert len(hours) == 24 and hours[-1].label == "15:00"
    last, before = hours[-1], hours[-2]
    # Last hour: alice ×3, bob, carol, dave, erin; errors: the rejection, carol's and dave's.
    assert (last.incoming, last.successful, last.errors) == (7, 4, 3)
    assert last.avg_response_ms == 230.0  # (100+200+50+1000+5+25) / 6
    # [NOW−7200, NOW−3600): alice's call with an empty message, carol's first call.
    assert (before.incoming, before.errors, before.avg_response_ms) == (2, 0, 350.0)
    yesterday = hours[8]  # NOW − 54 500 lies 15 to 16 hours back
    assert (yesterday.incoming, yesterday.avg_response_ms) == (1, 10000.0)
    assert sum(hour.incoming for hour in hours) == 10  # = the calls of the last 24 hours
    assert [hour.incoming for hour in hours].count(0) == 21


def test_daily_traffic_buckets_are_calendar_days(site, connection, moment):
    days = traffic(connection, site.tables, moment.day_buckets(30))
    assert [day.incoming for day in days[-2:]] == [1, 9]  # yesterday, today
    assert sum(day.incoming for day in days) == 10  # the call 40 days ago is outside


def test_response_time_bands_count_timed_calls(site, connection, moment):
    bands = response_time_bands(connection, site.tables, moment.midnight, moment.now)
    # < 50: 5, 25; 50–100: 50; 100–200: 100; ≥ 200: 200, 300, 1000, 400 (the 0 ms row is not timed).
    assert bands == [("< 50 ms", 2), ("50–100 ms", 1), ("100–200 ms", 1), ("≥ 200 ms", 4)]


def test_callers_today_against_the_limit_that_applies_to_each(site, world, connection, moment):
    limits = limits_of(connection, site)
    users = user_usage_today(connection, site.tables, limits, moment)
    by_id = {user.userid: user for user in users}
    alice, bob, carol, dave, erin = (by_id[world[name]] for name in ("alice", "bob", "carol", "dave", "erin"))
    # The quota's refusal is not usage (3 admitted calls), but it says the limit was reached.
    assert (alice.calls, alice.refused, alice.errors, alice.limit, alice.percent, alice.status) == (
        3, 1, 1, 4, 75.0, "Limit reached"
    )  # fmt: skip
    assert (bob.calls, bob.limit, bob.status) == (1, 4, "OK")  # Acme's own limit
    assert (carol.calls, carol.limit, carol.percent) == (2, 10, 20.0)  # the global limit
    assert (dave.company, dave.limit) == (None, 10)
    assert erin.company.name == "Beta"  # the company erin joined first, as the web service picks it
    assert users[0].userid == world["alice"] and alice.name == "Alice Tester"
    assert (alice.first_call, alice.last_call) == (NOW - 4000, NOW - 100)
    summary = quota_summary(users)
    assert (summary.callers, summary.limit_reached, summary.near_limit, summary.compliance) == (5, 1, 0, 80.0)


def test_quota_status_boundaries():
    assert [quota_status(calls, 10) for calls in (7, 8, 9, 10, 11)] == ["OK", "Warning", "Warning", "Limit reached",
                                                                        "Limit reached"]  # fmt: skip
    assert quota_status(1000, None) == "Unlimited"
    assert quota_status(2, 10, refused=True) == "Limit reached"  # refused earlier today, before the limit was raised


def test_company_usage_counts_each_caller_once_in_their_company(site, world, connection, moment):
    limits = limits_of(connection, site)
    users = user_usage_today(connection, site.tables, limits, moment)
    usage = {row.company.name: row for row in company_usage(all_companies(connection, site.tables), limits, users)}
    assert list(usage) == ["Acme", "Beta", "Idle"]
    acme, beta, idle = usage["Acme"], usage["Beta"], usage["Idle"]
    assert (acme.limit, acme.calls, acme.errors, acme.callers, acme.busiest) == (4, 4, 1, 2, 3)
    assert (acme.percent, acme.status) == (75.0, "Limit reached")  # alice was refused
    assert (beta.limit, beta.calls, beta.callers, beta.busiest, beta.percent) == (10, 3, 2, 2, 20.0)
    assert (idle.calls, idle.percent, idle.status) == (0, 0.0, "OK")


def test_the_alert_rule_and_the_dashboards_agree_on_who_reached_the_limit(site, world, connection, moment):
    settings = read_plugin_settings(connection, site.tables)
    conditions = rate_limit_conditions(connection, site.tables, settings, NOW, UTC)
    assert [condition.subject for condition in conditions] == [f"user:{world['alice']}"]


def test_failed_authentication_counts_the_logged_access_refusals(site, connection, moment):
    # carol's "Access denied: permission missing" and dave's "not associated with any company".
    assert failed_auth_calls(connection, site.tables, moment.midnight, moment.now) == 2


def test_recent_errors_newest_first_and_per_caller(site, world, connection, moment):
    errors = recent_errors(connection, site.tables)
    assert [row.error_message for row in errors] == [
        "Access denied: permission missing", "User is not associated with any company",
        "Rate limit exceeded: 4/4 requests",
    ]  # fmt: skip
    assert errors[0].name == "Carol Tester" and errors[0].ip_address == "10.0.0.1"
    assert [row.userid for row in recent_errors(connection, site.tables, 5, [world["alice"]], NOW - 400)] == [
        world["alice"]
    ]


def test_top_consumers_share_of_the_calls(site, connection, moment):
    users = user_usage_today(connection, site.tables, limits_of(connection, site), moment)
    top = top_consumers(users, 2)
    assert [(user.name, share) for user, share in top] == [("Alice Tester", 37.5), ("Carol Tester", 25.0)]


def test_cache_hit_rate_comes_from_the_logged_lookups(site, connection, moment):
    outcomes = cache_outcomes(connection, site.tables, moment.midnight, moment.now)
    # Served pages: alice's hit and miss, bob's hit, carol's live page; the live page never looks in the cache.
    assert (outcomes.served, outcomes.lookups, outcomes.hits) == (4, 3, 2)
    assert (outcomes.hit_rate, outcomes.cache_share, outcomes.direct_share) == (66.7, 50.0, 50.0)
    assert cache_outcomes(connection, site.tables, NOW + 1, NOW + 2).hit_rate is None


def test_company_performance_table(site, world, connection, moment):
    rows = company_performance(connection, site.tables, limits_of(connection, site), moment, moment.midnight)
    assert [row.company.name for row in rows] == ["Acme", "Beta", "Idle"]  # busiest first
    acme, beta, idle = rows
    assert (acme.calls, acme.errors, acme.success_rate, acme.mode) == (5, 1, 80.0, "auto")
    assert acme.avg_response_ms == 162.5  # (100 + 200 + 300 + 50) / 4; the 0 ms row left out
    assert (acme.cache.hit_rate, acme.cache.cache_share, acme.cache.direct_share) == (66.7, 66.7, 33.3)
    assert (acme.today.calls, acme.today.busiest, acme.remaining_today) == (4, 3, 0)  # alice was refused: none left
    # All calls: alice 6 (incl. yesterday and 40 days ago) + bob 1; 30 days: 6 → 0.2 a day.
    assert (acme.total_calls, acme.average_per_day, acme.last_call) == (7, 0.2, NOW - 50)
    assert [error.error_message for error in acme.latest_errors] == ["Rate limit exceeded: 4/4 requests"]
    assert (beta.mode, beta.calls, beta.success_rate, beta.cache.direct_share) == ("full", 3, 66.7, 100.0)
    assert beta.remaining_today == 8
    assert (idle.calls, idle.success_rate, idle.avg_response_ms, idle.last_call, idle.latest_errors) == (
        0, None, None, None, ()
    )  # fmt: skip


def test_cache_table_rows_and_their_deletion(site, world, connection):
    cache = site.tables.local_alx_api_cache
    rows = [(world["acme"], "a1", NOW + 100, 3), (world["acme"], "a2", NOW - 100, 1), (world["beta"], "b1", NOW, 0)]
    with site.database.begin() as writer:
        for companyid, key, expires, hits in rows:
            writer.execute(cache.insert().values(
                cache_key=key, companyid=companyid, cache_data="[]", cache_timestamp=NOW - 500, expires_at=expires,
                hit_count=hits, last_accessed=NOW,
            ))  # fmt: skip
    table = cache_rows(connection, site.tables, NOW)
    assert (table.total, table.active, table.expired, table.hits) == (3, 1, 2, 4)  # expiring now is expired
    by_company = cache_rows_by_company(connection, site.tables, NOW)
    assert (by_company[world["acme"]].total, by_company[world["beta"]].expired) == (2, 1)
    with site.database.begin() as writer:
        assert delete_expired_cache_rows(writer, site.tables, NOW) == 2
        assert delete_cache_rows(writer, site.tables, world["beta"]) == 0
        assert delete_cache_rows(writer, site.tables) == 1
    with site.database.connect() as fresh:
        assert cache_rows(fresh, site.tables, NOW).total == 0


def test_active_tokens_include_those_that_never_expire(site, connection):
    counts = token_counts(connection, site.tables, NOW)
    # Permanent tokens of the plugin's service: 2 with 0, 1 in the future, 1 NULL; 1 in the past.
    assert (counts.active, counts.expired) == (4, 1)
    listed = service_tokens(connection, site.tables, NOW)
    assert len(listed) == 5 and {token.masked for token in listed} >= {"aaaaaaaa…", "bbbbbbbb…"}
    assert [token.active for token in listed if token.masked == "bbbbbbbb…"] == [False]
    assert all(len(token.masked) == 9 for token in listed) and mask("0123456789abcdef") == "01234567…"


def test_security_score_uses_the_plugin_formula_on_real_inputs(site, world, connection, moment):
    settings = read_plugin_settings(connection, site.tables)
    status = security_status(connection, site.tables, settings, moment, https=False)
    # 1 caller at the limit; HTTP and 1 expired token; web services off and REST not enabled.
    assert status.token_issues == ("HTTP (not HTTPS)", "1 expired token(s)")
    assert status.access_issues == ("Web services disabled", "REST protocol disabled")
    assert (status.score, status.label) == (100 - 10 - 2 * 10 - 2 * 15, "At risk")
    assert (status.limit_reached, status.failed_auth_today) == (1, 2)
    site.core_config("enablewebservices", 1)
    site.core_config("webserviceprotocols", "soap,rest")
    try:
        with site.database.connect() as fresh:  # a new snapshot (MariaDB reads repeatably within a transaction)
            better = security_status(fresh, site.tables, settings, moment, https=True)
    finally:
        site.core_config("enablewebservices", 0)
    assert better.access_issues == () and better.token_issues == ("1 expired token(s)",)
    assert (better.score, better.label) == (80, "Good")
    assert overall_status(95, better) == "Good" and overall_status(60, better) == "Poor"


def test_sync_runs_per_day_and_the_overview(site, world, connection, moment):
    runs = site.tables.local_alxbridge_sync_run
    for status, started in (("aborted", MIDNIGHT - 3 * DAY + 10), ("success", MIDNIGHT - 200),
                            ("failed", MIDNIGHT - 100), ("success", NOW - 600)):  # fmt: skip
        site._insert(runs, mode="auto", origin="scheduler", status=status, host="h", timestarted=started,
                     timefinished=started + 5)  # fmt: skip
    days = sync_days(connection, site.tables, moment)
    assert [(day.succeeded, day.ended) for day in days] == [(0, 0)] * 3 + [(0, 1), (0, 0), (1, 2), (1, 1)]
    assert days[-2].success_rate == 50.0 and days[-1].label == "Sun 15 Jun"
    settings = read_plugin_settings(connection, site.tables)
    overview = sync_overview(connection, site.tables, settings, moment)
    assert (overview.last_sync, overview.last_success, overview.status) == (NOW - 595, NOW - 595, "Not scheduled")
    jobs = site.tables.local_alxbridge_job
    site._insert(
        jobs,
        name="sync",
        last_slot=NOW // 3600 * 3600,
        last_status="success",
        timestarted=NOW - 600,
        timefinished=NOW - 595,
    )  # fmt: skip  (a scheduler keeps its hour)
    try:
        with site.database.connect() as fresh:  # a new snapshot (MariaDB reads repeatably within a transaction)
            overview = sync_overview(fresh, site.tables, settings, moment)
    finally:
        with site.database.begin() as writer:
            writer.execute(sa.delete(jobs).where(jobs.c.name == "sync"))
    assert overview.status == "Healthy"
    assert overview.next_sync == MIDNIGHT + 16 * 3600  # 16:00, the next full hour


def test_reporting_rows_created_and_updated_today(site, world, connection, moment):
    reporting = site.tables.local_alx_api_reporting
    acme, beta = world["acme"], world["beta"]
    for userid, (companyid, created, updated, deleted) in enumerate((
        (acme, MIDNIGHT + 10, MIDNIGHT + 10, 0),  # created today
        (acme, MIDNIGHT - 1000, MIDNIGHT + 20, 0),  # updated today
        (beta, MIDNIGHT - 1000, MIDNIGHT - 500, 0),  # neither
        (beta, MIDNIGHT - 2000, MIDNIGHT + 30, 1),  # tombstoned today: an update
    ), start=100):  # fmt: skip
        site._insert(reporting, userid=userid, companyid=companyid, courseid=1, firstname="F", lastname="L",
                     email="e@example.com", coursename="C", last_updated=updated, is_deleted=deleted,
                     created_at=created, updated_at=updated)  # fmt: skip
    with site.database.begin() as writer:
        record_sync_status(writer, site.tables, acme, cron_token_hash(acme), 7, "success", None, NOW - 600)
        record_sync_status(writer, site.tables, beta, cron_token_hash(beta), 0, "failed", "Deadlock found", NOW - 600)
        record_sync_status(writer, site.tables, beta, "client-token-hash", 3, "success", None, NOW - 10)
    assert records_changed_today(connection, site.tables, moment) == (1, 2)
    rows = {row.company.name: row for row in company_syncs(connection, site.tables, moment)}
    acme_row, beta_row, idle_row = rows["Acme"], rows["Beta"], rows["Idle"]
    assert (acme_row.active_records, acme_row.created_today, acme_row.updated_today, acme_row.status) == (
        2, 1, 1, "Active"
    )  # fmt: skip
    assert (acme_row.last_sync, acme_row.last_sync_records) == (NOW - 600, 7)
    assert (beta_row.active_records, beta_row.updated_today, beta_row.status) == (1, 1, "Failed")
    assert beta_row.last_sync_error == "Deadlock found"  # the client token's row is not the sync's
    assert (idle_row.active_records, idle_row.status) == (0, "Never synced")
