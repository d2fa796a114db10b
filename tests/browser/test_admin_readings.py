"""Issue 22 in the browser: what the audit found missing or misread, checked on the demo site after a sync."""

import json
import re
import urllib.request

import sqlalchemy as sa

from .conftest import PREFIX, screenshot
from .test_admin_journeys import company_with_token, progress_items

SERVER = "/webservice/rest/server.php"


def refused_call(base_url, token):
    query = f"wstoken={token}&wsfunction=local_alx_report_api_get_course_progress&moodlewsrestformat=json"
    with urllib.request.urlopen(f"{base_url}{SERVER}?{query}", timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def number(page, selector):
    return int(page.inner_text(selector).strip())


def last_cache_outcome(app):
    """``cache_hit`` of the newest API log row."""
    database = app.extensions["alx_database"]
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        data = connection.execute(sa.select(logs.c.additional_data).order_by(logs.c.id.desc()).limit(1)).scalar()
    return json.loads(data)["cache_hit"]


def test_bad_token_calls_appear_as_failed_auth_and_refused_tokens(admin_page, demo):  # issue 22 #1
    page, watcher = admin_page
    base_url, _, _ = demo
    page.goto(f"{PREFIX}/monitoring_dashboard_new.php?tab=security")
    failed, refused = number(page, "#failed-auth"), number(page, "#refused-failed-auth")
    for n in range(3):
        assert refused_call(base_url, f"not-a-token-{n:020d}")["errorcode"] == "invalidtoken"
    page.reload()
    assert number(page, "#failed-auth") == failed + 3
    assert number(page, "#refused-failed-auth") == refused + 3
    assert "invalid token" in page.inner_text("#token-violations")
    page.goto(f"{PREFIX}/check_rate_limit.php")
    assert number(page, "#refused-failed-auth") == refused + 3
    screenshot(page, "refused_calls")
    assert watcher.problems == []


def test_a_company_limit_above_127_is_saved_and_shown(admin_page, demo):  # issue 22 #13
    page, watcher = admin_page
    companyid, _ = company_with_token(demo)
    page.goto(f"{PREFIX}/company_settings.php?companyid={companyid}")
    page.fill("#rate_limit", "500")
    page.click("#save-settings")
    page.wait_for_load_state()
    page.goto(f"{PREFIX}/company_settings.php?companyid={companyid}")
    assert page.input_value("#rate_limit") == "500"
    assert watcher.problems == []


def test_clear_api_cache_makes_the_next_call_read_the_table(admin_page, demo):  # issue 22 #14
    page, watcher = admin_page
    base_url, _, app = demo
    companyid, token = company_with_token(demo)
    progress_items(base_url, token)
    progress_items(base_url, token)
    assert last_cache_outcome(app) is True  # the same page again: served from the cache
    page.goto(f"{PREFIX}/advanced_monitoring.php")
    page.select_option("#cache-company", str(companyid))
    page.evaluate("document.getElementById('clear-cache-form').submit()")  # past the confirmation dialog
    # The form's answer redirects to the page with its window: a URL the page is not at yet (a wait for the page's
    # own URL returned before the POST ran).
    page.wait_for_url(re.compile(r".*advanced_monitoring\.php\?window=.*"))
    assert "every answer cached so far is retired" in page.inner_text("body")
    progress_items(base_url, token)
    assert last_cache_outcome(app) is False  # the cleared entry is no longer served
    progress_items(base_url, token)
    assert last_cache_outcome(app) is True
    assert watcher.problems == []


def test_control_center_response_time_reads_in_milliseconds(admin_page, demo):  # issue 22 #10
    page, watcher = admin_page
    page.goto(f"{PREFIX}/control_center.php")
    text = page.inner_text("#api-response-time")
    assert re.fullmatch(r"\d+\.\d ms avg", text), text
    assert "0.00 s" not in text
    assert watcher.problems == []


def test_unknown_company_and_mail_server_messages(browser, admin_page, demo):  # issue 22 #15
    page, _ = admin_page
    response = page.goto(f"{PREFIX}/company_settings.php?companyid=999")
    assert response.status == 404
    assert "There is no company with ID 999" in page.inner_text("#unknown-company")
    page.goto(f"{PREFIX}/test_email_alert.php")
    status = page.inner_text("#mail-status")
    assert "No mail server is set up for the bridge" in status and "docs/operations.md" in status


def test_chart_colours_follow_meaning(admin_page, demo):  # issue 22 #11
    page, watcher = admin_page
    page.goto(f"{PREFIX}/advanced_monitoring.php")
    colours = page.evaluate(
        "Object.fromEntries(Chart.getChart('request-flow').data.datasets.map(d => [d.label, d.borderColor]))"
    )
    assert colours == {"Incoming": "#0f6cbf", "Successful": "#198754", "Errors": "#dc3545"}
    page.goto(f"{PREFIX}/control_center.php")
    slices = page.evaluate("Chart.getChart('security-score-chart').data.datasets[0].backgroundColor")
    assert slices == ["#198754", "#dee2e6"]  # the score green, the unused part grey
    assert watcher.problems == []
