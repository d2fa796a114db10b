"""The product documents' alert rules (response time, error, success and cache hit rates, storage) and the
Slack and Teams webhooks, which receive each new alert (a local stand-in plays the webhook)."""

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
import sqlalchemy as sa

from alxbridge.alerts import check_alerts
from alxbridge.alerts.rules import MIN_CALLS

from .live_server import StandIn
from .sitebuilder import Clock, SiteBuilder

RESET = ("local_alx_api_alerts", "local_alx_api_logs", "config_plugins", "local_alxbridge_refusal")


@pytest.fixture(scope="module")
def site(database):
    """One learner of one company on a healthy site (web services on, the API service with a token)."""
    site = SiteBuilder(database, Clock()).create_tables()
    site.ada = site.user("Ada", companies=[site.company("Acme")])
    site.core_config("enablewebservices", 1)
    site.api_service()
    return site


@pytest.fixture(autouse=True)
def a_new_day_with_every_alert_stored(site):
    """No calls, alerts or settings but alerting on at the lowest threshold, a day after the previous test."""
    site.empty(*(getattr(site.tables, name) for name in RESET))
    for name, value in (("enable_alerting", 1), ("alert_threshold", "low")):
        site.plugin_config(name, value)
    site.clock.advance(86400)


def call(site, count, ms=20.0, error=None, cache_hit=None, at=None):
    data = None if cache_hit is None else json.dumps({"cache_hit": cache_hit, "mode": "incremental"})
    for _ in range(count):
        site._insert(
            site.tables.local_alx_api_logs, userid=site.ada, company_shortname="acme",
            endpoint="get_course_progress", record_count=0 if error else 10, error_message=error,
            response_time_ms=ms, timeaccessed=site.now - 60 if at is None else at, ip_address="127.0.0.1",
            user_agent="test", additional_data=data,
        )  # fmt: skip


def refused(site, attempts):
    site._insert(
        site.tables.local_alxbridge_refusal, timeminute=(site.now - 60) // 60 * 60, ip_address="10.0.0.9",
        reason="invalid token", token_prefix="abcd1234", attempts=attempts, timelast=site.now - 60,
    )  # fmt: skip


def check(site):
    return check_alerts(site.database, site_url="https://moodle.example.com")


def alerts(site):
    table = site.tables.local_alx_api_alerts
    with site.database.connect() as connection:
        rows = connection.execute(sa.select(table).order_by(table.c.id)).all()
    return [(row.alert_type, row.severity, json.loads(row.alert_data)["subject"], row.resolved) for row in rows]


def test_average_response_above_2_s_is_medium_above_5_s_critical_and_clears(site):
    call(site, MIN_CALLS, ms=2500.0)
    check(site)
    assert alerts(site) == [("performance", "medium", "response_time", 0)]
    site.clock.advance(3600)
    call(site, MIN_CALLS, ms=6000.0)
    check(site)
    assert alerts(site)[-1] == ("performance", "critical", "response_time", 0)
    table = site.tables.local_alx_api_alerts
    with site.database.connect() as connection:
        message = connection.execute(sa.select(table.c.message).order_by(table.c.id.desc())).first()[0]
    assert message == (
        "Slow API: average response 6.00 s over the last hour's 10 calls (alert above 2.00 s, critical above 5.00 s)"
    )
    site.clock.advance(3600)
    call(site, MIN_CALLS, ms=100.0)
    result = check(site)
    assert result.resolved == 2 and {row[3] for row in alerts(site)} == {1}


def test_error_rate_above_its_threshold_is_high(site):
    call(site, 18)
    call(site, 2, error="Invalid parameter value detected")  # 10 % failed
    check(site)
    error_alert = [row for row in alerts(site) if row[2] == "error_rate"]
    assert error_alert == [("performance", "high", "error_rate", 0)]
    site.plugin_config("error_rate_threshold", 10)  # 10 % is not above 10 %
    site.clock.advance(900)
    check(site)
    assert next(row for row in alerts(site) if row[2] == "error_rate")[3] == 1


