"""Alerts posted to chat: Slack and Microsoft Teams incoming webhooks (the product documents' optional channels).

Each channel is one URL setting in the plugin's configuration (``slack_webhook_url``,
``teams_webhook_url``). A webhook URL is a credential (whoever has it can post to the channel), so
it is never logged, never shown back on a page (only its host) and never put in an error message:
failures name the channel and the HTTP status or network error only. Slack gets its ``text``
message (mrkdwn); Teams gets an Adaptive Card, the format of the Teams "Workflows" webhook that
replaces the retired Office 365 connectors. Posts use ``urllib`` with a timeout, one per alert.
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from .mail import alert_notice, title_case

TIMEOUT_SECONDS = 10
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class Channel:
    name: str  # slack | teams
    label: str
    setting: str  # the plugin config name holding the URL

    def url(self, settings):
        return getattr(settings, self.setting)


SLACK = Channel("slack", "Slack", "slack_webhook_url")
TEAMS = Channel("teams", "Microsoft Teams", "teams_webhook_url")
CHANNELS = (SLACK, TEAMS)


class InvalidWebhookUrl(ValueError):
    """A webhook URL the bridge will not post to."""


def check_webhook_url(label, url):
    """``url`` when it is an http(s) URL with a host; else :class:`InvalidWebhookUrl` (without the URL itself)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > MAX_URL_LENGTH or " " in url:
        raise InvalidWebhookUrl(f"{label} webhook: enter the incoming webhook's full https:// address.")
    return url


def shown_url(url):
    """What a page may show of a webhook URL: its scheme and host, the secret path left out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "set"


def _slack_escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert, notice):
    lines = [
        f"{notice.icon} *{title_case(alert.severity)} alert: {_slack_escape(title_case(alert.alert_type))}*",
        _slack_escape(alert.message),
        f"Time: {_slack_escape(notice.when)}",
        f"What to do: {_slack_escape(notice.advice)}",
        f"<{notice.dashboard}|Open the monitoring dashboard>",
    ]
    return {"text": "\n".join(lines)}


def teams_payload(alert, notice):
    facts = [{"title": "Time", "value": notice.when}]
    facts += [{"title": str(key), "value": str(value)} for key, value in notice.details.items()]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
             "color": "Attention" if alert.severity in ("high", "critical") else "Warning",
             "text": f"{notice.icon} {title_case(alert.severity)} alert: {title_case(alert.alert_type)}"},
            {"type": "TextBlock", "wrap": True, "text": alert.message},
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "wrap": True, "text": f"What to do: {notice.advice}"},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the monitoring dashboard", "url": notice.dashboard}],
    }  # fmt: skip
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


PAYLOADS = {"slack": slack_payload, "teams": teams_payload}


def post_alert(channel, url, alert, *, site_url, timezone, now):
    """Post ``alert`` (a rules.Condition) to the webhook; ``None`` when accepted, else the error in words."""
    payload = PAYLOADS[channel.name](alert, alert_notice(alert, site_url=site_url, timezone=timezone, now=now))
    body, headers = json.dumps(payload).encode("utf-8"), {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
            response.read()
    except urllib.error.HTTPError as error:
        return f"{channel.label} webhook answered HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return f"{channel.label} webhook could not be reached: {reason}"
    except ValueError:  # http.client's InvalidURL quotes the address: say it in other words
        return f"{channel.label} webhook address is not a valid URL"
    return None


def configured_channels(settings):
    """``[(Channel, url)]`` of the channels with a URL set."""
    return [(channel, channel.url(settings)) for channel in CHANNELS if channel.url(settings)]


def post_alerts(settings, alerts, *, site_url, timezone, now):
    """Post every alert to every configured channel; return ``(posts accepted, [error text, …])``.

    A channel that fails is not tried again in the same check: with many alerts, an unreachable
    webhook would otherwise hold the alert job for a timeout per alert.
    """
    posted, failures = 0, []
    for channel, url in configured_channels(settings):
        for index, alert in enumerate(alerts):
            error = post_alert(channel, url, alert, site_url=site_url, timezone=timezone, now=now)
            if error is not None:
                left = len(alerts) - index - 1
                failures.append(error + (f" ({left} more alert(s) not posted to it)" if left else ""))
                break
            posted += 1
    return posted, failures
