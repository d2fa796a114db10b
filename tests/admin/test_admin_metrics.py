"""Issue 22 #2, #4, #6, #7: error analysis and company shares, the Control Center's cache hit and error rates,
sync modes and data efficiency, system health — on a hand-built site at the fixed test time, against numbers
worked out by hand.

The site (UTC, ``NOW`` = 2025-06-15 15:06:40; every call below is of the last hour, so "today", "last 24 hours"
and "last 7 days" hold the same calls):

* companies Acme (no sync_mode row: auto), Beta (incremental), Gamma (full), Delta (disabled), Epsilon (auto,
  stored); Acme has 2 learners × 2 courses = 4 active reporting rows after the sync;
* callers: acme_api (Acme), beta_api (Beta), lone_api (no company);
* ten logged calls: four served pages (a full read of 4 rows, two incremental reads of 1 and 0 rows of which
  one came from the cache, a live read of 2) and six failures (rate limit, limit too large, no company,
  database, invalid offset, something else); three invalid-token refusals and two abuse-shield blocks.
"""

import json
import re

import pytest
import sqlalchemy as sa

from alxbridge.metrics.api_usage import failed_auth_calls
from alxbridge.metrics.error_analysis import error_categories
from alxbridge.metrics.system_health import SIZE_SOURCES, table_health
from alxbridge.schema.repair import repair_tables
from alxbridge.sync.runs import run_sync
from alxbridge.webservice.refusals import SHIELD

from ..conftest import make_app
from ..sitebuilder import NOW
from .support import PREFIX, AdminSite, sign_in

SECOND_AGO = 60
CALLS = (  # (caller, error, record_count, additional_data)
    ("acme", None, 4, {"offset": 0, "mode": "full", "cache_hit": False}),
    ("acme", None, 1, {"offset": 0, "mode": "incremental", "cache_hit": True}),
    ("acme", None, 0, {"offset": 0, "mode": "incremental", "cache_hit": False}),
    ("beta", None, 2, {"offset": 0, "mode": "live", "cache_hit": False}),
    ("beta", "Rate limit exceeded: 5/5 requests", 0, None),
    ("beta", "Requested limit is too large. Maximum allowed records per request is 1000. Please reduce", 0,
     {"offset": 0}),
    ("lone", "User is not associated with any company", 0, {"offset": 0}),
    ("acme", "Error reading from database", 0, {"offset": 0}),
    ("acme", "local_alx_report_api/invalidoffset", 0, {"offset": -1}),
    ("beta", "Something unexpected happened", 0, {"offset": 0}),
)  # fmt: skip


@pytest.fixture(scope="module")
def app(database_url):
    return make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute", ALX_TIMEZONE="UTC")


@pytest.fixture(scope="module")
def site(app):
    database = app.extensions["alx_database"]
    site = AdminSite(database)
    acme, beta = site.company("Acme"), site.company("Beta")
    gamma, delta, epsilon = site.company("Gamma"), site.company("Delta"), site.company("Epsilon")
    for company, mode in ((beta, 1), (gamma, 2), (delta, 3), (epsilon, 0)):
        site.company_setting(company, "sync_mode", mode)
    maths, physics = site.course("Maths", companies=[acme]), site.course("Physics", companies=[acme])
    for name in ("Ann", "Amy"):
        learner = site.user(name, "Learner", companies=[acme])
        site.enrol(learner, maths)
        site.enrol(learner, physics)
    callers = {
        "acme": site.user("Acme", "Api", companies=[acme]),
        "beta": site.user("Beta", "Api", companies=[beta]),
        "lone": site.user("Lone", "Api"),
    }
    run_sync(database, full=True)
    for n, (caller, error, records, details) in enumerate(CALLS):
        site._insert(
            site.tables.local_alx_api_logs, userid=callers[caller], company_shortname=caller,
            endpoint="get_course_progress", record_count=records, error_message=error,
            response_time_ms=0 if error else 10, timeaccessed=NOW - 3000 + n * SECOND_AGO, ip_address="10.0.0.1",
            user_agent="PowerBI", additional_data=json.dumps(details) if details else None,
        )  # fmt: skip
    refusals = site.tables.local_alxbridge_refusal
    for reason, attempts, ip in (("invalid token", 3, "198.51.100.7"), (SHIELD, 2, "198.51.100.8")):
        minute = (NOW - 600) // 60 * 60
        site._insert(refusals, timeminute=minute, ip_address=ip, reason=reason, token_prefix="abcdef12",
                     attempts=attempts, timelast=minute + 10)  # fmt: skip
    site.ids = {"acme": acme, "beta": beta}
    yield site
    database.engine.dispose()


