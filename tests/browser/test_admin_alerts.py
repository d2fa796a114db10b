"""Issue 22 in the browser: alert rules and channels, pending alerts, alert management, scheduler health."""

import json
import re
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
import sqlalchemy as sa

from alxbridge.alerts import check_alerts
from alxbridge.jobs.scheduler import build_scheduler
from alxbridge.moodle.plugin_settings import write_plugin_config
from alxbridge.moodle.siteconfig import site_timezone

from ..live_server import StandIn
from .conftest import PREFIX, screenshot
from .test_admin_journeys import company_with_token, progress_items


@pytest.fixture(scope="module", autouse=True)
def alerting_on(demo):
    _, _, app = demo
    database = app.extensions["alx_database"]
    with database.begin() as connection:
        write_plugin_config(connection, database.tables, {"enable_alerting": 1, "alert_threshold": "low"})


def pending_count(page):
    """The Control Center's "n alerts pending" as a number."""
    page.goto(f"{PREFIX}/control_center.php")
    text = page.inner_text("#alerts-pending-summary")
    return 0 if text == "No alerts pending" else int(re.match(r"(\d+) alerts? pending", text).group(1))


def send_test_alert(page, alert_type, severity):
    """Store an alert through test_alerts.php (threshold and cooldown bypassed); return its id."""
    page.goto(f"{PREFIX}/test_alerts.php")
    page.select_option("#alert_type", alert_type)
    page.select_option("#severity", severity)
    page.check("#bypass")
    page.click("#test-alert-form button[type=submit]")
    page.wait_for_url(f"**{PREFIX}/test_alerts.php")
    return int(re.search(r"Test alert stored \(ID (\d+)\)", page.inner_text("main")).group(1))


def pending_ids(page):
    page.goto(f"{PREFIX}/alert_history.php?status=pending&period=all")
    rows = page.query_selector_all("#alert-history tbody tr[id]")
    return [int(row.get_attribute("id").split("-")[1]) for row in rows]


def test_control_center_counts_pending_alerts_and_links_to_them(admin_page):  # issue 22 #4
    page, watcher = admin_page
    before = pending_count(page)
    critical = send_test_alert(page, "security", "critical")
    high = send_test_alert(page, "security", "high")
    assert pending_count(page) == before + 2
    page.click("#alerts-pending-link")
    page.wait_for_url(re.compile(r".*alert_history\.php\?status=pending&period=all$"))
    assert {critical, high} <= set(pending_ids(page))
    screenshot(page, "alerts_pending")
    assert watcher.problems == []


def test_acknowledged_and_resolved_alerts_leave_the_pending_list(admin_page):  # issue 22 #5
    page, watcher = admin_page
    first = send_test_alert(page, "security", "medium")
    second = send_test_alert(page, "security", "low")
    before = pending_count(page)
    page.goto(f"{PREFIX}/alert_history.php?status=pending&period=all")
    page.click(f"#resolve-{first}")
    page.wait_for_url(re.compile(r".*alert_history\.php.*status=pending.*"))
    assert f"Alert {first} resolved." in page.inner_text("main")
    page.click(f"#acknowledge-{second}")
    page.wait_for_url(re.compile(r".*alert_history\.php.*status=pending.*"))
    ids = pending_ids(page)
    assert first not in ids and second not in ids
    assert pending_count(page) == before - 2
    page.goto(f"{PREFIX}/alert_history.php?status=resolved&period=24h&alert_type=security")
    assert page.get_attribute(f"#alert-{first}", "data-status") == "resolved"
    assert "resolved by" in page.inner_text(f"#alert-{first}")
    page.goto(f"{PREFIX}/alert_history.php?status=acknowledged&severity=low")
    assert page.get_attribute(f"#alert-{second}", "data-status") == "acknowledged"
    screenshot(page, "alert_history_filtered")
    assert watcher.problems == []


class SlackStandIn(BaseHTTPRequestHandler):
    posts: ClassVar[list] = []  # (path, JSON body)
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            SlackStandIn.posts.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def failing_call(base_url, token):
    """A call the API refuses with ``invalidlimit`` (``limit=0``): logged, with its error."""
    query = f"wstoken={token}&wsfunction=local_alx_report_api_get_course_progress&moodlewsrestformat=json&limit=0"
    with urllib.request.urlopen(f"{base_url}/webservice/rest/server.php?{query}", timeout=30) as response:  # noqa: S310
        assert json.loads(response.read())["errorcode"] == "invalidlimit"


def calls_in_the_last_hour(app):
    """``(calls, errors)`` of the API log's last hour, before the test's own calls."""
    database = app.extensions["alx_database"]
    logs = database.tables.local_alx_api_logs
    failed = sa.and_(logs.c.error_message.is_not(None), logs.c.error_message != "")
    with database.connect() as connection:
        calls, errors = connection.execute(
            sa.select(sa.func.count(), sa.func.count(sa.case((failed, 1))))
            .where(logs.c.timeaccessed >= database.now() - 3600)
        ).one()  # fmt: skip
    return calls, errors


