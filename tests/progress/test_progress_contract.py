"""``local_alx_report_api_get_course_progress`` as clients see it: parameters, fields, formatting,
the plugin's errors, company resolution, the daily quota and the audit log — over HTTP, on the
reference site of the golden recordings (SQLite and MariaDB).

Where the bridge deliberately differs from the plugin (design §2, plugin-behaviour.md §9) the test
says so in its name or docstring.
"""

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ..progress_support import C1, C1B, C2, C3, FIELDS, TOKEN_USERS, progress_row
from ..rest_support import LONER, envelope

KOLKATA = ZoneInfo("Asia/Kolkata")
LIMIT_TOO_LARGE = (
    "Requested limit is too large. Maximum allowed records per request is {}. "
    "Please reduce your limit parameter and try again."
)


def json_error(errorcode, message, exception="moodle_exception"):
    return envelope("json", exception, errorcode, message)


# Parameters


def test_limit_and_offset_default_to_100_and_0(site):
    site.write(1, [progress_row(1000 + n, 101) for n in range(120)])
    first = site.page(C1)
    assert [item["userid"] for item in first] == list(range(1000, 1100))
    details = site.last_details(C1)
    assert (details["limit"], details["offset"]) == (100, 0)
    rest = site.page(C1, offset=100)
    assert [item["userid"] for item in rest] == list(range(1100, 1120))


def test_limit_above_max_records_is_limittoolarge_with_the_plugins_message(site):
    assert site.call(C1, limit=5000).data == json_error("limittoolarge", LIMIT_TOO_LARGE.format(1000))
    assert isinstance(site.page(C1, limit=1000), list)
    site.config("max_records", 50)
    assert site.call(C1, limit=51).data == json_error("limittoolarge", LIMIT_TOO_LARGE.format(50))
    xml = site.call(C1, limit=51, fmt="xml").data
    assert xml == envelope("xml", "moodle_exception", "limittoolarge", LIMIT_TOO_LARGE.format(50))
    assert len(site.page(C1, limit=50)) == 11
    logged = site.logs(userid=10)
    assert [row["error_message"] for row in logged] == [
        LIMIT_TOO_LARGE.format(1000), None, LIMIT_TOO_LARGE.format(50), LIMIT_TOO_LARGE.format(50), None,
    ]  # fmt: skip
    assert logged[0]["record_count"] == 0


@pytest.mark.parametrize("limit", [0, -1, -500])
def test_limit_of_zero_or_less_is_refused_instead_of_returning_every_row_b23(site, limit):
    """B23: the plugin answers ``limit <= 0`` with every row, past ``max_records``; the bridge refuses it."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(3)])
    assert site.call(C1, limit=limit).data == json_error("invalidlimit", "local_alx_report_api/invalidlimit")
    assert site.logs(userid=10)[-1]["error_message"] == "local_alx_report_api/invalidlimit"


def test_negative_offset_is_refused_with_invalidoffset(site):
    """The plugin silently reads from 0 for a negative offset; the bridge says the offset is invalid."""
    assert site.call(C1, offset=-1).data == json_error("invalidoffset", "local_alx_report_api/invalidoffset")


# Fields, types and formatting


def test_items_have_the_twelve_fields_in_the_plugins_order_and_types(site):
    """Live (never synced) and from the reporting table, every item has the same keys and types."""
    live = site.page(C1)
    site.write(1, [progress_row(1000, 101, percentage=66.67, status="in_progress", timestarted=1792712481)])
    stored = site.page(C1)
    for item in live + stored:
        assert tuple(item) == FIELDS
        for name in ("userid", "courseid", "timecompleted_unix", "timestarted_unix"):
            assert type(item[name]) is int
        for name in ("firstname", "lastname", "email", "coursename", "timecompleted", "timestarted", "status"):
            assert type(item[name]) is str
        assert type(item["percentage"]) in (int, float)


def test_dates_are_in_the_site_timezone_and_empty_for_zero(site):
    """The reference site's timezone is Asia/Kolkata: 1793144481 is 2026-10-28 05:11:21 there."""
    live = {(item["userid"], item["courseid"]): item for item in site.page(C1)}
    assert live[10, 101]["timecompleted"] == "2026-10-28 05:11:21"
    assert live[10, 101]["timecompleted_unix"] == 1793144481
    assert live[10, 102]["timecompleted"] == ""
    assert live[10, 102]["timecompleted_unix"] == 0
    site.write(1, [progress_row(1000, 101, timecompleted=0, timestarted=1700000000)])
    (item,) = site.page(C1)
    assert (item["timecompleted"], item["timecompleted_unix"]) == ("", 0)
    assert item["timestarted"] == datetime.fromtimestamp(1700000000, KOLKATA).strftime("%Y-%m-%d %H:%M:%S")
    assert item["timestarted"] == "2023-11-15 03:43:20"


