"""Issue 22 #2, #4, #6, #7 in the browser, on the synced demo site: each figure against a value computed here
from the database the bridge serves, or an action carried through to the page that shows its effect."""

import json
import re
import urllib.request

import pytest
import sqlalchemy as sa

from alxbridge.metrics.moment import Moment

from .conftest import PREFIX, screenshot
from .test_admin_journeys import company_with_token, progress_items

SERVER = "/webservice/rest/server.php"
PROGRESS = "local_alx_report_api_get_course_progress"
SYNC_MODES = ("auto", "incremental", "full", "disabled")


def ws_call(base_url, token, **params):
    query = "&".join(f"{name}={value}" for name, value in params.items())
    url = f"{base_url}{SERVER}?wstoken={token}&wsfunction={PROGRESS}&moodlewsrestformat=json&{query}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture
def caller(demo):
    """``(base_url, companyid, token)``: the live bridge and the demo company the tests call the API as."""
    companyid, token = company_with_token(demo)
    return demo[0], companyid, token


def row_cells(page, row_id):
    return [cell.strip() for cell in page.locator(f"#{row_id} td").all_inner_texts()]


def percent_text(part, whole):
    """The pages' one-decimal percent (``—`` with nothing to divide by)."""
    return f"{round(100 * part / whole, 1):.1f}%" if whole else "—"


def todays_calls(app):
    """``(calls, errors, cache lookups, cache hits)`` of today's log rows, read straight from the table."""
    database = app.extensions["alx_database"]
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        moment = Moment.of(connection, database.tables, database.now(), app.config.get("ALX_TIMEZONE"))
        rows = connection.execute(
            sa.select(logs.c.error_message, logs.c.additional_data).where(
                logs.c.timeaccessed >= moment.midnight, logs.c.timeaccessed <= moment.now
            )
        ).all()
    details = [json.loads(data) if data else {} for _, data in rows]
    lookups = [d for d in details if "cache_hit" in d and d.get("mode") != "live"]
    return (
        len(rows),
        sum(1 for message, _ in rows if message),
        len(lookups),
        sum(d["cache_hit"] is True for d in lookups),
    )


def test_control_center_shows_todays_cache_hit_rate_and_error_rate(admin_page, demo, caller):  # issue 22 #4
    page, watcher = admin_page
    base_url, _, token = caller
    progress_items(base_url, token)
    progress_items(base_url, token)  # the same page again: a cache hit
    assert ws_call(base_url, token, limit=100000)["errorcode"] == "limittoolarge"  # a failed call
    calls, errors, lookups, hits = todays_calls(demo[2])
    assert errors >= 1 and hits >= 1
    page.goto(f"{PREFIX}/control_center.php")
    assert page.inner_text("#cache-hit-rate-today").strip() == percent_text(hits, lookups)
    assert page.inner_text("#error-rate-today").strip() == percent_text(errors, calls)
    screenshot(page, "control_center_rates")
    assert watcher.problems == []


def test_error_analysis_counts_each_kind_of_error(admin_page, caller):  # issue 22 #2
    page, watcher = admin_page
    base_url, _, token = caller
    page.goto(f"{PREFIX}/advanced_monitoring.php?window=24h")
    access = int(row_cells(page, "errors-invalid-token-or-access")[1])
    parameter = int(row_cells(page, "errors-invalid-parameter")[1])
    for n in range(2):
        assert ws_call(base_url, f"no-such-token-{n:018d}", limit=10)["errorcode"] == "invalidtoken"
    assert ws_call(base_url, token, limit=100000)["errorcode"] == "limittoolarge"
    page.reload()
    assert int(row_cells(page, "errors-invalid-token-or-access")[1]) == access + 2
    assert int(row_cells(page, "errors-invalid-parameter")[1]) == parameter + 1
    rows = [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in page.locator("#error-analysis tbody tr").all()]  # fmt: skip
    total = sum(int(cells[1]) for cells in rows)
    assert [cells[2] for cells in rows] == [percent_text(int(cells[1]), total) for cells in rows]
    screenshot(page, "error_analysis")
    assert watcher.problems == []


def test_company_usage_breakdown_shares_the_calls(admin_page, caller):  # issue 22 #2
    page, watcher = admin_page
    base_url, companyid, token = caller
    page.goto(f"{PREFIX}/advanced_monitoring.php?window=7d")
    before = (
        int(row_cells(page, f"share-company-{companyid}")[1])
        if page.locator(f"#share-company-{companyid}").count()
        else 0
    )
    for _ in range(3):
        progress_items(base_url, token)
    page.reload()
    _, calls, share = row_cells(page, f"share-company-{companyid}")
    assert int(calls) == before + 3
    shares = page.locator("#company-shares tbody tr td:nth-child(2)").all_inner_texts()
    total = sum(int(value) for value in shares)
    assert int(page.inner_text("#company-shares-total")) == total  # every call of the window is in some row
    assert share == percent_text(int(calls), total)
    assert watcher.problems == []