def test_success_rate_counts_attempts_refused_before_running(site):
    site.plugin_config("error_rate_threshold", 0)  # off: only the success rate is under test
    call(site, 19)
    call(site, 1, error="Invalid parameter value detected")
    check(site)
    assert alerts(site) == []  # 19 of 20 = 95 %: not below 95 %
    refused(site, 4)  # 19 of 24 attempts succeeded: 79.2 %
    check(site)
    assert alerts(site) == [("performance", "medium", "success_rate", 0)]


def test_cache_hit_rate_below_70_percent_is_medium_and_zero_turns_it_off(site):
    call(site, 6, cache_hit=True)
    call(site, 4, cache_hit=False)  # 60 %
    check(site)
    assert alerts(site) == [("performance", "medium", "cache_hit_rate", 0)]
    site.plugin_config("cache_hit_rate_threshold", 0)
    site.clock.advance(900)
    assert check(site).resolved == 1


def test_fewer_than_min_calls_raise_no_rate_alert(site):
    call(site, MIN_CALLS - 1, ms=9000.0, error="Error reading from database")
    check(site)
    assert [row for row in alerts(site) if row[2] in ("response_time", "error_rate", "success_rate")] == []


def test_storage_alert_when_the_api_log_has_more_rows_than_its_threshold(site):
    site.plugin_config("log_rows_threshold", 5)
    call(site, 5, at=site.now - 5 * 86400)
    check(site)
    assert alerts(site) == []
    call(site, 1, at=site.now - 5 * 86400)
    check(site)
    assert alerts(site) == [("storage", "medium", "api_log", 0)]


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list] = []  # (path, content type, JSON body) of each post
    status = 200
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            Webhook.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(Webhook.status)
        self.end_headers()
        self.wfile.write(b"1")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Webhook.received, Webhook.status = [], 200
    with StandIn(Webhook) as stand_in:
        yield stand_in


def test_new_alerts_are_posted_to_slack_and_teams(site, webhook):
    site.plugin_config("slack_webhook_url", f"{webhook.url}/services/T000/B000/secret")
    site.plugin_config("teams_webhook_url", f"{webhook.url}/workflows/secret")
    call(site, MIN_CALLS, ms=2500.0)
    result = check(site)
    assert result.posted == 2 and result.post_failures == []
    (slack_path, slack_type, slack), (teams_path, _, teams) = sorted(Webhook.received, key=lambda r: r[0])
    assert slack_path == "/services/T000/B000/secret" and teams_path == "/workflows/secret"
    assert slack_type == "application/json"
    assert "*Medium alert: Performance*" in slack["text"] and "average response 2.50 s" in slack["text"]
    card = teams["attachments"][0]["content"]
    assert teams["type"] == "message" and card["type"] == "AdaptiveCard"
    assert card["body"][1]["text"].startswith("Slow API: average response 2.50 s")
    check(site)  # cooling down: nothing new, nothing posted
    assert len(Webhook.received) == 2


def test_a_refusing_webhook_is_reported_without_its_address(site, webhook):
    Webhook.status = 404
    site.plugin_config("slack_webhook_url", f"{webhook.url}/services/secret-path")
    call(site, MIN_CALLS, ms=2500.0)
    result = check(site)
    assert result.post_failures == ["Slack webhook answered HTTP 404"]
    assert len(Webhook.received) == 1
    assert "secret-path" not in result.summary() and "chat failed: Slack webhook answered HTTP 404" in result.summary()


def test_a_failing_webhook_is_not_retried_for_each_alert_of_the_check(site, webhook):
    Webhook.status = 500
    site.plugin_config("slack_webhook_url", f"{webhook.url}/services/down")
    # Slow and failing: repeated errors, slow responses, error rate and success rate
    call(site, MIN_CALLS, ms=6000.0, error="Error reading from database")
    result = check(site)
    assert len(result.raised) == 4 and len(Webhook.received) == 1
    assert result.post_failures == ["Slack webhook answered HTTP 500 (3 more alert(s) not posted to it)"]
