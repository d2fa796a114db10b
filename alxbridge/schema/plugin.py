"""The ALX Report API plugin's six tables, column for column as its ``db/install.xml`` defines them.

The PHP plugin and its admin pages share these tables with the bridge, so nothing here may
differ from the plugin: not a type, a length, a default, a nullability or an index.
"""

from .xmldb import TableSpec, char, index, integer, number, text, unique

API_LOGS = TableSpec(
    "local_alx_api_logs",
    "One row per web service call: who, which company, how long, what went wrong",
    (
        integer("userid"),
        char("company_shortname", 100, notnull=False),
        char("endpoint", 255),
        integer("record_count", default="0"),
        text("error_message"),
        number("response_time_ms", 10, 2, notnull=False),
        integer("timeaccessed"),
        char("ip_address", 45, notnull=False),
        text("user_agent"),
        text("additional_data"),
    ),
    (
        index("userid", "userid"),
        index("company_shortname", "company_shortname"),
        index("endpoint", "endpoint"),
        index("timeaccessed", "timeaccessed"),
        index("response_time_ms", "response_time_ms"),
    ),
)

API_SETTINGS = TableSpec(
    "local_alx_api_settings",
    "Per-company switches: exposed fields, enabled courses, sync mode, cache and quota",
    (
        integer("companyid"),
        char("setting_name", 100),
        integer("setting_value", 1, default="0"),
        integer("timecreated"),
        integer("timemodified"),
    ),
    (
        unique("unique_company_setting", "companyid", "setting_name"),
        index("companyid", "companyid"),
        index("setting_name", "setting_name"),
    ),
)

API_REPORTING = TableSpec(
    "local_alx_api_reporting",
    "Course progress per user, course and company, maintained by the sync",
    (
        integer("userid"),
        integer("companyid"),
        integer("courseid"),
        char("firstname", 100),
        char("lastname", 100),
        char("email", 100),
        char("coursename", 255),
        integer("timecompleted", default="0"),
        integer("timestarted", default="0"),
        number("percentage", 5, 2, default="0"),
        char("status", 20, default="not_started"),
        integer("last_updated"),
        integer("is_deleted", 1, default="0"),
        integer("created_at"),
        integer("updated_at"),
    ),
    (
        unique("unique_user_course", "userid", "courseid", "companyid"),
        index("companyid", "companyid"),
        index("last_updated", "last_updated"),
        index("userid_courseid", "userid", "courseid"),
        index("timecompleted", "timecompleted"),
        index("status", "status"),
        index("is_deleted", "is_deleted"),
    ),
)

API_SYNC_STATUS = TableSpec(
    "local_alx_api_sync_status",
    "Last sync per company and client token hash",
    (
        integer("companyid"),
        char("token_hash", 64),
        integer("last_sync_timestamp", default="0"),
        char("sync_mode", 20, default="auto"),
        integer("sync_window_hours", 3, default="24"),
        integer("last_sync_records", default="0"),
        char("last_sync_status", 20, default="success"),
        text("last_sync_error"),
        integer("total_syncs", default="0"),
        integer("created_at"),
        integer("updated_at"),
    ),
    (
        unique("unique_company_token", "companyid", "token_hash"),
        index("companyid", "companyid"),
        index("token_hash", "token_hash"),
        index("last_sync_timestamp", "last_sync_timestamp"),
        index("sync_mode", "sync_mode"),
    ),
)

API_CACHE = TableSpec(
    "local_alx_api_cache",
    "Cached API answers per company and key",
    (
        char("cache_key", 255),
        integer("companyid"),
        text("cache_data", notnull=True),
        integer("cache_timestamp"),
        integer("expires_at"),
        integer("hit_count", default="0"),
        integer("last_accessed"),
    ),
    (
        unique("unique_cache_key", "cache_key", "companyid"),
        index("cache_key", "cache_key"),
        index("companyid", "companyid"),
        index("expires_at", "expires_at"),
        index("cache_timestamp", "cache_timestamp"),
    ),
)

API_ALERTS = TableSpec(
    "local_alx_api_alerts",
    "Alerts raised by monitoring, with severity and resolution",
    (
        char("alert_type", 50),
        char("severity", 20),
        text("message", notnull=True),
        text("alert_data"),
        char("hostname", 255, notnull=False),
        integer("timecreated"),
        integer("resolved", 1, default="0"),
    ),
    (
        index("alert_type", "alert_type"),
        index("severity", "severity"),
        index("timecreated", "timecreated"),
        index("resolved", "resolved"),
    ),
)

PLUGIN_TABLES = (API_LOGS, API_SETTINGS, API_REPORTING, API_SYNC_STATUS, API_CACHE, API_ALERTS)