def test_error_rate_rule_raises_an_alert_posted_to_slack(admin_page, demo):  # issue 22 #3
    page, watcher = admin_page
    base_url, _, app = demo
    SlackStandIn.posts = []
    with StandIn(SlackStandIn) as slack:
        page.goto(f"{PREFIX}/control_center.php?tab=settings")
        page.fill("#error_rate_threshold", "15")
        page.fill("#slack_webhook_url", f"{slack.url}/services/T1/B1/secret")
        page.click("#save-config")
        page.wait_for_url(f"**{PREFIX}/control_center.php?tab=settings")
        assert "High Error Rate Alert (%): 5 → 15" in page.inner_text("main")
        assert "Slack webhook: (none) → new address" in page.inner_text("main")
        assert "secret" not in page.content()

        before_calls, before_errors = calls_in_the_last_hour(app)
        _, token = company_with_token(demo)
        for _ in range(7):
            progress_items(base_url, token)
        for _ in range(3):
            failing_call(base_url, token)
        calls, errors = before_calls + 10, before_errors + 3
        rate = round(100 * errors / calls, 1)  # 30.0 % on a site without earlier calls this hour
        database = app.extensions["alx_database"]
        check_alerts(database, site_url=base_url, timezone=app.config["ALX_TIMEZONE"])

        page.goto(f"{PREFIX}/alert_history.php?alert_type=performance&status=pending&severity=high")
        expected = f"High error rate: {rate}% of the last hour's calls failed ({errors} of {calls}; alert above 15%)"
        assert expected in page.inner_text("#alert-history")
        [(path, body)] = [post for post in SlackStandIn.posts if "High error rate" in post[1]["text"]]
        assert path == "/services/T1/B1/secret" and expected in body["text"]

        page.goto(f"{PREFIX}/test_alerts.php")
        page.click("#channel-test-slack button")
        page.wait_for_url(f"**{PREFIX}/test_alerts.php")
        assert "Test message posted to Slack." in page.inner_text("main")
        assert "TEST alert" in SlackStandIn.posts[-1][1]["text"]
    screenshot(page, "alert_rules_slack")
    assert watcher.problems == []


SCHEDULER_SENTENCES = {
    "control_center.php": "#scheduler-health",
    "monitoring_dashboard_new.php": "#scheduler-health",
    "auto_sync_status.php": "#scheduler-health",
    "unified_monitoring_dashboard.php": "#unified-scheduler-health",
}


def next_hourly_syncs(app):
    """The next hour in the site's timezone, as HH:MM (two values when the hour may turn during the test)."""
    database = app.extensions["alx_database"]
    with database.connect() as connection:
        zone = site_timezone(connection, database.tables, app.config["ALX_TIMEZONE"])
    now = datetime.fromtimestamp(database.now(), zone)
    nexts = {(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).strftime("%H:%M")}
    later = now + timedelta(minutes=2)
    nexts.add((later.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).strftime("%H:%M"))
    return zone, nexts


def scheduler_readings(page):
    readings = {}
    for path, selector in SCHEDULER_SENTENCES.items():
        page.goto(f"{PREFIX}/{path}")
        readings[path] = (page.get_attribute(selector, "data-status"), " ".join(page.inner_text(selector).split()))
    return readings


def test_every_page_tells_the_same_scheduler_state_in_the_site_timezone(admin_page, demo):  # issue 22 #12
    page, watcher = admin_page
    _, _, app = demo
    readings = scheduler_readings(page)  # the demo was synced from the command line; no scheduler has run
    assert {status for status, _ in readings.values()} == {"Not running"}
    assert all("it has never started" in text for _, text in readings.values())
    page.goto(f"{PREFIX}/monitoring_dashboard_new.php")
    assert page.inner_text("#sync-status") == "Not scheduled"  # was "Healthy" beside "never started"

    scheduler = build_scheduler(app)
    scheduler.start(paused=True)  # it records its start; no job runs while paused
    try:
        zone, nexts = next_hourly_syncs(app)
        readings = scheduler_readings(page)
    finally:
        scheduler.shutdown(wait=False)
    assert {status for status, _ in readings.values()} == {"Running"}
    for path, (_, text) in readings.items():
        assert f"Times in {zone}." in text, path
        assert re.search(r"next hourly sync (\d\d:\d\d)\.", text).group(1) in nexts, path
    page.goto(f"{PREFIX}/auto_sync_status.php")
    assert page.inner_text("#next-sync") in nexts and page.inner_text("#task-status") == "First run due"
    assert f"hourly, at minute 0 ({zone})" in page.inner_text("#sync-cards")
    screenshot(page, "scheduler_health")
    assert watcher.problems == []
