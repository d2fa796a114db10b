"""``test_email_alert.php`` and ``test_alerts.php`` against a real SMTP server (aiosmtpd on a local port)."""

import email
import email.policy
import platform

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from ..test_alerts import Inbox, free_port
from .support import PREFIX, XSS, csrf_token

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
EMAIL_URL = f"{PREFIX}/test_email_alert.php"
ALERTS_URL = f"{PREFIX}/test_alerts.php"


@pytest.fixture(autouse=True)
def clean(site):
    """No alerts and no plugin settings before each test (alerting off, no recipients)."""
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.local_alx_api_alerts))
        connection.execute(sa.delete(site.tables.config_plugins))


@pytest.fixture
def smtp(app, monkeypatch):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "ALX_SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    yield inbox
    controller.stop()


def stored(site):
    alerts = site.tables.local_alx_api_alerts
    with site.database.connect() as connection:
        return connection.execute(sa.select(alerts).order_by(alerts.c.id)).all()


def post(client, url, data):
    """POST with the page's CSRF token; return the page the redirect leads to (with the flashed lines)."""
    html = client.get(url).get_data(as_text=True)
    response = client.post(url, data={**data, "csrf_token": csrf_token(html)})
    assert response.status_code == 302 and response.headers["Location"].endswith(url.rsplit("/", 1)[1])
    return client.get(url).get_data(as_text=True)


def messages(inbox):
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in inbox.messages]


def recipients(site, value="ops@example.com, not an address, boss@example.org"):
    site.plugin_config("alert_emails", value)


def test_the_status_banner_follows_the_settings(admin_client, site):
    body = admin_client.get(EMAIL_URL).get_data(as_text=True)
    assert "Alert System Disabled" in body and "No mail server is set up for the bridge" in body
    assert "docs/operations.md" in body and "ALX_SMTP_URL is not set" not in body
    site.plugin_config("enable_alerting", 1)
    assert "No Recipients Configured" in admin_client.get(EMAIL_URL).get_data(as_text=True)
    recipients(site)
    body = admin_client.get(EMAIL_URL).get_data(as_text=True)
    assert "Recipients: ops@example.com, boss@example.org" in body and "not an address" not in body


def test_the_test_email_reaches_every_recipient_whatever_the_switches_say(admin_client, site, smtp):
    recipients(site)  # alerting and e-mail alerts stay off: the plugin's test ignores them
    body = post(admin_client, EMAIL_URL, {"send_test": "1"})
    assert sorted(rcpt for m in smtp.messages for rcpt in m.rcpt_tos) == ["boss@example.org", "ops@example.com"]
    for message in messages(smtp):
        assert message["Subject"] == "[ALX Report API] 🟡 Medium Alert: Performance"
        text = message.get_body(("plain",)).get_content()
        assert text.startswith("This is a TEST alert from ALX Report API.")
        assert "triggered_by: Ada Admin" in text and "System: http://localhost" in text
        assert platform.uname().release not in message.as_string() and platform.uname().version not in text
    [alert] = stored(site)
    assert (alert.alert_type, alert.severity, alert.hostname) == ("performance", "medium", "http://localhost")
    assert f"Test alert stored (ID {alert.id}): medium performance." in body
    assert "✅ Sent to ops@example.com." in body and "✅ Sent to boss@example.org." in body


def test_without_a_mail_server_the_alert_is_stored_and_the_page_says_why_no_mail_went_out(admin_client, site):
    recipients(site)
    body = post(admin_client, EMAIL_URL, {"send_test": "1"})
    assert len(stored(site)) == 1
    assert "No e-mail was sent: no mail server is set up for the bridge, so alerts are stored and shown" in body


