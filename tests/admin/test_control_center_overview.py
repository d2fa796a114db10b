"""The Control Center's header and System Overview tab, checked against numbers worked out by hand."""

import re

import pytest

from alxbridge.moodle.siteconfig import site_timezone
from alxbridge.reporting.quota import local_midnight
from alxbridge.sync.runs import run_sync

from .support import PREFIX

HOUR = 3600
DAY = 86400
POWER_QUERY_AGENT = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"
CALLS_AGO = (60, 2 * HOUR, 3 * HOUR, 4 * HOUR, 20 * HOUR, 48 * HOUR)


def text_of(html, element_id):
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, flags=re.S)
    assert match, f"no element #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def log_call(site, userid, seconds_ago, response_ms, error=None, user_agent="PowerBI"):
    with site.database.begin() as connection:
        connection.execute(site.tables.local_alx_api_logs.insert().values(
            userid=userid, company_shortname="acme", endpoint="get_course_progress", record_count=0 if error else 5,
            error_message=error, response_time_ms=response_ms, timeaccessed=site.now - seconds_ago,
            ip_address="10.0.0.1", user_agent=user_agent,
        ))  # fmt: skip


@pytest.fixture(scope="module")
def overview_site(site):
    """Acme: 2 learners × 2 courses (4 rows) and 1 learner × 1 course of Beta; 5 calls in 24 h, one 2 days ago;
    Beta: two Power Query calls 3 days ago and a curl call 8 days ago."""
    acme, beta = site.company("Acme"), site.company("Beta")
    ann = site.user("Ann", "Acme", companies=[acme])
    bob = site.user("Bob", "Acme", companies=[acme])
    cat = site.user("Cat", "Beta", companies=[beta])
    maths, physics = site.course("Maths", companies=[acme]), site.course("Physics", companies=[acme, beta])
    for user, course in ((ann, maths), (ann, physics), (bob, maths), (bob, physics), (cat, physics)):
        site.enrol(user, course)
    site.core_config("enablewebservices", "1")
    site.core_config("webserviceprotocols", "rest")
    site.api_service(tokens=2)
    run_sync(site.database, full=True)
    site._insert(
        site.tables.local_alxbridge_job,
        name="sync",
        last_slot=site.now // 3600 * 3600,
        last_status="success",
        timestarted=site.now,
        timefinished=site.now,
    )  # the scheduler keeps its hour
    for user, ago, response_ms, error in zip((ann, ann, bob, bob, ann, ann), CALLS_AGO, (100, 200, 300, 0, 400, 900),
                                             (None, None, None, "Invalid limit", None, None), strict=True):  # fmt: skip
        log_call(site, user, ago, response_ms, error)  # the error has no timing; the last call is 2 days old
    for ago, agent in ((3 * DAY, POWER_QUERY_AGENT), (3 * DAY, POWER_QUERY_AGENT), (8 * DAY, "curl/8.5.0")):
        log_call(site, cat, ago, 50, user_agent=agent)
    return {"acme": acme, "beta": beta}


def test_the_api_card_shows_the_last_24_hours(admin_client, overview_site):
    html = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    # 5 calls in the window; 1 failed → 4/5 = 80.0 %; timed: (100+200+300+400)/4 = 250 ms, in ms as on every page.
    assert text_of(html, "api-calls") == "5"
    assert text_of(html, "api-success-rate") == "80.0%"
    assert text_of(html, "api-response-time") == "250.0 ms avg"
    assert text_of(html, "api-calls-per-hour") == "0.2"  # 5 / 24
    assert text_of(html, "api-unique-users") == "2"
    table = html[html.index('id="api-performance-chart-table"') :]
    counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", table[: table.index("</table>")])]
    assert len(counts) == 24 and sum(counts) == 5 and counts[-1] == 1  # the call a minute ago is in the last hour


def test_the_sync_card_shows_the_run_tokens_and_rows_per_company(admin_client, overview_site):
    html = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    assert text_of(html, "sync-active-tokens") == "2"
    assert "Healthy" in text_of(html, "sync-state")
    assert text_of(html, "sync-changed-today") == "5 created, 0 updated"
    table = html[html.index('id="sync-company-chart-table"') :]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table[: table.index("</table>")])
    assert rows == [("Acme", "4"), ("Beta", "1")]


def test_the_security_card_scores_real_inputs(admin_client, overview_site):
    html = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    # Plain HTTP is one token issue (−10); web services, REST and the service are set up; nobody hit the limit.
    assert text_of(html, "security-score") == "90/100 (Good)"
    assert text_of(html, "security-violations") == "0"
    assert text_of(html, "security-callers") == "2"
    assert text_of(html, "security-failed-auth") == "0"
    assert "HTTP (not HTTPS)" in text_of(html, "security-issues")


def test_the_header_and_ajax_stats_agree(admin_client, site, overview_site):
    with site.database.connect() as connection:
        midnight = local_midnight(site.now, site_timezone(connection, site.tables))
    calls_today = sum(1 for ago in CALLS_AGO if site.now - ago >= midnight)  # "today" is since local midnight
    stats = admin_client.get(f"{PREFIX}/ajax_stats.php").get_json()
    assert (stats["total_records"], stats["total_companies"], stats["api_calls_today"]) == (5, 2, calls_today)
    assert stats["health_status"] in ("healthy", "warning", "error") and stats["health_icon"]
    html = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    assert text_of(html, "total-records") == "5" and text_of(html, "active-companies") == "2"
    assert text_of(html, "api-calls-today") == str(calls_today)


def test_the_clients_table_names_each_companys_kinds_of_client_from_the_last_7_days(admin_client, overview_site):
    """Acme's six calls logged "PowerBI", which is not Power Query's agent; Beta's curl call is 8 days old."""
    html = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    table = html[html.index('id="clients-by-company-table"') :]
    rows = re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a></th>\s*<td>([^<]*)</td>', table)
    assert rows == [("Acme", "Other or none: 6"), ("Beta", "Power Query (Power BI, Excel): 2")]
