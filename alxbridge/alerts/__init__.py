"""The alert check (every 15 minutes): find conditions, store new alerts, resolve cleared ones, mail them.

Everything is governed by the plugin's global settings: nothing runs while ``enable_alerting`` is
off, mail goes out only with ``enable_email_alerts`` on, recipients in ``alert_emails`` and an
``ALX_SMTP_URL`` configured (otherwise alerts are stored, not mailed). New alerts are also posted to
the Slack and Teams webhooks that are set (:mod:`.webhooks`).
"""

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..moodle.plugin_settings import read_plugin_settings
from ..moodle.siteconfig import core_config, site_timezone
from .dispatch import resolve_cleared, store_alert
from .mail import alert_email, send_messages, smtp_server
from .rules import RULE_TYPES, current_conditions
from .webhooks import post_alerts


@dataclass
class AlertCheckResult:
    skipped_because: str | None = None
    raised: list = field(default_factory=list)  # (alert id, Condition)
    holding: int = 0  # conditions that hold, raised now or earlier
    resolved: int = 0
    mailed: int = 0
    mail_failures: list = field(default_factory=list)
    posted: int = 0  # chat messages accepted by a webhook
    post_failures: list = field(default_factory=list)

    def summary(self):
        if self.skipped_because:
            return f"skipped: {self.skipped_because}"
        text = f"{self.holding} condition(s), {len(self.raised)} alert(s) raised, {self.resolved} resolved"
        text += f", {self.mailed} e-mail(s) sent"
        if self.mail_failures:
            text += f"; e-mail failed: {'; '.join(self.mail_failures)}"
        if self.posted or self.post_failures:
            text += f", {self.posted} chat message(s) posted"
        if self.post_failures:
            text += f"; chat failed: {'; '.join(self.post_failures)}"
        return text


def alert_sender(connection, tables, site_url):
    address = core_config(connection, tables, "noreplyaddress").get("noreplyaddress")
    return address or f"noreply@{urlsplit(site_url).hostname or socket.getfqdn()}"


def check_alerts(database, *, smtp_url=None, site_url=None, timezone=None, tick_seconds=0):
    """Run the alert check once; ``site_url`` is Moodle's address (for the alert's host and links);
    ``tick_seconds``: the sync tick's interval (``ALX_SYNC_TICK_SECONDS``), whose lag is watched when not 0."""
    tables = database.tables
    now = database.now()
    site_url = site_url or f"http://{socket.getfqdn()}"
    with database.begin() as connection:
        settings = read_plugin_settings(connection, tables)
        if not settings.enable_alerting:
            return AlertCheckResult(skipped_because="alerting is disabled (enable_alerting)")
        zone = site_timezone(connection, tables, timezone)
        conditions = current_conditions(connection, tables, settings, now, zone, tick_seconds)
        result = AlertCheckResult(holding=len(conditions))
        for condition in conditions:
            alert_id = store_alert(connection, tables, settings, condition, now, site_url)
            if alert_id is not None:
                result.raised.append((alert_id, condition))
        result.resolved = resolve_cleared(connection, tables, RULE_TYPES, {c.key for c in conditions})
        sender = alert_sender(connection, tables, site_url)

    if result.raised and settings.enable_email_alerts and settings.alert_emails and smtp_url:
        messages = [
            alert_email(condition, sender=sender, recipient=recipient, site_url=site_url, timezone=zone, now=now)
            for _, condition in result.raised
            for recipient in settings.alert_emails
        ]
        result.mailed, result.mail_failures = send_messages(smtp_server(smtp_url), messages)
    if result.raised:
        raised = [condition for _, condition in result.raised]
        result.posted, result.post_failures = post_alerts(settings, raised, site_url=site_url, timezone=zone, now=now)
    return result