def test_an_unreachable_mail_server_is_reported_per_recipient(admin_client, site, app, monkeypatch):
    recipients(site, "ops@example.com")
    monkeypatch.setitem(app.config, "ALX_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    body = post(admin_client, EMAIL_URL, {"send_test": "1"})
    assert "❌ Not sent to ops@example.com: SMTP server 127.0.0.1" in body and len(stored(site)) == 1


def test_typed_alerts_honour_the_alerting_switch(admin_client, site, smtp):
    recipients(site)
    body = post(admin_client, ALERTS_URL, {"action": "send_test", "alert_type": "security", "severity": "high"})
    assert "No alert was stored or sent: alerting is disabled (enable_alerting)." in body
    assert stored(site) == [] and smtp.messages == []


def test_typed_alerts_honour_the_threshold_unless_bypassed(admin_client, site):
    site.plugin_config("enable_alerting", 1)
    site.plugin_config("alert_threshold", "high")
    body = post(admin_client, ALERTS_URL, {"action": "send_test", "alert_type": "health", "severity": "medium"})
    assert "medium is below the alert threshold (high)" in body and stored(site) == []
    post(admin_client, ALERTS_URL, {"action": "send_test", "alert_type": "health", "severity": "medium", "bypass": "1"})
    assert [(a.alert_type, a.severity) for a in stored(site)] == [("health", "medium")]


def test_typed_alerts_honour_the_cooldown_unless_bypassed(admin_client, site):
    site.plugin_config("enable_alerting", 1)
    site.plugin_config("alert_cooldown", 30)
    data = {"action": "send_test", "alert_type": "security", "severity": "high"}
    post(admin_client, ALERTS_URL, data)
    body = post(admin_client, ALERTS_URL, data)
    assert "a high security test alert was stored less than 30 minutes ago (alert_cooldown)" in body
    assert len(stored(site)) == 1
    post(admin_client, ALERTS_URL, {**data, "severity": "critical"})  # another severity is another alert
    post(admin_client, ALERTS_URL, {**data, "bypass": "1"})
    assert [a.severity for a in stored(site)] == ["high", "critical", "high"]


def test_typed_alerts_are_mailed_only_with_email_alerts_on_and_keep_underscores(admin_client, site, smtp):
    site.plugin_config("enable_alerting", 1)
    recipients(site, "ops@example.com")
    data = {"action": "send_test", "alert_type": "rate_limit", "severity": "high", "bypass": "1"}
    body = post(admin_client, ALERTS_URL, data)
    assert "No e-mail was sent: e-mail alerts are disabled (enable_email_alerts)." in body and smtp.messages == []
    site.plugin_config("enable_email_alerts", 1)
    post(admin_client, ALERTS_URL, data)
    [message] = messages(smtp)
    assert message["Subject"] == "[ALX Report API] 🟠 High Alert: Rate_limit"
    assert [a.alert_type for a in stored(site)] == ["rate_limit", "rate_limit"]


@pytest.mark.parametrize(
    "data",
    [
        {"action": "send_test", "alert_type": "ratelimit", "severity": "high"},
        {"action": "send_test", "alert_type": "health", "severity": "urgent"},
        {"action": "sendtest", "alert_type": "health", "severity": "high"},
    ],
)
def test_unknown_types_severities_and_actions_store_nothing(admin_client, site, data):
    site.plugin_config("enable_alerting", 1)
    body = post(admin_client, ALERTS_URL, data)
    assert ("Choose an alert type" in body or "Unknown action" in body) and stored(site) == []


def test_the_last_ten_alerts_are_listed_escaped(admin_client, site):
    alerts = site.tables.local_alx_api_alerts
    with site.database.begin() as connection:
        connection.execute(alerts.insert(), [
            dict(alert_type="health", severity="low", message=f"old {n}", alert_data="{}", hostname="h",
                 timecreated=site.now - 1000 + n, resolved=0) for n in range(11)
        ])  # fmt: skip
        connection.execute(alerts.insert().values(alert_type=XSS, severity="high", message=XSS, alert_data="{}",
                                                  hostname="h", timecreated=site.now, resolved=1))  # fmt: skip
    for url in (EMAIL_URL, ALERTS_URL):
        body = admin_client.get(url).get_data(as_text=True)
        assert XSS not in body and body.count(ESCAPED) == 2
        assert "old 10" in body and "old 2" in body and "old 1<" not in body and "old 0<" not in body