@pytest.fixture
def admin_client(app, site):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


def html_of(client, path):
    response = client.get(f"{PREFIX}/{path}")
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def text_of(html, element_id):
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, flags=re.S)
    assert match, f"no element #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def cells(html, row_id):
    match = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert match, f"no row #{row_id}"
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", match[1], re.S)
    ]


def test_the_header_shows_todays_cache_hit_rate_and_error_rate(admin_client):  # issue 22 #4
    # Cache lookups: the full and the two incremental pages (the live read has no cache): 1 hit of 3 → 33.3 %.
    # Errors: 6 of 10 calls → 60.0 %.
    html = html_of(admin_client, "control_center.php")
    assert text_of(html, "cache-hit-rate-today") == "33.3%"
    assert text_of(html, "error-rate-today") == "60.0%"
    stats = admin_client.get(f"{PREFIX}/ajax_stats.php").get_json()
    assert (stats["api_calls_today"], stats["errors_today"], stats["error_rate"], stats["cache_hit_rate"]) == (
        10, 6, 60.0, 33.3
    )  # fmt: skip
    performance = html_of(admin_client, "advanced_monitoring.php?window=24h")  # the same definitions over 24 h
    assert text_of(performance, "cache-hit-rate") == "33.3%" and text_of(performance, "error-rate") == "60.0%"


def test_errors_by_category_with_counts_and_shares(admin_client):  # issue 22 #2
    # Logged: rate limit 1, no company 1, database 1, limit too large + invalid offset 2, other 1; refused before
    # the log: 3 invalid tokens (access), 2 shield blocks (rate limit). 11 in all.
    html = html_of(admin_client, "advanced_monitoring.php?window=7d")
    assert cells(html, "errors-rate-limit") == ["Rate limit", "3", "27.3%", "1", "2"]
    assert cells(html, "errors-invalid-token-or-access") == ["Invalid token or access", "4", "36.4%", "1", "3"]
    assert cells(html, "errors-database") == ["Database", "1", "9.1%", "1", "0"]
    assert cells(html, "errors-invalid-parameter") == ["Invalid parameter", "2", "18.2%", "2", "0"]
    assert cells(html, "errors-other") == ["Other", "1", "9.1%", "1", "0"]


def test_the_access_category_is_the_failed_authentication_count(site):  # issue 22 #2
    with site.database.connect() as connection:
        categories = {c.name: c.errors for c in error_categories(connection, site.tables, NOW - 86400, NOW)}
        assert categories["Invalid token or access"] == failed_auth_calls(connection, site.tables, NOW - 86400, NOW)


def test_a_window_without_errors_has_no_shares(site):  # issue 22 #2
    with site.database.connect() as connection:
        categories = error_categories(connection, site.tables, NOW - 10 * 86400, NOW - 9 * 86400)
    assert [(c.errors, c.share) for c in categories] == [(0, None)] * 5


def test_each_companys_share_of_the_calls(admin_client, site):  # issue 22 #2
    # Acme's caller made 5 calls, Beta's 4, the caller without a company 1: 10 calls.
    html = html_of(admin_client, "advanced_monitoring.php?window=30d")
    assert cells(html, f"share-company-{site.ids['acme']}") == ["Acme", "5", "50.0%"]
    assert cells(html, f"share-company-{site.ids['beta']}") == ["Beta", "4", "40.0%"]
    assert cells(html, "share-no-company") == ["Callers without a company", "1", "10.0%"]
    shares = html[html.index('id="company-shares"') :]
    assert "Gamma" not in shares[: shares.index("</table>")]  # companies without calls are left out


