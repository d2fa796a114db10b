"""The global configuration form (the Control Center's System Configuration tab), stored in ``config_plugins``.

The plugin's form saved the valid fields of a half-valid submission and kept invalid alert
addresses, which the mailer later dropped without a word; here a submission with any invalid value
saves nothing and the admin is told which value, or which addresses, are wrong. Besides the
plugin's form fields, the thresholds the bridge honours (and the plugin never read) can be set.
Only values that differ from what the bridge applies now are written.
"""

import re

from ...moodle.plugin_settings import SEVERITIES, positive_or, read_plugin_settings, valid_email
from .values import Change, FormState, InvalidValue, WholeNumber, parse_choice, parse_submitted, parse_switch

RATE_LIMIT = WholeNumber("rate_limit", "Global Rate Limit (Requests/Day)", 0, 10000)
MAX_RECORDS = WholeNumber("max_records", "Max Records per Request", 100, 10000)
CACHE_TTL = WholeNumber("cache_ttl", "Cache Time-To-Live (Seconds)", 300, 86400)
ALERT_COOLDOWN = WholeNumber("alert_cooldown", "Alert Cooldown Period (Minutes)", 5, 1440)
LOG_RETENTION = WholeNumber("log_retention_days", "Log Retention Period (Days)", 0, 3650)
HIGH_API_USAGE = WholeNumber("high_api_usage_threshold", "High API Usage Threshold (Calls/Hour)", 1, 100000)
HEALTH_SCORE = WholeNumber("health_score_threshold", "Health Score Alert Threshold", 1, 100)
DB_RESPONSE_TIME = WholeNumber("db_response_time_threshold", "Database Response Time Threshold (ms)", 1, 60000)
NUMBERS = (
    RATE_LIMIT, MAX_RECORDS, CACHE_TTL, ALERT_COOLDOWN, LOG_RETENTION, HIGH_API_USAGE, HEALTH_SCORE, DB_RESPONSE_TIME,
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
        "allow_get_method": str(int(settings.allow_get_method)),
        "enable_alerting": str(int(settings.enable_alerting)),
        "enable_email_alerts": str(int(settings.enable_email_alerts)),
        "alert_threshold": settings.alert_threshold,
        "alert_emails": settings.raw.get("alert_emails") or "",
    }


def config_state(connection, tables, form=None):
    return FormState.of(current_config(connection, tables), form)


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
    return value or "(none)"


def parse_config_form(form, current):
    """``(writes, changes, errors)``: config values to store and what changed; nothing to store on any error.

    ``enable_email_alerts`` follows ``enable_alerting``, as the plugin's form sets both; the caller
    stores ``writes`` with :func:`~alxbridge.moodle.plugin_settings.write_plugin_config`.
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
    if errors:
        return {}, (), errors
    labels = {number.name: number.label for number in NUMBERS} | SWITCHES
    labels |= {"alert_threshold": THRESHOLD_LABEL, "alert_emails": EMAILS_LABEL}
    writes = {name: value for name, value in desired.items() if value != current[name]}
    changes = tuple(
        Change(labels[name], _shown(name, current[name]), _shown(name, value)) for name, value in writes.items()
    )
    if desired.get("enable_alerting", current["enable_email_alerts"]) != current["enable_email_alerts"]:
        writes["enable_email_alerts"] = desired["enable_alerting"]
    return writes, changes, []
