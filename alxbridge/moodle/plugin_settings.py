"""The plugin's settings, read where the PHP plugin keeps them, with the plugin's defaults and quirks.

Global settings are ``config_plugins`` rows with ``plugin = 'local_alx_report_api'``; Moodle returns
them as strings and the plugin reads most with PHP's ``?:``, so an absent row, ``""`` and ``"0"``
all mean the code default. Per-company settings are ``local_alx_api_settings`` rows (a TINYINT
value per name). Where the design decided against the plugin, the docstring of the field says so.
No Flask here: the sync, the web service and the admin pages all read settings through this module.
"""

import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db.upsert import upsert

PLUGIN = "local_alx_report_api"
SEVERITIES = ("low", "medium", "high", "critical")
FIELD_NAMES = (
    "userid",
    "firstname",
    "lastname",
    "email",
    "courseid",
    "coursename",
    "timecompleted",
    "timecompleted_unix",
    "timestarted",
    "timestarted_unix",
    "percentage",
    "status",
)
SYNC_MODES = {0: "auto", 1: "incremental", 2: "full", 3: "disabled"}
COURSE_SETTING_PREFIX = "course_"

_PHP_INT = re.compile(r"\s*([+-]?\d+)")
# Close to PHP's FILTER_VALIDATE_EMAIL: dot-atom local part, dotted domain of letters, digits and hyphens.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)


def php_int(value):
    """PHP's ``(int)`` of a config string: leading digits, else 0."""
    if value is None:
        return 0
    match = _PHP_INT.match(str(value))
    return int(match.group(1)) if match else 0


def php_truthy(value):
    """PHP truthiness of a config string: absent, ``""`` and ``"0"`` are false."""
    return value not in (None, "", "0")


def positive_or(value, default):
    """The plugin's ``get_config(...) ?: default`` for numbers (and the default for non-positive ones)."""
    number = php_int(value)
    return number if number > 0 else default


def number_or(value, default):
    """A threshold where 0 is meaningful ("off"): the stored whole number, the default only when absent or empty."""
    return default if value in (None, "") else max(php_int(value), 0)


def valid_email(address):
    return bool(_EMAIL.match(address)) and len(address) <= 254


def parse_recipients(text):
    """``alert_emails``: comma-separated, trimmed, invalid and empty entries dropped, first occurrence kept."""
    recipients = []
    for part in (text or "").split(","):
        address = part.strip()
        if address and valid_email(address) and address not in recipients:
            recipients.append(address)
    return tuple(recipients)


@dataclass(frozen=True)
class PluginSettings:
    """The global settings as the bridge applies them."""

    max_records: int = 1000
    # Design decision (B16): 0 means unlimited (None), as the settings page promises; the plugin made it 100.
    rate_limit: int | None = 100
    # 0 keeps logs forever. The plugin never applied this setting (B26); the bridge does.
    log_retention_days: int = 90
    allow_get_method: bool = False
    auto_sync_hours: int = 1
    max_sync_time: int = 300
    # Absent means off in the plugin's code, although its settings page defaults to on.
    enable_alerting: bool = False
    enable_email_alerts: bool = False
    alert_threshold: str = "medium"
    alert_emails: tuple[str, ...] = ()
    alert_cooldown_minutes: int = 60
    # The next three were hard-coded in the plugin (B26); here they are read, with the page's defaults.
    high_api_usage_threshold: int = 200
    health_score_threshold: int = 70
    db_response_time_threshold_ms: int = 200
    # The product documents' alert rules, which the plugin never implemented; 0 switches a rule off.
    response_time_warning_ms: int = 2000
    response_time_critical_ms: int = 5000
    cache_hit_rate_threshold: int = 70  # percent: alert below
    error_rate_threshold: int = 5  # percent: alert above
    success_rate_threshold: int = 95  # percent: alert below
    log_rows_threshold: int = 1000000
    # Chat channels for alerts: incoming webhook URLs (secrets: never shown in full or logged).
    slack_webhook_url: str = field(default="", repr=False)
    teams_webhook_url: str = field(default="", repr=False)
    last_auto_sync: int = 0
    raw: dict = field(default_factory=dict, repr=False)


