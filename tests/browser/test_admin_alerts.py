"""Issue 22 in the browser: alert rules and channels, pending alerts, alert management, scheduler health."""

import re

import pytest

from alxbridge.plugin_settings import write_plugin_config

from .conftest import PREFIX, screenshot


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
