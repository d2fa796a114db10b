"""Alert rule thresholds and chat webhooks on System Configuration; the channel test on test_alerts.php."""

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
import sqlalchemy as sa

from ..live_server import StandIn
from .form_support import submit
from .support import PREFIX, post_form
from .test_control_center_forms import plugin_config

SETTINGS = "/control_center.php?tab=settings"
SECRET = "/services/T0/B0/very-secret-path"


@pytest.fixture(autouse=True)
def clean(site):
    yield
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.config_plugins))


def test_rule_thresholds_are_saved_with_the_plugin_s_names(admin_client, site):
    response = submit(admin_client, SETTINGS, "config-form", {
        "response_time_warning_threshold": "1500", "response_time_critical_threshold": "4000",
        "error_rate_threshold": "2", "success_rate_threshold": "0", "cache_hit_rate_threshold": "80",
        "log_rows_threshold": "250000",
    })  # fmt: skip
    assert response.status_code == 302
    stored = plugin_config(site)
    assert {name: stored[name] for name in (
        "response_time_warning_threshold", "response_time_critical_threshold", "error_rate_threshold",
        "success_rate_threshold", "cache_hit_rate_threshold", "log_rows_threshold",
    )} == {
        "response_time_warning_threshold": "1500", "response_time_critical_threshold": "4000",
        "error_rate_threshold": "2", "success_rate_threshold": "0", "cache_hit_rate_threshold": "80",
        "log_rows_threshold": "250000",
    }  # fmt: skip
    body = admin_client.get(f"{PREFIX}{SETTINGS}").get_data(as_text=True)
    assert "Low Success Rate Alert (%): 95 → 0 (off)" in body
    assert re.search(r'name="cache_hit_rate_threshold"\s+value="80"', body)


def test_a_critical_response_time_below_the_warning_is_refused(admin_client, site):
    response = submit(admin_client, SETTINGS, "config-form", {
        "response_time_warning_threshold": "3000", "response_time_critical_threshold": "2000",
        "cache_hit_rate_threshold": "101",
    })  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in body
    assert "Critical Slow API Alert (ms): 2000 must be above the" in body
    assert "Low Cache Hit Rate Alert (%): 101 is out of range" in body
    assert "response_time_warning_threshold" not in plugin_config(site)


def test_webhook_urls_are_stored_never_shown_and_removable(admin_client, site):
    url = f"https://hooks.slack.com{SECRET}"
    assert submit(admin_client, SETTINGS, "config-form", {"slack_webhook_url": url}).status_code == 302
    assert plugin_config(site)["slack_webhook_url"] == url
    body = admin_client.get(f"{PREFIX}{SETTINGS}").get_data(as_text=True)
    assert "Slack webhook: (none) → new address" in body
    assert "very-secret-path" not in body and "Set: https://hooks.slack.com/…" in body
    submit(admin_client, SETTINGS, "config-form")  # the blank field keeps the stored address
    assert plugin_config(site)["slack_webhook_url"] == url
    assert "very-secret-path" not in admin_client.get(f"{PREFIX}/test_alerts.php").get_data(as_text=True)
    submit(admin_client, SETTINGS, "config-form", {"remove_slack_webhook_url": ["0", "1"]})
    assert plugin_config(site)["slack_webhook_url"] == ""


def test_an_address_that_is_not_a_web_url_is_refused(admin_client, site):
    response = submit(admin_client, SETTINGS, "config-form", {"teams_webhook_url": "file:///etc/passwd"})
    assert response.status_code == 400
    assert "Microsoft Teams webhook: enter the incoming webhook&#39;s full https:// address." in response.get_data(
        as_text=True
    )
    assert "teams_webhook_url" not in plugin_config(site)


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        Webhook.received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_send_test_message_posts_to_the_channel(admin_client, site):
    Webhook.received = []
    with StandIn(Webhook) as stand_in:
        site.plugin_config("teams_webhook_url", f"{stand_in.url}{SECRET}")
        response = post_form(admin_client, f"{PREFIX}/test_alerts.php",
                             {"action": "send_channel_test", "channel": "teams"})  # fmt: skip
        assert response.status_code == 302
    [(path, body)] = Webhook.received
    assert path == SECRET and "TEST alert" in body["attachments"][0]["content"]["body"][1]["text"]
    page = admin_client.get(f"{PREFIX}/test_alerts.php").get_data(as_text=True)
    assert "Test message posted to Microsoft Teams." in page
    post_form(admin_client, f"{PREFIX}/test_alerts.php", {"action": "send_channel_test", "channel": "slack"})
    assert "Not posted to Slack: no Slack webhook is set" in admin_client.get(f"{PREFIX}/test_alerts.php").get_data(
        as_text=True
    )