def test_sync_mode_distribution_and_data_efficiency(admin_client):  # issue 22 #6
    html = html_of(admin_client, "auto_sync_status.php")
    # 5 companies: Acme (no row) and Epsilon are auto; one each of the others.
    assert cells(html, "sync-mode-auto") == ["AUTO", "2", "40.0%"]
    assert cells(html, "sync-mode-incremental") == ["INCREMENTAL", "1", "20.0%"]
    assert cells(html, "sync-mode-full") == ["FULL", "1", "20.0%"]
    assert cells(html, "sync-mode-disabled") == ["DISABLED", "1", "20.0%"]
    # Sent: 4 (full) + 1 + 0 (incremental) + 2 (live) = 7. Full answers: 4 + 2 as sent, and each of the two
    # incremental reads as Acme's 4 active rows: 14. Reduction 1 − 7/14 = 50.0 %.
    assert text_of(html, "efficiency-rows-sent") == "7"
    assert text_of(html, "efficiency-full-rows") == "14"
    assert text_of(html, "efficiency-reduction") == "50.0%"
    assert text_of(html, "efficiency-reads") == "2 / 2"


def test_system_health_shows_rows_sizes_indexes_and_the_host(admin_client, site):  # issue 22 #7
    html = html_of(admin_client, "monitoring_dashboard.php")  # the plugin's System Health page opens on it
    assert 'aria-current="page">System Health' in html
    logs = cells(html, "table-local_alx_api_logs")
    assert logs[:3] == ["local_alx_api_logs", "plugin", "10"]
    assert cells(html, "table-local_alxbridge_refusal")[1:3] == ["bridge", "2"]
    assert re.fullmatch(r"[\d.]+ (Bytes|KiB|MiB)", logs[3]), logs  # data: the backend's pages (dbstat, I_S)
    assert logs[6] == "5" and logs[7] == "OK"  # userid, company_shortname, endpoint, timeaccessed, response_time_ms
    assert text_of(html, "index-health") == "OK"
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    assert f"of {total / 1024 / 1024:.1f} GiB" in html
    assert re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+", text_of(html, "host-load"))


def test_a_missing_index_is_reported_until_repaired(admin_client, site):  # issue 22 #7
    logs = site.tables.local_alx_api_logs
    index = next(i for i in logs.indexes if [c.name for c in i.columns] == ["userid"])
    with site.database.begin() as connection:
        index.drop(connection)
    try:
        html = html_of(admin_client, "monitoring_dashboard_new.php?tab=health")
        state = cells(html, "table-local_alx_api_logs")[7]
        assert state.startswith("1 missing") and "missing index" in state and "(userid)" in state
        assert text_of(html, "index-health") == "1 table(s) need repair"
    finally:
        with site.database.connect() as connection:
            repair_tables(connection, [logs])
    assert text_of(html_of(admin_client, "monitoring_dashboard_new.php?tab=health"), "index-health") == "OK"


def test_row_counts_are_exact(site, admin_client):  # issue 22 #7
    with site.database.connect() as connection:
        reporting = connection.execute(sa.select(sa.func.count()).select_from(site.tables.local_alx_api_reporting))
        expected = reporting.scalar()
    html = html_of(admin_client, "monitoring_dashboard_new.php?tab=health")
    assert cells(html, "table-local_alx_api_reporting")[2] == str(expected) == "4"


# The least each backend allocates to one index: a SQLite page, an InnoDB page, a PostgreSQL B-tree's metapage
# (its root page comes with the first row).
SMALLEST_INDEX = {"sqlite": 4096, "mysql": 16384, "postgresql": 8192}


def test_index_sizes_are_the_backends_own_pages(admin_client, site):  # issue 22 #7
    dialect = site.database.engine.dialect.name
    assert f"<code>{SIZE_SOURCES[dialect]}</code>" in html_of(admin_client, "monitoring_dashboard_new.php?tab=health")
    with site.database.connect() as connection:
        tables = table_health(connection, site.database).tables
    assert all(table.present and table.data_bytes is not None for table in tables)
    for table in tables:
        assert table.index_bytes >= table.declared_indexes * SMALLEST_INDEX[dialect], table
