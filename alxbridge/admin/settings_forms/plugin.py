"""The global configuration form (the Control Center's System Configuration tab), stored in ``config_plugins``.

The plugin's form saved the valid fields of a half-valid submission and kept invalid alert
addresses, which the mailer later dropped without a word; here a submission with any invalid value
saves nothing and the admin is told which value, or which addresses, are wrong. Besides the
plugin's form fields, the thresholds the bridge honours (and the plugin never read) can be set.
Only values that differ from what the bridge applies now are written.

Webhook URLs are secrets: the form never shows one back. A blank field keeps the stored URL, a
new one replaces it, and the "remove" box deletes it.
"""

import re

from ...alerts.webhooks import CHANNELS, InvalidWebhookUrl, check_webhook_url, shown_url
from ...moodle.plugin_settings import SEVERITIES, positive_or, read_plugin_settings, valid_email
from .values import Change, FormState, InvalidValue, WholeNumber, parse_choice, parse_submitted, parse_switch, submitted

RATE_LIMIT = WholeNumber("rate_limit", "Global Rate Limit (Requests/Day)", 0, 10000)
MAX_RECORDS = WholeNumber("max_records", "Max Records per Request", 100, 10000)
CACHE_TTL = WholeNumber("cache_ttl", "Cache Time-To-Live (Seconds)", 300, 86400)
ALERT_COOLDOWN = WholeNumber("alert_cooldown", "Alert Cooldown Period (Minutes)", 5, 1440)
LOG_RETENTION = WholeNumber("log_retention_days", "Log Retention Period (Days)", 0, 3650)
HIGH_API_USAGE = WholeNumber("high_api_usage_threshold", "High API Usage Threshold (Calls/Hour)", 1, 100000)
HEALTH_SCORE = WholeNumber("health_score_threshold", "Health Score Alert Threshold", 1, 100)
DB_RESPONSE_TIME = WholeNumber("db_response_time_threshold", "Database Response Time Threshold (ms)", 1, 60000)
OFF = " (0 = off)"
RESPONSE_WARNING = WholeNumber(
    "response_time_warning_threshold", "Slow API Alert: Average Response (ms)", 0, 600000, OFF
)
RESPONSE_CRITICAL = WholeNumber("response_time_critical_threshold", "Critical Slow API Alert (ms)", 0, 600000, OFF)
ERROR_RATE = WholeNumber("error_rate_threshold", "High Error Rate Alert (%)", 0, 100, OFF)
SUCCESS_RATE = WholeNumber("success_rate_threshold", "Low Success Rate Alert (%)", 0, 100, OFF)
CACHE_HIT_RATE = WholeNumber("cache_hit_rate_threshold", "Low Cache Hit Rate Alert (%)", 0, 100, OFF)
LOG_ROWS = WholeNumber("log_rows_threshold", "API Log Size Alert (Rows)", 0, 999999999, OFF)
RULE_NUMBERS = (RESPONSE_WARNING, RESPONSE_CRITICAL, ERROR_RATE, SUCCESS_RATE, CACHE_HIT_RATE, LOG_ROWS)
NUMBERS = (
    RATE_LIMIT, MAX_RECORDS, CACHE_TTL, ALERT_COOLDOWN, LOG_RETENTION, HIGH_API_USAGE, HEALTH_SCORE, DB_RESPONSE_TIME,
    *RULE_NUMBERS,
)  # fmt: skip
SWITCHES = {"allow_get_method": "Allow GET Method", "enable_alerting": "Enable Alert System"}
THRESHOLD_LABEL = "Alert Severity Threshold"
THRESHOLD_LABELS = dict(
    zip(
        SEVERITIES,
        (
            "Low - All alerts (informational + warnings + critical)",
            "Medium - Important alerts only (warnings + critical)",
            "High - Urgent alerts only (high + critical)",
            "Critical - Emergency alerts only",
        ),
        strict=True,
    )
)
EMAILS_LABEL = "Alert Email Recipients"
_ADDRESS_SEPARATORS = re.compile(r"[,\n]")


def current_config(connection, tables):
    """The form's values as text: what the bridge applies now (defaults for absent or unusable rows).

    ``alert_emails`` is the stored text itself, so addresses the mailer would skip stay visible.
    """
    settings = read_plugin_settings(connection, tables)
    return {
        RATE_LIMIT.name: str(settings.rate_limit or 0),
        MAX_RECORDS.name: str(settings.max_records),
        CACHE_TTL.name: str(positive_or(settings.raw.get(CACHE_TTL.name), 3600)),
        ALERT_COOLDOWN.name: str(settings.alert_cooldown_minutes),
        LOG_RETENTION.name: str(settings.log_retention_days),
        HIGH_API_USAGE.name: str(settings.high_api_usage_threshold),
        HEALTH_SCORE.name: str(settings.health_score_threshold),
        DB_RESPONSE_TIME.name: str(settings.db_response_time_threshold_ms),
        RESPONSE_WARNING.name: str(settings.response_time_warning_ms),
        RESPONSE_CRITICAL.name: str(settings.response_time_critical_ms),
        ERROR_RATE.name: str(settings.error_rate_threshold),
        SUCCESS_RATE.name: str(settings.success_rate_threshold),
        CACHE_HIT_RATE.name: str(settings.cache_hit_rate_threshold),
        LOG_ROWS.name: str(settings.log_rows_threshold),
        "allow_get_method": str(int(settings.allow_get_method)),
        "enable_alerting": str(int(settings.enable_alerting)),
        "enable_email_alerts": str(int(settings.enable_email_alerts)),
        "alert_threshold": settings.alert_threshold,
        "alert_emails": settings.raw.get("alert_emails") or "",
    }