def test_percentages_are_plugin_numbers_in_json_and_xml(site):
    site.write(1, [progress_row(1000 + n, 101, percentage=p) for n, p in enumerate((100, 66.67, 0, 33.3, 12.5))])
    body = site.call(C1).data.decode()
    assert re.findall(r'"percentage":([^,}]*)', body) == ["100", "66.67", "0", "33.3", "12.5"]
    xml = site.call(C1, fmt="xml").data.decode()
    assert re.findall(r'<KEY name="percentage"><VALUE>([^<]*)</VALUE>', xml) == ["100", "66.67", "0", "33.3", "12.5"]


def test_disabled_fields_vanish_from_json_and_are_null_in_xml(site):
    site.write(1, [progress_row(1000, 101)])
    for name in ("email", "timecompleted", "percentage"):
        site.company_setting(1, f"field_{name}", 0)
    (item,) = site.page(C1)
    assert tuple(item) == tuple(name for name in FIELDS if name not in ("email", "timecompleted", "percentage"))
    xml = site.call(C1, fmt="xml").data.decode()
    assert '<KEY name="email"><VALUE null="null"/>\n</KEY>' in xml
    assert '<KEY name="percentage"><VALUE null="null"/>\n</KEY>' in xml
    assert '<KEY name="status"><VALUE>not_started</VALUE>\n</KEY>' in xml
    assert [m for m in re.findall(r'<KEY name="(\w+)">', xml)] == list(FIELDS)


def test_fields_of_another_company_stay_on(site):
    site.write(1, [progress_row(1000, 101)])
    site.write(2, [progress_row(2000, 105)])
    site.company_setting(1, "field_email", 0)
    (item,) = site.page(C2)
    assert "email" in item


# The plugin's errors


def test_get_is_refused_when_the_get_method_is_disabled(site):
    site.config("allow_get_method", 0)
    expected = json_error("invalidrequestmethod", "Only POST method is allowed for security reasons")
    assert site.call(C1, method="GET").data == expected
    assert isinstance(site.page(C1), list)
    logged = site.logs(userid=10)
    assert logged[0]["error_message"] == "Only POST method is allowed for security reasons"
    assert json.loads(logged[0]["additional_data"])["request_method"] == "GET"
    site.config("allow_get_method", 1)
    assert isinstance(site.page(C1, method="GET"), list)


def test_a_user_without_a_company_gets_nocompanyassociation(site):
    assert site.call(LONER).data == json_error("nocompanyassociation", "User is not associated with any company")
    (row,) = site.logs(userid=3)
    assert (row["company_shortname"], row["error_message"]) == ("unknown", "User is not associated with any company")


def test_a_user_in_several_companies_reads_the_company_joined_first(site, changes):
    """Documented rule: the active membership (of an active company) with the lowest company_users.id."""
    changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=0)  # joined first
    changes.insert("company_users", companyid=2, userid=3, departmentid=0, suspended=0)
    assert {item["userid"] for item in site.page(LONER)} == {50}  # company 3's learners, although 2 < 3
    assert site.logs(userid=3)[-1]["company_shortname"] == "EDU"
    changes.update("company_users", {"companyid": 3, "userid": 3}, suspended=1)
    assert {item["userid"] for item in site.page(LONER)} == {40, 41}
    assert site.logs(userid=3)[-1]["company_shortname"] == "TCT"
    changes.update("company", {"id": 2}, suspended=1)
    assert site.error(LONER)["errorcode"] == "nocompanyassociation"


def test_the_company_is_the_same_whatever_the_row_order(site, changes):
    """A later membership row of a lower company id never wins, also after the first one is re-read."""
    changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=0)
    changes.insert("company_users", companyid=1, userid=3, departmentid=0, suspended=0)
    for _ in range(3):
        assert {item["userid"] for item in site.page(LONER)} == {50}