def stored_sync_modes(app):
    """``{mode: companies}`` from the plugin's settings table: a company without a row is auto."""
    database = app.extensions["alx_database"]
    tables = database.tables
    settings = tables.local_alx_api_settings
    with database.connect() as connection:
        companies = connection.execute(sa.select(tables.company.c.id)).scalars().all()
        modes = dict(
            connection.execute(
                sa.select(settings.c.companyid, settings.c.setting_value).where(settings.c.setting_name == "sync_mode")
            ).all()
        )
    counts = dict.fromkeys(SYNC_MODES, 0)
    for companyid in companies:
        value = modes.get(companyid, 0)
        counts[SYNC_MODES[value] if 0 <= value < len(SYNC_MODES) else "auto"] += 1
    return counts


def test_sync_modes_follow_a_company_setting_and_efficiency_counts_a_full_read(admin_page, demo, caller):  # issue 22 #6
    page, watcher = admin_page
    base_url, companyid, token = caller
    page.goto(f"{PREFIX}/company_settings.php?companyid={companyid}")
    previous = page.input_value("#sync_mode")
    page.select_option("#sync_mode", "2")  # Always full
    page.click("#save-settings")
    page.wait_for_load_state()
    try:
        page.goto(f"{PREFIX}/auto_sync_status.php")
        expected = stored_sync_modes(demo[2])
        assert expected["full"] >= 1
        for mode in SYNC_MODES:
            assert row_cells(page, f"sync-mode-{mode}")[1:] == [
                str(expected[mode]), percent_text(expected[mode], sum(expected.values()))
            ]  # fmt: skip
        sent, full = int(page.inner_text("#efficiency-rows-sent")), int(page.inner_text("#efficiency-full-rows"))
        items = progress_items(base_url, token)  # a full read: what it sends is what a full answer sends
        assert items
        page.reload()
        assert int(page.inner_text("#efficiency-rows-sent")) == sent + len(items)
        assert int(page.inner_text("#efficiency-full-rows")) == full + len(items)
        sent, full = sent + len(items), full + len(items)
        reduction = f"{round(100 * (full - sent) / full, 1):.1f}%"
        assert page.inner_text("#efficiency-reduction").strip() == reduction
        screenshot(page, "sync_intelligence")
    finally:
        page.goto(f"{PREFIX}/company_settings.php?companyid={companyid}")
        page.select_option("#sync_mode", previous)
        page.click("#save-settings")
        page.wait_for_load_state()
    assert watcher.problems == []


def test_system_health_reports_rows_and_a_missing_index_until_fixed(admin_page, demo):  # issue 22 #7
    page, watcher = admin_page
    _, _, app = demo
    database = app.extensions["alx_database"]
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(logs)).scalar()
    page.goto(f"{PREFIX}/monitoring_dashboard.php")
    cells = row_cells(page, "table-local_alx_api_logs")
    assert cells[2] == str(rows)
    assert re.fullmatch(r"[\d.]+ (KiB|MiB|GiB)", cells[3])  # the server's catalog, not "not available"
    assert page.inner_text("#index-health").strip() == "OK"
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    assert f"of {total / 1024 / 1024:.1f} GiB" in page.inner_text("#host-cards")

    index = next(i for i in logs.indexes if [c.name for c in i.columns] == ["endpoint"])
    with database.begin() as connection:
        index.drop(connection)
    page.reload()
    assert row_cells(page, "table-local_alx_api_logs")[7].startswith("1 missing")
    assert page.inner_text("#index-health").strip() == "1 table(s) need repair"
    screenshot(page, "system_health_missing_index")
    page.click("#size-source a")  # Fix missing tables
    page.wait_for_url(re.compile(r".*fix_missing_tables\.php$"))
    # The page is already at that URL: wait for the form's own POST, not for the URL.
    with page.expect_response(
        lambda response: response.request.method == "POST" and "fix_missing_tables" in response.url
    ):
        page.evaluate("document.getElementById('create-tables-form').submit()")  # past the confirmation dialog
    page.wait_for_load_state()
    page.goto(f"{PREFIX}/monitoring_dashboard_new.php?tab=health")
    assert page.inner_text("#index-health").strip() == "OK"
    assert row_cells(page, "table-local_alx_api_logs")[7] == "OK"
    assert watcher.problems == []
