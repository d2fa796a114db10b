"""The monitoring pages: they render for a signed-in admin (also on an empty site), show the numbers of a
hand-built site, clear only cache rows, test the endpoints, and escape every name and message."""

import json
import re

import pytest
import sqlalchemy as sa

from alxbridge.metrics.moment import Moment

from ..sitebuilder import NOW
from .support import PREFIX, XSS, post_form

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
DASHBOARD = f"{PREFIX}/monitoring_dashboard_new.php"
ADVANCED = f"{PREFIX}/advanced_monitoring.php"
RATE_LIMITS = f"{PREFIX}/check_rate_limit.php"
UNIFIED = f"{PREFIX}/unified_monitoring_dashboard.php"
PAGES = [
    *(f"{DASHBOARD}?tab={tab}" for tab in ("autosync", "performance", "security")),
    f"{PREFIX}/monitoring_dashboard.php",
    *(f"{ADVANCED}?window={window}" for window in ("24h", "7d", "30d")),
    RATE_LIMITS,
    UNIFIED,
]


def stat(html, element_id):
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, f"no element #{element_id}"
    return match.group(1).strip()


def row_cells(html, table_id, name):
    """The text of each cell of the row of table ``table_id`` that mentions ``name``."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    found = table.index(name)
    row = table[table.rindex("<tr", 0, found) : table.index("</tr>", found)]
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_every_page_renders_on_an_empty_site(admin_client):
    for url in PAGES:
        html = page(admin_client, url)
        assert "<h1" in html and "Traceback" not in html, url
    performance = page(admin_client, f"{DASHBOARD}?tab=performance")
    assert (stat(performance, "api-calls"), stat(performance, "success-rate"), stat(performance, "avg-response")) == (
        "0", "—", "—"
    )  # fmt: skip
    assert "No companies yet." in performance
    autosync = page(admin_client, DASHBOARD)
    assert (stat(autosync, "sync-status"), stat(autosync, "last-sync"), stat(autosync, "total-companies")) == (
        "Never synced", "Never", "0"
    )  # fmt: skip
    security = page(admin_client, f"{DASHBOARD}?tab=security")
    assert (stat(security, "active-tokens"), stat(security, "rate-limit-violations")) == ("0", "0")
    assert "Service not found" in security
    assert "No permanent tokens" not in page(admin_client, RATE_LIMITS)  # no service: a warning instead
    assert stat(page(admin_client, UNIFIED), "cache-entries") == "0"


def insert_call(site, userid, at, ms, error=None, details=None, company="acme"):
    site._insert(
        site.tables.local_alx_api_logs, userid=userid, company_shortname=company, endpoint="get_course_progress",
        record_count=0 if error else 5, error_message=error, response_time_ms=ms, timeaccessed=at,
        ip_address="203.0.113.9", user_agent="Microsoft.Data.Mashup", additional_data=json.dumps(details or {}),
    )  # fmt: skip


def add_cache_rows(site, rows):
    """``rows``: (companyid, key, seconds until expiry); returns nothing, the test deletes what it added."""
    now = site.now
    for companyid, key, ttl in rows:
        site._insert(
            site.tables.local_alx_api_cache, cache_key=key, companyid=companyid, cache_data="[]",
            cache_timestamp=now - 60, expires_at=now + ttl, hit_count=0, last_accessed=now,
        )  # fmt: skip


def cache_keys(site):
    cache = site.tables.local_alx_api_cache
    with site.database.connect() as connection:
        return sorted(connection.execute(sa.select(cache.c.cache_key)).scalars())


def everything_but_the_cache(site):
    """Every row but the plugin's cache rows and the companies' cache generations (what clearing changes)."""
    generations = {
        site.tables.local_alxbridge_company.c.cache_generation,
        site.tables.local_alxbridge_company.c.timemodified,
    }
    with site.database.connect() as connection:
        return {
            table.name: sorted(
                map(tuple, connection.execute(sa.select(*(c for c in table.c if c not in generations))).all()), key=repr
            )
            for table in site.database.schema.metadata.sorted_tables
            if table is not site.tables.local_alx_api_cache
        }


def cache_generations(site):
    table = site.tables.local_alxbridge_company
    with site.database.connect() as connection:
        return dict(connection.execute(sa.select(table.c.companyid, table.c.cache_generation)).all())


@pytest.fixture(scope="module")
def monitored(site):
    """Acme (limit 3) with alice, who used her 3 calls; a company and a caller named with markup; 2 tokens."""
    with site.database.connect() as connection:
        moment = Moment.of(connection, site.tables, site.now)
    now = site.now

    def today(back):
        return max(moment.midnight, now - back)

    acme, hostile = site.company("Acme Learning"), site.company(XSS)
    alice = site.user("Alice", "Analyst", companies=[acme])
    mallory = site.user(XSS, "Hostile", companies=[hostile], username="mallory")
    site.company_setting(acme, "rate_limit", 3)
    insert_call(site, alice, today(30), 100, details={"cache_hit": True, "mode": "incremental"})
    insert_call(site, alice, today(20), 300, details={"cache_hit": False, "mode": "incremental"})
    insert_call(site, alice, today(10), 0, error="Rate limit exceeded: 3/3 requests")
    insert_call(site, mallory, today(40), 50, company=XSS[:25])
    insert_call(site, mallory, today(5), 10, error=XSS, company=XSS[:25])
    site.api_service(tokens=2)
    site._insert(site.tables.local_alx_api_alerts, alert_type="rate_limit_exceeded", severity="high", message=XSS,
                 alert_data="{}", hostname="203.0.113.9", timecreated=now - 60, resolved=0)  # fmt: skip
    site._insert(site.tables.local_alxbridge_sync_run, mode="auto", origin="scheduler", status="success", host="h",
                 timestarted=now - 600, timefinished=now - 590, companies=2)  # fmt: skip
    site._insert(
        site.tables.local_alxbridge_job,
        name="sync",
        last_slot=(now - 600) // 3600 * 3600,
        last_status="success",
        timestarted=now - 600,
        timefinished=now - 590,
    )  # the scheduler started it
    return {"acme": acme, "hostile": hostile, "alice": alice, "mallory": mallory}


def test_performance_tab_shows_todays_numbers(admin_client, monitored):
    html = page(admin_client, f"{DASHBOARD}?tab=performance")
    # 5 calls today, 2 failed → 60.0 %; timed calls 100, 300, 50, 10 → 115.0 ms; 1 hit of 2 lookups.
    assert stat(html, "api-calls") == "5"
    assert stat(html, "success-rate") == "60.0%"
    assert stat(html, "avg-response") == "115.0 ms"
    assert stat(html, "cache-hit-rate") == "50.0%"
    acme = row_cells(html, "company-performance", "Acme Learning")
    # Name, mode, limit, requests, average of 100 and 300, source, success, last, today, remaining, total, per day.
    assert acme[:5] == ["Acme Learning", "AUTO", "3", "3", "200.0 ms"]
    assert acme[6:7] + acme[8:11] == ["66.7%", "2 (2)", "0", "3"]  # the quota's refusal is not usage
    assert acme[5] == "50.0% cache / 50.0% direct" and acme[11] == "0.1/day"
    assert acme[12].startswith("1 error") and "Rate limit exceeded: 3/3 requests" in acme[12]
    assert "Incoming" in html and 'id="request-flow"' in html and 'id="response-time"' in html


def test_security_tab_shows_tokens_violations_and_alerts(admin_client, monitored):
    html = page(admin_client, f"{DASHBOARD}?tab=security")
    assert stat(html, "active-tokens") == "2"
    assert stat(html, "rate-limit-violations") == "1"
    assert stat(html, "failed-auth") == "0"
    violations = html[html.index('id="rate-limit-table"') :]
    assert "Alice Analyst" in violations[: violations.index("</table>")]
    assert "Limit reached" in violations and "2 / 3" in violations
    assert "Ada Admin" in html  # a site administrator among the recipients
    assert "0001000000000000000000000000000" not in html  # no token in full


def test_autosync_tab_shows_the_last_run(admin_client, monitored):
    html = page(admin_client, DASHBOARD)
    assert stat(html, "sync-status") == "Healthy"
    assert stat(html, "total-companies") == "2"
    assert stat(html, "sync-success-rate") == "100.0%"
    assert "Acme Learning" in html[html.index('id="company-sync"') :]
    assert "Last run (auto, scheduler, success): 2 companies," in " ".join(html.split())


def test_the_old_monitoring_address_shows_the_same_dashboard(admin_client, monitored):
    html = page(admin_client, f"{PREFIX}/monitoring_dashboard.php?tab=performance")
    assert stat(html, "api-calls") == "5"
    assert f'href="{DASHBOARD}?tab=security"' in html


def test_advanced_monitoring_over_each_window(admin_client, monitored):
    for window in ("24h", "7d", "30d", "bogus"):
        html = page(admin_client, f"{ADVANCED}?window={window}")
        assert stat(html, "total-calls") == "5"
        assert stat(html, "success-rate") == "60.0%" and stat(html, "error-rate") == "40.0%"
        assert stat(html, "p95-response") == "300.0 ms"  # ceil(0.95 × 4) = 4th of 10, 50, 100, 300
        assert stat(html, "violations-today") == "1" and stat(html, "api-users") == "2"
    assert f'href="{ADVANCED}?window=24h" aria-current="page">Last 24 hours<' in html  # an unknown window: 24 h


def test_rate_limit_monitor_per_company_and_per_caller(admin_client, monitored):
    html = page(admin_client, RATE_LIMITS)
    assert stat(html, "limit-reached") == "1" and stat(html, "callers-today") == "2"
    assert row_cells(html, "company-usage", "Acme Learning") == [
        "Acme Learning", "3", "2", "1", "2 / 3", "66.7%", "Limit reached"
    ]  # fmt: skip
    assert row_cells(html, "user-usage", "Alice Analyst")[:6] == [
        "Alice Analyst (alice.analyst)", "Acme Learning", "2 / 3", "66.7%", "1", "Limit reached"
    ]  # fmt: skip
    calls = html[html.index('id="recent-calls"') :]
    assert "203.0.113.9" in calls and "Microsoft.Data.Mashup" in calls
    assert "00010000…" in html and "0001000000000000000000000000000" not in html


def test_clear_cache_deletes_the_chosen_companys_cache_rows(admin_client, site, monitored):
    add_cache_rows(site, [(monitored["acme"], "acme-1", 600), (monitored["acme"], "acme-2", -600),
                          (monitored["hostile"], "other-1", 600)])  # fmt: skip
    site._insert(site.tables.local_alxbridge_company, companyid=monitored["acme"], committed_version=NOW - 60)
    before = everything_but_the_cache(site)
    response = post_form(admin_client, ADVANCED, {"action": "clear_cache", "companyid": monitored["acme"]})
    assert response.status_code == 302
    html = page(admin_client, ADVANCED)
    assert "API cache cleared for Acme Learning: every answer cached so far is retired" in html
    assert "2 rows of the plugin&#39;s cache table deleted." in html
    assert cache_keys(site) == ["other-1"]
    assert cache_generations(site) == {monitored["acme"]: 1}
    response = post_form(admin_client, ADVANCED, {"action": "clear_cache", "companyid": "999999", "ajax": "1"})
    assert response.status_code == 400 and response.json["success"] is False and cache_keys(site) == ["other-1"]
    response = post_form(admin_client, ADVANCED, {"action": "clear_cache", "companyid": "", "ajax": "1"})
    assert response.json["success"] is True and response.json["deleted"] == 1
    assert response.json["message"].startswith("API cache cleared for all ")
    assert response.json["message"].endswith("; 1 row of the plugin's cache table deleted.")
    assert cache_keys(site) == []
    assert cache_generations(site) == {monitored["acme"]: 2}  # the other company was never synced: nothing cached
    assert everything_but_the_cache(site) == before
    site.empty(site.tables.local_alxbridge_company)


def test_the_unified_dashboard_clears_only_expired_cache_rows(admin_client, site, monitored):
    add_cache_rows(site, [(monitored["acme"], "fresh", 600), (monitored["acme"], "old-1", -1),
                          (monitored["hostile"], "old-2", -600)])  # fmt: skip
    html = page(admin_client, UNIFIED)
    assert (stat(html, "cache-entries"), stat(html, "cache-active-expired")) == ("3", "1 / 2")
    before = everything_but_the_cache(site)
    response = post_form(admin_client, UNIFIED, {"action": "clear_cache"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#database")
    assert "Cache cleared: 2 expired entries removed." in page(admin_client, UNIFIED)
    assert cache_keys(site) == ["fresh"]
    assert everything_but_the_cache(site) == before
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.local_alx_api_cache))


def test_unified_dashboard_sections_show_the_same_numbers(admin_client, monitored):
    html = page(admin_client, UNIFIED)
    for section in ("data-sync", "overview", "database", "api", "security"):
        assert f'id="{section}"' in html
    assert stat(html, "unified-calls-24h") == "5" and stat(html, "unified-violations") == "1"
    assert stat(html, "unified-success-rate") == "60.0%" and stat(html, "compliance") == "50.0%"
    assert stat(html, "unified-p95") == "300.0 ms" and stat(html, "unified-sync-status") == "Healthy"


def test_test_endpoints_answers_json_or_renders_the_results(admin_client, monitored):
    response = post_form(admin_client, ADVANCED, {"action": "test_endpoints", "ajax": "1"})
    assert response.status_code == 200 and response.json["success"] is True
    results = response.json["results"]
    assert [result["endpoint"] for result in results] == [
        "API service", "Companies", "Reporting table", "API tokens", "Response cache"
    ]  # fmt: skip
    assert all(set(result) == {"endpoint", "status", "response_time", "details"} for result in results)
    assert all(re.fullmatch(r"\d+\.\dms", result["response_time"]) for result in results)
    by_name = {result["endpoint"]: result for result in results}
    assert by_name["API service"]["status"] == "Active" and by_name["Companies"]["details"] == "2 companies found"
    assert by_name["API tokens"]["details"] == "2 active tokens configured"
    assert by_name["Response cache"]["status"] == "Active"
    html = post_form(admin_client, ADVANCED, {"action": "test_endpoints"}).get_data(as_text=True)
    assert 'id="probe-results"' in html and "2 companies found" in html


def test_names_and_messages_with_markup_are_escaped(admin_client, monitored):
    for url in PAGES:
        html = page(admin_client, url)
        assert XSS not in html, url
    assert ESCAPED in page(admin_client, f"{DASHBOARD}?tab=performance")  # company name, error message
    security = page(admin_client, f"{DASHBOARD}?tab=security")
    errors = security[security.index('id="recent-errors"') :]
    assert ESCAPED in errors[: errors.index("</table>")]
    alerts = security[security.index('id="recent-alerts"') :]
    assert ESCAPED in alerts[: alerts.index("</table>")]
    assert f"{ESCAPED} Hostile" in page(admin_client, RATE_LIMITS)