def _statements_during(site, action):
    seen = []

    def capture(connection, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(site.database.engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        sa.event.remove(site.database.engine, "before_cursor_execute", capture)
    return [(statement, parameters) for statement, parameters in seen if "AS membership" in statement]  # the caller's


def _reads_memberships_by_primary_key_only(site, statement, parameters):
    """Whether the plan of ``statement`` reads ``company_users`` by its primary key alone and scans no
    ``company`` table: MariaDB's ``EXPLAIN`` or SQLite's ``EXPLAIN QUERY PLAN`` (PostgreSQL: ``None``, its
    plans of tables this small prefer a scan either way)."""
    dialect = site.database.engine.dialect.name
    if dialect == "postgresql":
        return None
    raw = site.database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            details = [row[3] for row in cursor.fetchall()]
            users = [detail for detail in details if "company_users" in detail]
            return bool(users) and all("USING INTEGER PRIMARY KEY" in detail for detail in users)
        cursor.execute("EXPLAIN " + statement, parameters)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        users = [row for row in rows if (row["table"] or "").endswith("company_users")]
        scans = [row for row in rows if (row["table"] or "").endswith("company") and row["type"] == "ALL"]
        return bool(users) and all(row["key"] == "PRIMARY" for row in users) and not scans
    finally:
        raw.close()


def test_later_calls_read_the_remembered_membership_by_its_id_instead_of_probing_every_company(site, changes):
    """IOMAD indexes company_users by (companyid, userid, departmentid) only: the rule probes that index once per
    company. The membership found is remembered and then read by its primary key, one row whatever the site's
    number of companies."""
    membership = changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=0)
    first = _statements_during(site, lambda: site.page(LONER))
    later = _statements_during(site, lambda: site.page(LONER))
    assert len(first) == 1 and len(later) == 1
    statement, parameters = later[0]
    bound = parameters.values() if isinstance(parameters, dict) else parameters
    assert membership in bound and membership not in (
        first[0][1].values() if isinstance(first[0][1], dict) else first[0][1]
    )
    assert _reads_memberships_by_primary_key_only(site, statement, parameters) in (True, None)
    assert _reads_memberships_by_primary_key_only(site, *first[0]) in (False, None)  # the rule: a probe per company
    assert {item["userid"] for item in site.page(LONER)} == {50}


def test_a_remembered_membership_moved_to_another_company_is_followed_at_once(site, changes):
    changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=0)
    assert {item["userid"] for item in site.page(LONER)} == {50}
    changes.update("company_users", {"companyid": 3, "userid": 3}, companyid=2)
    assert {item["userid"] for item in site.page(LONER)} == {40, 41}
    assert site.logs(userid=3)[-1]["company_shortname"] == "TCT"


def test_a_remembered_membership_that_ends_gives_way_to_the_next_one_at_once(site, changes):
    changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=0)
    changes.insert("company_users", companyid=2, userid=3, departmentid=0, suspended=0)
    assert {item["userid"] for item in site.page(LONER)} == {50}
    changes.delete("company_users", companyid=3, userid=3)
    assert {item["userid"] for item in site.page(LONER)} == {40, 41}
    changes.update("company", {"id": 2}, suspended=1)
    assert site.error(LONER)["errorcode"] == "nocompanyassociation"


@pytest.mark.parametrize("inactive", ["membership", "company"])
def test_an_earlier_membership_that_becomes_active_again_wins_at_once(site, changes, inactive):
    """The first row is inactive, so the later membership served meanwhile is not remembered: when the earlier one
    comes back (its suspension or its company's lifted), the rule picks it on the very next call."""
    changes.insert("company_users", companyid=3, userid=3, departmentid=0, suspended=int(inactive == "membership"))
    changes.insert("company_users", companyid=2, userid=3, departmentid=0, suspended=0)
    if inactive == "company":
        changes.update("company", {"id": 3}, suspended=1)
    for _ in range(2):
        assert {item["userid"] for item in site.page(LONER)} == {40, 41}
    if inactive == "company":
        changes.update("company", {"id": 3}, suspended=0)
    else:
        changes.update("company_users", {"companyid": 3, "userid": 3}, suspended=0)
    assert {item["userid"] for item in site.page(LONER)} == {50}
    assert site.logs(userid=3)[-1]["company_shortname"] == "EDU"


# Daily quota


