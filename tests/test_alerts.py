"""The 15-minute alert check: the plugin's alert types under its settings, with its bugs fixed.

Mail goes to a real SMTP server (aiosmtpd) that the test starts on a free local port.
"""

import email
import email.policy
import json
import socket

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from alxbridge.alerts import check_alerts

from .sitebuilder import Clock, SiteBuilder


@pytest.fixture(scope="module")
def site(database):
    site = SiteBuilder(database, Clock()).create_tables()
    site.company_ids = {name: site.company(name) for name in ("Acme", "Strict")}
    site.people = {}
    for name, company in (("Ada", "Acme"), ("Bob", "Acme"), ("Cy", "Acme"), ("Di", "Strict")):
        site.people[name] = site.user(name, companies=[site.company_ids[company]])
    site.core_config("enablewebservices", 1)
    site.api_service()
    return site


@pytest.fixture(autouse=True)
def healthy_site_with_alerting_on(site):
    """Each test starts from a healthy site, alerting on, no alerts, no API calls, no sync runs."""
    tables = site.tables
    site.empty(tables.local_alx_api_alerts, tables.local_alx_api_logs, tables.local_alxbridge_sync_run,
               tables.config_plugins, tables.local_alx_api_settings)  # fmt: skip
    site.core_config("enablewebservices", 1)
    site.plugin_config("enable_alerting", 1)
    site.clock.advance(86400)


def check(site, **options):
    return check_alerts(site.database, site_url="https://moodle.example.com", **options)


def alerts(site):
    table = site.tables.local_alx_api_alerts
    with site.database.connect() as connection:
        return connection.execute(sa.select(table).order_by(table.c.id)).all()


def calls(site, person, count, error=None):
    for _ in range(count):
        site.api_call(site.people[person], at=site.now - 60, error=error)


def test_nothing_is_stored_when_alerting_is_not_enabled(site):
    """Absent ``enable_alerting`` means off, as in the plugin's code."""
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.config_plugins))
    site.core_config("enablewebservices", 0)
    result = check(site)
    assert result.skipped_because == "alerting is disabled (enable_alerting)" and alerts(site) == []


def test_a_fresh_install_with_an_empty_reporting_table_raises_no_critical_alert(site):
    """B21: the plugin called an empty table 0 % data quality and alerted critical every hour."""
    result = check(site)
    assert result.raised == [] and alerts(site) == []


def test_an_unhealthy_site_raises_a_critical_alert_that_resolves_when_fixed(site):
    site.core_config("enablewebservices", 0)
    result = check(site)
    [alert] = alerts(site)
    assert (alert.alert_type, alert.severity, alert.resolved) == ("health", "critical", 0)
    assert alert.hostname == "https://moodle.example.com" and result.raised[0][0] == alert.id
    data = json.loads(alert.alert_data)
    assert data["subject"] == "site" and data["checks"]["webservices"]["status"] == "error"

    site.core_config("enablewebservices", 1)
    site.clock.advance(900)
    result = check(site)
    assert result.resolved == 1 and alerts(site)[0].resolved == 1


def test_the_health_score_threshold_setting_is_honoured(site):
    """B26: the plugin hard-coded 70 and ignored health_score_threshold."""
    site.plugin_config("rate_limit", 5000)  # a configuration warning: score 90
    check(site)
    assert alerts(site) == []
    site.plugin_config("health_score_threshold", 95)
    check(site)
    [alert] = alerts(site)
    assert (alert.alert_type, alert.severity) == ("health", "medium") and "score 90/100" in alert.message


def test_each_user_over_the_limit_gets_an_alert_and_a_cooldown_of_their_own(site):
    """B25: the plugin's cooldown per (type, severity) let the first violator silence everyone else."""
    site.plugin_config("rate_limit", 5)
    calls(site, "Ada", 5)
    calls(site, "Bob", 6)
    calls(site, "Cy", 2)
    check(site)
    assert [(a.alert_type, a.severity, json.loads(a.alert_data)["user_id"]) for a in alerts(site)] == [
        ("rate_limit", "high", site.people["Ada"]),
        ("rate_limit", "high", site.people["Bob"]),
    ]
    site.clock.advance(900)
    calls(site, "Cy", 3)
    check(site)  # Ada and Bob cool down; Cy is a new subject
    assert [json.loads(a.alert_data)["user_id"] for a in alerts(site)][2:] == [site.people["Cy"]]