def read_plugin_config(connection, tables):
    """Every ``config_plugins`` value of the plugin, as the strings Moodle stores."""
    config = tables.config_plugins
    rows = connection.execute(sa.select(config.c.name, config.c.value).where(config.c.plugin == PLUGIN))
    return {name: value for name, value in rows}


def read_plugin_settings(connection, tables):
    """The global settings, with absent or falsy values replaced the way the plugin replaces them."""
    return plugin_settings_from_config(read_plugin_config(connection, tables))


def plugin_settings_from_config(raw):
    """:class:`PluginSettings` of the plugin's ``config_plugins`` values (``{name: text}``)."""
    rate_limit = php_int(raw.get("rate_limit")) if raw.get("rate_limit") not in (None, "") else 100
    retention = php_int(raw["log_retention_days"]) if raw.get("log_retention_days") not in (None, "") else 90
    threshold = raw.get("alert_threshold") or "medium"
    return PluginSettings(
        max_records=positive_or(raw.get("max_records"), 1000),
        rate_limit=None if rate_limit == 0 else rate_limit if rate_limit > 0 else 100,
        log_retention_days=max(retention, 0),
        allow_get_method=php_truthy(raw.get("allow_get_method")),
        auto_sync_hours=positive_or(raw.get("auto_sync_hours"), 1),
        max_sync_time=positive_or(raw.get("max_sync_time"), 300),
        enable_alerting=php_truthy(raw.get("enable_alerting")),
        enable_email_alerts=php_truthy(raw.get("enable_email_alerts")),
        alert_threshold=threshold if threshold in SEVERITIES else "medium",
        alert_emails=parse_recipients(raw.get("alert_emails")),
        alert_cooldown_minutes=positive_or(raw.get("alert_cooldown"), 60),
        high_api_usage_threshold=positive_or(raw.get("high_api_usage_threshold"), 200),
        health_score_threshold=positive_or(raw.get("health_score_threshold"), 70),
        db_response_time_threshold_ms=positive_or(raw.get("db_response_time_threshold"), 200),
        response_time_warning_ms=number_or(raw.get("response_time_warning_threshold"), 2000),
        response_time_critical_ms=number_or(raw.get("response_time_critical_threshold"), 5000),
        cache_hit_rate_threshold=number_or(raw.get("cache_hit_rate_threshold"), 70),
        error_rate_threshold=number_or(raw.get("error_rate_threshold"), 5),
        success_rate_threshold=number_or(raw.get("success_rate_threshold"), 95),
        log_rows_threshold=number_or(raw.get("log_rows_threshold"), 1000000),
        slack_webhook_url=(raw.get("slack_webhook_url") or "").strip(),
        teams_webhook_url=(raw.get("teams_webhook_url") or "").strip(),
        last_auto_sync=php_int(raw.get("last_auto_sync")),
        raw=raw,
    )


def write_plugin_config(connection, tables, values):
    """Set plugin config values (``set_config``): one atomic upsert per name, values stored as text."""
    config = tables.config_plugins
    for name, value in values.items():
        upsert(connection, config, {"plugin": PLUGIN, "name": name}, {"value": str(value)})