def test_company_quota_rejects_after_n_calls_logs_the_first_rejection_once_and_alerts(site):
    site.company_setting(1, "rate_limit", 3)
    for _ in range(3):
        site.page(C1)
    rejection = site.call(C1).data
    assert rejection == json_error("ratelimitexceeded", "Daily rate limit exceeded")
    logged = site.logs(userid=10)
    assert len(logged) == 4
    assert logged[-1]["error_message"] == "Rate limit exceeded: 3/3 requests"
    assert (logged[-1]["record_count"], float(logged[-1]["response_time_ms"])) == (0, 0.0)
    (alert,) = site.rows("local_alx_api_alerts")
    assert (alert["alert_type"], alert["severity"], alert["resolved"]) == ("rate_limit_exceeded", "high", 0)
    assert alert["message"] == "User Zoë Ångström from Betterwork Learning exceeded rate limit (3/3 requests)"
    for _ in range(2):  # later rejections: neither logged nor counted, no new alert
        assert site.call(C1).data == rejection
    assert len(site.logs(userid=10)) == 4
    assert len(site.rows("local_alx_api_alerts")) == 1
    assert isinstance(site.page(C1B), list)  # counted per user, not per company


def test_global_quota_applies_when_the_company_sets_none(site):
    site.config("rate_limit", 2)
    site.page(C1)
    site.page(C1)
    assert site.error(C1)["errorcode"] == "ratelimitexceeded"
    site.company_setting(1, "rate_limit", 5)  # a company limit overrides the global one
    assert isinstance(site.page(C1), list)


def test_global_quota_of_zero_is_unlimited(site):
    """The plugin turns 0 into 100 (B16); its settings page promises unlimited, and so does the bridge."""
    today = max(site.database.now() - 10, local_midnight(site))
    log_rows = [
        {"userid": 10, "company_shortname": "BWL", "endpoint": "get_course_progress", "record_count": 1,
         "timeaccessed": today, "response_time_ms": 1, "ip_address": "127.0.0.1", "user_agent": "x"}
        for _ in range(150)
    ]  # fmt: skip
    with site.database.begin() as connection:
        connection.execute(site.tables.local_alx_api_logs.insert(), log_rows)
    site.config("rate_limit", 0)
    assert isinstance(site.page(C1), list)
    site.config("rate_limit", 100)
    assert site.error(C1)["errorcode"] == "ratelimitexceeded"
    assert len(site.logs(userid=10)) == 151  # 151 > 100: not the first rejection, so not logged


def local_midnight(site):
    """The site's "today" began at this midnight in the site timezone."""
    today = datetime.fromtimestamp(site.database.now(), KOLKATA).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp())


def test_calls_count_from_local_midnight_in_the_site_timezone(site):
    midnight = local_midnight(site)
    with site.database.begin() as connection:
        for at in (midnight - 1, midnight - 1, midnight):
            connection.execute(
                site.tables.local_alx_api_logs.insert().values(
                    userid=10, company_shortname="BWL", endpoint="get_course_progress", record_count=0,
                    timeaccessed=at, response_time_ms=1, ip_address="127.0.0.1", user_agent="x",
                )
            )  # fmt: skip
    site.config("rate_limit", 2)
    assert isinstance(site.page(C1), list)  # yesterday's two calls do not count: 1 < 2
    assert site.error(C1)["errorcode"] == "ratelimitexceeded"


def test_failed_calls_count_toward_the_quota(site):
    site.config("rate_limit", 2)
    assert site.error(C1, limit=5000)["errorcode"] == "limittoolarge"
    assert isinstance(site.page(C1), list)
    assert site.error(C1)["errorcode"] == "ratelimitexceeded"


def test_a_call_refused_after_its_count_still_counts(site):
    """The GET refusal comes after the quota check: its own writes are rolled back, its count is made again."""
    site.config("rate_limit", 2)
    site.config("allow_get_method", 0)
    assert site.error(C1, method="GET")["errorcode"] == "invalidrequestmethod"
    assert isinstance(site.page(C1), list)
    assert site.error(C1)["errorcode"] == "ratelimitexceeded"
    (counter,) = site.rows("local_alxbridge_quota", userid=TOKEN_USERS[C1])
    assert counter["calls"] == 3  # two calls and the day's first rejection
    assert [row["error_message"] is None for row in site.logs(userid=TOKEN_USERS[C1])] == [False, True, False]


