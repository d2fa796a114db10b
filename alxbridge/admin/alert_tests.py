"""``test_email_alert.php`` and ``test_alerts.php``: send a test alert and show how it went.

``test_alerts.php`` also posts a test message to the Slack or Teams webhook (``action=send_channel_test``).

Both call :func:`alxbridge.alerts.manual.send_test_alert`; the first as the plugin's mail check
(everything bypassed), the second through the normal alert path with a chosen type and severity
(the plugin's version never fired: PARAM_ALPHA turned ``send_test`` into ``sendtest``, B2).
"""

from flask import current_app, flash, g, request, url_for
from werkzeug.utils import redirect

from ..alerts.mail import MailConfigError, smtp_server
from ..alerts.manual import NO_MAIL_SERVER, TEST_TYPES, send_channel_test, send_test_alert
from ..alerts.webhooks import CHANNELS, shown_url
from ..extensions import get_database
from ..metrics.alert_log import recent_alerts
from ..moodle.plugin_settings import SEVERITIES, read_plugin_settings
from ..moodle.wwwroot import site_url
from . import bp
from .layout import render_page, site_moment


def _mail_server():
    """``(description, problem)`` of ``ALX_SMTP_URL`` for the status banner (never its password)."""
    url = current_app.config.get("ALX_SMTP_URL")
    if not url:
        return None, NO_MAIL_SERVER[0].upper() + NO_MAIL_SERVER[1:] + "."
    try:
        server = smtp_server(url)
    except MailConfigError as error:
        return None, str(error)
    return f"{server.host}:{server.port}" + (" (TLS)" if server.tls or server.starttls else ""), None


def _page(template, title, endpoint, **context):
    database = get_database()
    with database.connect() as connection:
        moment = site_moment(connection)
        settings = read_plugin_settings(connection, database.tables)
        alerts = recent_alerts(connection, database.tables, limit=10)
    mail_server, mail_problem = _mail_server()
    channels = [(channel, shown_url(url) if (url := channel.url(settings)) else None) for channel in CHANNELS]
    return render_page(
        template, title=title, active=endpoint, settings=settings, alerts=alerts, timezone=moment.timezone,
        mail_server=mail_server, mail_problem=mail_problem, channels=channels, **context,
    )  # fmt: skip


def _send_to_channel(channel_name):
    """Post a test message to one chat webhook and flash how it went."""
    if channel_name not in {channel.name for channel in CHANNELS}:
        flash("Choose Slack or Microsoft Teams: nothing was sent.", "error")
        return redirect(url_for("admin.test_alerts"))
    channel, error = send_channel_test(
        get_database(), channel_name=channel_name, triggered_by=g.admin.fullname,
        site_url=site_url(current_app.config, request), now=get_database().now(),
        timezone=current_app.config.get("ALX_TIMEZONE"),
    )  # fmt: skip
    if error is None:
        flash(f"✅ Test message posted to {channel.label}.", "success")
    else:
        flash(f"❌ Not posted to {channel.label}: {error}.", "error")
    return redirect(url_for("admin.test_alerts"))


def _send(endpoint, alert_type, severity, **options):
    """Send, flash the outcome line by line, and redirect back (POST/redirect/GET)."""
    result = send_test_alert(
        get_database(), alert_type=alert_type, severity=severity, triggered_by=g.admin.fullname,
        smtp_url=current_app.config.get("ALX_SMTP_URL"),
        site_url=site_url(current_app.config, request),
        now=get_database().now(), timezone=current_app.config.get("ALX_TIMEZONE"), **options,
    )  # fmt: skip
    if result.held_because:
        flash(f"No alert was stored or sent: {result.held_because}.", "warning")
        return redirect(url_for(endpoint))
    flash(f"Test alert stored (ID {result.alert_id}): {severity} {alert_type}.", "success")
    if result.mail_skipped_because:
        flash(f"No e-mail was sent: {result.mail_skipped_because}.", "warning")
    for delivery in result.deliveries:
        if delivery.error is None:
            flash(f"✅ Sent to {delivery.recipient}.", "success")
        else:
            flash(f"❌ Not sent to {delivery.recipient}: {delivery.error}", "error")
    return redirect(url_for(endpoint))


@bp.route("/test_email_alert.php", methods=["GET", "POST"])
def test_email_alert():
    if request.method == "POST":
        if request.form.get("send_test") != "1":
            flash("Unknown action: nothing was sent.", "error")
            return redirect(url_for("admin.test_email_alert"))
        return _send("admin.test_email_alert", "performance", "medium", honour_switches=False, bypass_filters=True)
    return _page("admin/test_email_alert.html", "Test Email Alert System", "admin.test_email_alert")


@bp.route("/test_alerts.php", methods=["GET", "POST"])
def test_alerts():
    if request.method == "POST":
        alert_type, severity = request.form.get("alert_type"), request.form.get("severity")
        if request.form.get("action") == "send_channel_test":
            return _send_to_channel(request.form.get("channel"))
        if request.form.get("action") != "send_test":
            flash("Unknown action: nothing was sent.", "error")
        elif alert_type not in TEST_TYPES or severity not in SEVERITIES:
            flash(f"Choose an alert type ({', '.join(TEST_TYPES)}) and a severity ({', '.join(SEVERITIES)}).", "error")
        else:
            return _send("admin.test_alerts", alert_type, severity, bypass_filters=request.form.get("bypass") == "1")
        return redirect(url_for("admin.test_alerts"))
    return _page("admin/test_alerts.html", "Test Alert System", "admin.test_alerts", types=TEST_TYPES,
                 severities=SEVERITIES)  # fmt: skip
