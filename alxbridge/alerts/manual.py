"""Test alerts an admin sends by hand: ``test_email_alert.php`` and ``test_alerts.php`` share this.

``test_email_alert.php`` checks that mail arrives, as the plugin's did: it stores a
``performance``/``medium`` alert and mails every recipient, whatever the alert switches, threshold
and cooldown say. ``test_alerts.php`` sends an alert of a chosen type and severity through the
normal path instead (the plugin's never fired, B2): ``enable_alerting``, ``alert_threshold``,
``alert_cooldown`` and ``enable_email_alerts`` apply, except that an admin may bypass the threshold
and the cooldown. Test alerts have their own subject (``test``), so they never silence a real alert.
The alert data says who sent the test and from which site, never anything about the server (S8).
:func:`send_channel_test` posts the same test alert to one chat webhook without storing anything.
"""

import dataclasses
from dataclasses import dataclass, field

from ..moodle.plugin_settings import SEVERITIES, read_plugin_settings
from ..moodle.siteconfig import site_timezone
from ..reporting.formatting import plugin_date
from . import alert_sender
from .dispatch import SEVERITY_RANK, store_alert
from .mail import MailConfigError, alert_email, send_messages, smtp_server
from .rules import Condition
from .webhooks import CHANNELS, post_alert

TEST_TYPES = ("health", "performance", "security", "rate_limit")
TEST_SUBJECT = "test"
TEST_MESSAGE = (
    "This is a TEST alert from ALX Report API. If you receive this email, the alert system is working correctly!"
)


@dataclass(frozen=True)
class Delivery:
    recipient: str
    error: str | None = None  # None: the server accepted the message


@dataclass
class TestAlertResult:
    alert_type: str
    severity: str
    alert_id: int | None = None
    held_because: str | None = None  # why no alert was stored
    mail_skipped_because: str | None = None
    deliveries: list = field(default_factory=list)


def _held_because(settings, severity, honour_switches, bypass_filters):
    if honour_switches and not settings.enable_alerting:
        return "alerting is disabled (enable_alerting)"
    if not bypass_filters and SEVERITY_RANK[severity] < SEVERITY_RANK[settings.alert_threshold]:
        return f"{severity} is below the alert threshold ({settings.alert_threshold})"
    return None


# In a site admin's words: the setting is the server operator's, so say who sets it and where it is documented.
NO_MAIL_SERVER = (
    "no mail server is set up for the bridge, so alerts are stored and shown on these pages but not e-mailed. "
    "Whoever runs the bridge sets one up: the ALX_SMTP_URL setting, described in the operations guide "
    '(docs/operations.md, section "Health, logs and alerts")'
)


def _mail_skipped_because(settings, smtp_url, honour_switches):
    if honour_switches and not settings.enable_email_alerts:
        return "e-mail alerts are disabled (enable_email_alerts)"
    if not settings.alert_emails:
        return "no valid recipient in alert_emails"
    if not smtp_url:
        return NO_MAIL_SERVER
    return None


def _test_condition(alert_type, severity, triggered_by, site_url, now, zone):
    return Condition(
        alert_type, severity, TEST_SUBJECT, TEST_MESSAGE,
        {"test_type": "Manual test", "triggered_by": triggered_by, "timestamp": plugin_date(now, zone),
         "system": site_url},
    )  # fmt: skip


def send_channel_test(database, *, channel_name, triggered_by, site_url, now, timezone=None):
    """Post a test alert to one chat channel; ``(Channel, error or None)``; ``error`` says when none is set."""
    channel = next(channel for channel in CHANNELS if channel.name == channel_name)
    with database.connect() as connection:
        settings = read_plugin_settings(connection, database.tables)
        zone = site_timezone(connection, database.tables, timezone)
    url = channel.url(settings)
    if not url:
        return channel, f"no {channel.label} webhook is set (Control Center, System Configuration)"
    condition = _test_condition("performance", "medium", triggered_by, site_url, now, zone)
    return channel, post_alert(channel, url, condition, site_url=site_url, timezone=zone, now=now)


def send_test_alert(database, *, alert_type, severity, triggered_by, smtp_url, site_url, now, timezone=None,
                    honour_switches=True, bypass_filters=False):  # fmt: skip
    """Store the test alert (unless a switch, the threshold or the cooldown holds it) and mail it.

    ``honour_switches=False, bypass_filters=True`` is ``test_email_alert.php``; the defaults are the
    normal alert path. Each recipient gets its own SMTP session, so each has its own outcome.
    """
    if alert_type not in TEST_TYPES or severity not in SEVERITIES:
        raise ValueError(f"unknown alert type or severity: {alert_type!r}, {severity!r}")
    result = TestAlertResult(alert_type, severity)
    tables = database.tables
    with database.begin() as connection:
        settings = read_plugin_settings(connection, tables)
        zone = site_timezone(connection, tables, timezone)
        result.held_because = _held_because(settings, severity, honour_switches, bypass_filters)
        if result.held_because:
            return result
        condition = _test_condition(alert_type, severity, triggered_by, site_url, now, zone)
        applied = settings
        if bypass_filters:  # the normal path with filters that let everything through
            applied = dataclasses.replace(settings, alert_threshold=SEVERITIES[0], alert_cooldown_minutes=0)
        result.alert_id = store_alert(connection, tables, applied, condition, now, site_url)
        if result.alert_id is None:
            result.held_because = (
                f"a {severity} {alert_type} test alert was stored less than {settings.alert_cooldown_minutes} "
                "minutes ago (alert_cooldown)"
            )
            return result
        sender = alert_sender(connection, tables, site_url)

    result.mail_skipped_because = _mail_skipped_because(settings, smtp_url, honour_switches)
    if result.mail_skipped_because:
        return result
    try:
        server = smtp_server(smtp_url)
    except MailConfigError as error:
        result.mail_skipped_because = str(error)
        return result
    for recipient in settings.alert_emails:
        message = alert_email(condition, sender=sender, recipient=recipient, site_url=site_url, timezone=zone, now=now)
        _, failures = send_messages(server, [message])
        result.deliveries.append(Delivery(recipient, "; ".join(failures) or None))
    return result