def test_a_cached_page_commits_once_and_a_page_read_from_the_database_twice(site):
    """A cache hit writes its count, session, status and log row in one transaction; a page read from the
    database first commits its count with a reserved row, so the user's counter row is not held while it reads."""
    site.write(1, [progress_row(1000, 101)])
    site.company_setting(1, "sync_mode", 2)  # full: every new session serves the row
    site.page(C1)  # the day's first call also creates the user's counter row of the day (a commit of its own)
    commits = []

    def committed(connection):
        commits.append(connection)

    sa.event.listen(site.database.engine, "commit", committed)
    try:
        site.page(C1, limit=50)  # a new session: read from the database
        uncached = len(commits)
        site.page(C1, limit=50)  # Power BI's second evaluation: the same session, from the cache
        cached = len(commits) - uncached
    finally:
        sa.event.remove(site.database.engine, "commit", committed)
    assert (uncached, cached) == (2, 1)
    _, first, second = site.logs(userid=TOKEN_USERS[C1])
    assert [json.loads(row["additional_data"])["cache_hit"] for row in (first, second)] == [False, True]
    assert (second["record_count"], second["error_message"]) == (1, None) and float(second["response_time_ms"]) > 0
    (counter,) = site.rows("local_alxbridge_quota", userid=TOKEN_USERS[C1])
    assert counter["calls"] == 3
    status = site.sync_status(C1)
    assert (status["total_syncs"], status["last_sync_records"]) == (3, 1)


# Audit log


def test_every_call_writes_one_log_row_with_the_plugins_columns(site):
    site.write(1, [progress_row(1000 + n, 101) for n in range(3)])
    agent = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"
    site.page(C1, limit=2, headers={"User-Agent": agent}, REMOTE_ADDR="10.1.2.3")
    site.error(C1, limit=5000, headers={"User-Agent": "x" * 300})
    site.page(C1, limit=2, offset=2, method="GET")
    ok, failed, last = site.logs(userid=10)
    assert (ok["company_shortname"], ok["endpoint"], ok["record_count"], ok["error_message"]) == (
        "BWL", "get_course_progress", 2, None,
    )  # fmt: skip
    assert (ok["ip_address"], ok["user_agent"]) == ("10.1.2.3", agent)
    assert float(ok["response_time_ms"]) > 0
    assert ok["timeaccessed"] == site.database.now()
    details = json.loads(ok["additional_data"])
    assert {k: details[k] for k in ("limit", "offset", "request_method", "mode", "cache_hit")} == {
        "limit": 2, "offset": 0, "request_method": "POST", "mode": "full", "cache_hit": False,
    }  # fmt: skip
    assert isinstance(details["session_id"], int)
    assert failed["error_message"] == LIMIT_TOO_LARGE.format(1000)
    assert failed["user_agent"] == "x" * 255
    assert json.loads(failed["additional_data"]) == {"limit": 5000, "offset": 0, "request_method": "POST"}
    later = json.loads(last["additional_data"])
    assert (later["request_method"], later["offset"], later["session_id"]) == ("GET", 2, details["session_id"])
    assert last["record_count"] == 1
    assert not any(C1 in str(value) for row in (ok, failed, last) for value in row.values())  # no token logged


def test_live_answers_are_logged_as_live(site):
    items = site.page(C1)
    (row,) = site.logs(userid=10)
    assert row["record_count"] == len(items) == 11
    details = json.loads(row["additional_data"])
    assert (details["mode"], details["cache_hit"]) == ("live", False)


def test_cache_hits_are_recorded_and_a_new_version_is_a_miss(site):
    site.write(1, [progress_row(1000, 101, tag="a")])
    assert site.page(C1)[0]["firstname"] == "F1000-a"
    assert site.page(C1)[0]["firstname"] == "F1000-a"  # Power BI's second evaluation: the same session, cached
    assert [site_detail["cache_hit"] for site_detail in map(json.loads, _additional(site))] == [False, True]
    site.write(1, [progress_row(1000, 101, tag="b")])
    site.age_sessions(C1, 3600)
    assert site.page(C1)[0]["firstname"] == "F1000-b"
    assert site.last_details(C1)["cache_hit"] is False


def test_no_cache_when_the_company_ttl_is_zero(site):
    site.company_setting(1, "cache_ttl_minutes", 0)
    site.write(1, [progress_row(1000, 101)])
    site.page(C1)
    site.page(C1)
    assert site.last_details(C1)["cache_hit"] is False


def test_tokens_of_other_companies_read_their_own_rows(site):
    site.write(1, [progress_row(1000, 101)])
    site.write(2, [progress_row(2000, 105)])
    site.write(3, [progress_row(3000, 102)])
    assert [item["userid"] for item in site.page(C1)] == [1000]
    assert [item["userid"] for item in site.page(C2)] == [2000]
    assert [item["userid"] for item in site.page(C3)] == [3000]


def _additional(site):
    return [row["additional_data"] for row in site.logs(userid=TOKEN_USERS[C1])]
