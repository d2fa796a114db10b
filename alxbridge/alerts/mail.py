"""Alert e-mail: the plugin's subject line and layout, sent through ``ALX_SMTP_URL`` with smtplib.

``ALX_SMTP_URL`` is ``smtp://[user:password@]host[:port]`` (add ``?starttls=1`` to upgrade the
connection) or ``smtps://…`` for TLS from the start. The password is only ever handed to the
server; it never appears in messages or logs.
"""

import html
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from ..operations.errors import BridgeError

SEVERITY_ICONS = {"low": "🔵", "medium": "🟡", "high": "🟠", "critical": "🔴"}
SEVERITY_COLOURS = {"low": "#17a2b8", "medium": "#ffc107", "high": "#fd7e14", "critical": "#dc3545"}
ADVICE = {
    "rate_limit": "Ask the client to fetch fewer pages (larger limit, incremental sync) or raise the company's limit.",
    "health": "Open the monitoring dashboard and fix the checks marked as errors or warnings.",
    "performance": "Look at the API log for the failing or busiest clients and at the database load.",
    "sync": "Read the last sync run's message, fix the cause, then run: flask --app wsgi alx sync",
    "storage": "Lower the log retention (log_retention_days) so the daily clean-up keeps the API log smaller.",
}
DEFAULT_ADVICE = "Review the monitoring dashboard and the logs."
SMTP_TIMEOUT = 20


class MailConfigError(BridgeError):
    """``ALX_SMTP_URL`` cannot be used."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool
    starttls: bool
    username: str | None
    password: str | None

    def __repr__(self):
        return f"SmtpServer({self.host}:{self.port}, tls={self.tls}, starttls={self.starttls})"


def smtp_server(url):
    """The :class:`SmtpServer` of an ``ALX_SMTP_URL``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailConfigError("ALX_SMTP_URL must look like smtp://host:25 or smtps://user:password@host:465")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise MailConfigError("ALX_SMTP_URL has an invalid port") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "smtps",
        starttls=parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def title_case(word):
    return word[:1].upper() + word[1:]  # PHP's ucfirst: "rate_limit" → "Rate_limit"


@dataclass(frozen=True)
class AlertNotice:
    """What every channel (e-mail, Slack, Teams) says about one alert."""

    icon: str
    colour: str
    when: str
    details: dict  # the alert's plain values
    advice: str
    dashboard: str


def alert_notice(alert, *, site_url, timezone, now):
    """The :class:`AlertNotice` of one alert (``alert`` is a rules.Condition)."""
    return AlertNotice(
        icon=SEVERITY_ICONS.get(alert.severity, "⚠️"),
        colour=SEVERITY_COLOURS.get(alert.severity, "#6c757d"),
        when=datetime.fromtimestamp(now, timezone).strftime("%Y-%m-%d %H:%M:%S %Z"),
        details={key: value for key, value in alert.data.items() if isinstance(value, (str, int, float, bool))},
        advice=ADVICE.get(alert.alert_type, DEFAULT_ADVICE),
        dashboard=f"{site_url.rstrip('/')}/local/alx_report_api/advanced_monitoring.php",
    )


def alert_email(alert, *, sender, recipient, site_url, timezone, now):
    """The e-mail for one stored alert (``alert`` is a rules.Condition)."""
    notice = alert_notice(alert, site_url=site_url, timezone=timezone, now=now)
    icon, colour, when, details, advice, dashboard = (
        notice.icon, notice.colour, notice.when, notice.details, notice.advice, notice.dashboard,
    )  # fmt: skip

    message = EmailMessage()
    message["Subject"] = f"[ALX Report API] {icon} {title_case(alert.severity)} Alert: {title_case(alert.alert_type)}"
    message["From"] = sender
    message["To"] = recipient
    lines = [alert.message, "", f"Time: {when}", f"System: {site_url}", "Plugin: ALX Report API", ""]
    lines += [f"{key}: {value}" for key, value in details.items()]
    lines += ["", f"What to do: {advice}", f"Monitoring: {dashboard}"]
    message.set_content("\n".join(lines))
    rows = "".join(
        f"<tr><th align='left'>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
        for key, value in details.items()
    )
    message.add_alternative(
        f"""<html><body style="font-family: sans-serif">
<div style="background: {colour}; color: #fff; padding: 12px"><h2>{icon} {html.escape(title_case(alert.severity))}
alert: {html.escape(title_case(alert.alert_type))}</h2></div>
<p>{html.escape(alert.message)}</p>
<p>Time: {html.escape(when)}<br>System: {html.escape(site_url)}<br>Plugin: ALX Report API</p>
{f"<h3>Details</h3><table>{rows}</table>" if rows else ""}
<h3>What to do</h3><p>{html.escape(advice)}</p>
<p><a href="{html.escape(dashboard, quote=True)}">Open the monitoring dashboard</a></p>
<p style="color: #6c757d; font-size: small">Sent by ALX Bridge because alerting is enabled in the ALX Report API
settings.</p>
</body></html>""",
        subtype="html",
    )
    return message


def send_messages(server, messages):
    """Send ``messages`` over one SMTP session; return ``(number sent, [error text, …])``."""
    sent, failures = 0, []
    if not messages:
        return sent, failures
    context = ssl.create_default_context()
    try:
        if server.tls:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
        with client:
            if server.starttls:
                client.starttls(context=context)
            if server.username:
                client.login(server.username, server.password or "")
            for message in messages:
                try:
                    client.send_message(message)
                    sent += 1
                except smtplib.SMTPException as error:
                    failures.append(f"{message['To']}: {error}")
    except (OSError, smtplib.SMTPException) as error:
        failures.append(f"SMTP server {server.host}:{server.port}: {error}")
    return sent, failures