def test_the_company_limit_counts_and_zero_means_unlimited(site):
    """B16: alerts use the limit the web service enforces: the company's, else the global one (0 = none)."""
    site.plugin_config("rate_limit", 0)
    site.company_setting(site.company_ids["Strict"], "rate_limit", 3)
    calls(site, "Ada", 50)
    calls(site, "Di", 3)
    check(site)
    [alert] = alerts(site)
    assert json.loads(alert.alert_data) == {
        "user_id": site.people["Di"],
        "requests_today": 3,
        "daily_limit": 3,
        "subject": f"user:{site.people['Di']}",
    }
    assert alert.message == "Di Tester reached the daily API limit: 3 of 3 requests today"


def test_high_api_usage_uses_its_threshold_and_resolves_when_usage_drops(site):
    site.plugin_config("high_api_usage_threshold", 10)
    calls(site, "Ada", 11)
    check(site)
    [alert] = alerts(site)
    assert (alert.alert_type, alert.severity, alert.resolved) == ("performance", "medium", 0)
    site.clock.advance(3600)
    check(site)
    assert alerts(site)[0].resolved == 1


def test_severities_below_the_alert_threshold_are_not_stored(site):
    site.plugin_config("high_api_usage_threshold", 10)
    site.plugin_config("alert_threshold", "high")
    calls(site, "Ada", 11)
    check(site)
    assert alerts(site) == []


def test_repeated_errors_of_a_user_raise_a_performance_alert(site):
    calls(site, "Bob", 3, error="Error reading from database: timeout")
    calls(site, "Cy", 2, error="Invalid parameter value detected")
    check(site)
    [alert] = alerts(site)
    assert (alert.alert_type, alert.severity) == ("performance", "high")
    assert json.loads(alert.alert_data)["subject"] == f"user:{site.people['Bob']}:get_course_progress"


def test_a_failed_sync_run_raises_a_sync_alert(site):
    runs = site.tables.local_alxbridge_sync_run
    with site.database.begin() as connection:
        connection.execute(
            sa.insert(runs).values(
                mode="auto", origin="scheduler", status="failed", host="h", timestarted=site.now - 60,
                timefinished=site.now - 30, companies_failed=1, message="company 3 (injected failure)",
            )
        )  # fmt: skip
    check(site)
    [alert] = alerts(site)
    assert (alert.alert_type, alert.severity) == ("sync", "high") and "injected failure" in alert.message


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield f"smtp://127.0.0.1:{controller.port}", inbox
    controller.stop()


def test_alerts_are_mailed_to_each_valid_recipient(site, smtp):
    url, inbox = smtp
    site.plugin_config("enable_email_alerts", 1)
    site.plugin_config("alert_emails", "ops@example.com, not an address, ops@example.com,,boss@example.org ")
    site.core_config("noreplyaddress", "noreply@moodle.example.com")
    site.core_config("enablewebservices", 0)
    result = check(site, smtp_url=url)
    assert result.mailed == 2 and result.mail_failures == []
    assert sorted(rcpt for m in inbox.messages for rcpt in m.rcpt_tos) == ["boss@example.org", "ops@example.com"]
    message = email.message_from_bytes(inbox.messages[0].content, policy=email.policy.default)
    assert message["Subject"] == "[ALX Report API] 🔴 Critical Alert: Health"
    assert inbox.messages[0].mail_from == "noreply@moodle.example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("System health unhealthy: score 80/100")
    assert "https://moodle.example.com/local/alx_report_api/advanced_monitoring.php" in html


def test_an_unreachable_mail_server_is_reported_and_the_command_exits_one(site, runner):
    site.plugin_config("enable_email_alerts", 1)
    site.plugin_config("alert_emails", "ops@example.com")
    site.core_config("enablewebservices", 0)
    url = f"smtp://127.0.0.1:{free_port()}"
    runner.app.config["ALX_SMTP_URL"] = url
    try:
        result = runner.invoke(args=["alx", "check-alerts"])
    finally:
        runner.app.config["ALX_SMTP_URL"] = None
    assert result.exit_code == 1, result.output
    assert "alert" in result.output and "e-mail failed: SMTP server 127.0.0.1" in result.output
    assert len(alerts(site)) == 1  # stored even though it could not be mailed