@dataclass(frozen=True)
class CompanySettings:
    """One company's ``local_alx_api_settings``, with the plugin's defaults for absent rows."""

    companyid: int
    values: dict  # setting_name → int, exactly as stored

    def _value(self, name, default):
        return self.values.get(name, default)

    @property
    def fields(self):
        """``{field: included}`` for the 12 response fields; absent rows include the field."""
        return {name: bool(self._value(f"field_{name}", 1)) for name in FIELD_NAMES}

    @property
    def course_flags(self):
        """``{courseid: value}`` of the ``course_<id>`` rows (ids that are not positive integers ignored)."""
        flags = {}
        for name, value in self.values.items():
            if name.startswith(COURSE_SETTING_PREFIX):
                courseid = php_int(name[len(COURSE_SETTING_PREFIX) :])
                if courseid > 0:
                    flags[courseid] = value
        return flags

    @property
    def enabled_course_ids(self):
        """Ids set to exactly 1, or ``None`` when the company has no ``course_*`` row at all.

        ``None`` is the plugin's "auto-enable" case: every course of the company counts as enabled.
        """
        flags = self.course_flags
        if not flags:
            return None
        return frozenset(courseid for courseid, value in flags.items() if value == 1)

    @property
    def sync_mode(self):
        """0 auto, 1 incremental, 2 full, 3 disabled; any other stored value behaves as auto."""
        mode = self._value("sync_mode", 0)
        return mode if mode in SYNC_MODES else 0

    @property
    def sync_window_hours(self):
        return self._value("sync_window_hours", 24)

    @property
    def cache_ttl_minutes(self):
        return self._value("cache_ttl_minutes", 60)

    @property
    def rate_limit(self):
        """The company's own daily limit when a positive one is set, else ``None`` (use the global one)."""
        limit = self._value("rate_limit", 0)
        return limit if limit > 0 else None


def read_company_settings(connection, tables, companyid):
    """The company's settings: the plugin's rows, overlaid by the values only the bridge's table can hold."""
    settings, wide = tables.local_alx_api_settings, tables.local_alxbridge_company_setting
    rows = connection.execute(
        sa.select(sa.literal(0).label("wide"), settings.c.setting_name, settings.c.setting_value)
        .where(settings.c.companyid == companyid)
        .union_all(
            sa.select(sa.literal(1), wide.c.setting_name, wide.c.setting_value).where(wide.c.companyid == companyid)
        )
    )
    return CompanySettings(companyid, overlay_wide_values(rows))


def overlay_wide_values(rows):
    """``{name: value}`` of ``(wide, name, value)`` rows: a bridge row (``wide`` true) wins over the plugin's.

    The plugin's ``setting_value`` is a TINYINT; a value it cannot hold (a daily limit of 500) lives in
    ``local_alxbridge_company_setting``, and the plugin's row keeps the nearest value it can hold.
    """
    plugin, bridge = {}, {}
    for is_wide, name, value in rows:
        (bridge if is_wide else plugin)[name] = int(value)
    return plugin | bridge


TINYINT_RANGE = range(-128, 128)


def write_company_setting(connection, tables, companyid, name, value, now):
    """Store one company setting: in the plugin's table, and in the bridge's when the TINYINT cannot hold it."""
    table, wide = tables.local_alx_api_settings, tables.local_alxbridge_company_setting
    storable = min(max(value, TINYINT_RANGE.start), TINYINT_RANGE.stop - 1)
    upsert(
        connection, table, {"companyid": companyid, "setting_name": name},
        {"setting_value": storable, "timecreated": now, "timemodified": now},
        on_update={"setting_value": storable, "timemodified": now},
    )  # fmt: skip
    if value == storable:
        connection.execute(sa.delete(wide).where(wide.c.companyid == companyid, wide.c.setting_name == name))
    else:
        upsert(connection, wide, {"companyid": companyid, "setting_name": name},
               {"setting_value": value, "timemodified": now})  # fmt: skip


def delete_company_settings(connection, tables, companyid, names):
    """Remove the company's rows of ``names`` from both tables (the setting falls back to its default)."""
    for table in (tables.local_alx_api_settings, tables.local_alxbridge_company_setting):
        connection.execute(sa.delete(table).where(table.c.companyid == companyid, table.c.setting_name.in_(names)))


def read_course_flags_of_all_companies(connection, tables):
    """``{companyid: CompanySettings}`` holding only the ``course_*`` rows, for every company that has any."""
    settings = tables.local_alx_api_settings
    rows = connection.execute(
        sa.select(settings.c.companyid, settings.c.setting_name, settings.c.setting_value).where(
            settings.c.setting_name.like(COURSE_SETTING_PREFIX + "%")
        )
    )
    values = {}
    for companyid, name, value in rows:
        values.setdefault(companyid, {})[name] = int(value)
    return {companyid: CompanySettings(companyid, company_values) for companyid, company_values in values.items()}