def config_state(connection, tables, form=None):
    return FormState.of(current_config(connection, tables), form)


def stored_webhooks(connection, tables):
    """``{setting: URL}`` of the channels' stored webhook URLs (``""`` when unset); for the server only."""
    settings = read_plugin_settings(connection, tables)
    return {channel.setting: channel.url(settings) for channel in CHANNELS}


def webhook_state(connection, tables):
    """``[(Channel, what the page may show of its URL, or None when unset)]``."""
    stored = stored_webhooks(connection, tables)
    return [(channel, shown_url(url) if (url := stored[channel.setting]) else None) for channel in CHANNELS]


def parse_webhooks(form, stored):
    """``(writes, changes, errors)`` of the webhook fields against the ``stored`` URLs (never echoed)."""
    writes, changes, errors = {}, [], []
    for channel in CHANNELS:
        before = stored.get(channel.setting, "")
        if submitted(form, f"remove_{channel.setting}") == "1":
            if before:
                writes[channel.setting] = ""
                changes.append(Change(f"{channel.label} webhook", "set", "removed"))
            continue
        url = submitted(form, channel.setting)
        if not url or url == before:
            continue
        try:
            writes[channel.setting] = check_webhook_url(channel.label, url)
        except InvalidWebhookUrl as error:
            errors.append(str(error))
            continue
        changes.append(Change(f"{channel.label} webhook", "set" if before else "(none)", "new address"))
    return writes, changes, errors


def _rule_errors(desired, current):
    warning = int(desired.get(RESPONSE_WARNING.name, current[RESPONSE_WARNING.name]))
    critical = int(desired.get(RESPONSE_CRITICAL.name, current[RESPONSE_CRITICAL.name]))
    if warning and critical and critical <= warning:
        return [f"{RESPONSE_CRITICAL.label}: {critical} must be above the {RESPONSE_WARNING.label} ({warning} ms)."]
    return []


def parse_recipient_list(text):
    """``alert_emails`` as ``"a@x.org, b@y.org"``; raises naming every address that is not valid."""
    addresses = [part.strip() for part in _ADDRESS_SEPARATORS.split(text) if part.strip()]
    invalid = [address for address in addresses if not valid_email(address)]
    if invalid:
        listed = ", ".join(f'"{address}"' for address in invalid)
        raise InvalidValue(f"{EMAILS_LABEL}: not valid e-mail addresses: {listed}. Separate addresses with commas.")
    return ", ".join(dict.fromkeys(addresses))


def _shown(name, value):
    if name in SWITCHES:
        return "on" if value == "1" else "off"
    if name == RATE_LIMIT.name and value == "0":
        return "0 (unlimited)"
    if name in {number.name for number in RULE_NUMBERS} and value == "0":
        return "0 (off)"
    return value or "(none)"


def parse_config_form(form, current, webhooks=None):
    """``(writes, changes, errors)``: config values to store and what changed; nothing to store on any error.

    ``enable_email_alerts`` follows ``enable_alerting``, as the plugin's form sets both; the caller
    stores ``writes`` with :func:`~alxbridge.moodle.plugin_settings.write_plugin_config`. ``webhooks``: the
    stored URLs (:func:`stored_webhooks`).
    """
    desired, errors = parse_submitted(
        form,
        [
            *((number.name, lambda text, number=number: str(number.parse(text))) for number in NUMBERS),
            *((name, lambda text, label=label: str(parse_switch(text, label))) for name, label in SWITCHES.items()),
            ("alert_threshold", lambda text: parse_choice(text, THRESHOLD_LABEL, THRESHOLD_LABELS)),
            ("alert_emails", parse_recipient_list),
        ],
    )
    errors += _rule_errors(desired, current)
    hook_writes, hook_changes, hook_errors = parse_webhooks(form, webhooks or {})
    errors += hook_errors
    if errors:
        return {}, (), errors
    labels = {number.name: number.label for number in NUMBERS} | SWITCHES
    labels |= {"alert_threshold": THRESHOLD_LABEL, "alert_emails": EMAILS_LABEL}
    writes = {name: value for name, value in desired.items() if value != current[name]}
    changes = tuple(
        Change(labels[name], _shown(name, current[name]), _shown(name, value)) for name, value in writes.items()
    ) + tuple(hook_changes)
    writes |= hook_writes
    if desired.get("enable_alerting", current["enable_email_alerts"]) != current["enable_email_alerts"]:
        writes["enable_email_alerts"] = desired["enable_alerting"]
    return writes, changes, []
