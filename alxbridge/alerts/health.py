"""The system health score the alert check and the monitoring pages share.

The checks and the score are the plugin's (database latency, tables, web services, the API
service, data quality, configuration; score = 100 − 20 per issue − 10 per warning), with its bugs
fixed: the database thresholds come from ``db_response_time_threshold`` (B26), tokens that never
expire (``validuntil = 0``) count as active (B20), and an empty reporting table is "no data yet",
not a data-quality failure (B21), so a fresh install is not reported unhealthy.
"""

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..moodle.siteconfig import core_config
from ..moodle.tokens import active_token_count, plugin_service

PLUGIN_TABLES = (
    "local_alx_api_logs",
    "local_alx_api_settings",
    "local_alx_api_reporting",
    "local_alx_api_sync_status",
    "local_alx_api_cache",
    "local_alx_api_alerts",
)
MOODLE_TABLES = ("external_services", "external_tokens")
HIGH_RATE_LIMIT = 1000
HIGH_MAX_RECORDS = 5000


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warning | error
    detail: str


@dataclass
class Health:
    checks: list = field(default_factory=list)
    recommendations: list = field(default_factory=list)

    def add(self, name, status, detail, recommendation=None):
        self.checks.append(Check(name, status, detail))
        if recommendation:
            self.recommendations.append(recommendation)

    @property
    def issues(self):
        return sum(1 for c in self.checks if c.status == "error")

    @property
    def warnings(self):
        return sum(1 for c in self.checks if c.status == "warning")

    @property
    def score(self):
        return max(0, 100 - 20 * self.issues - 10 * self.warnings)

    @property
    def status(self):
        return "unhealthy" if self.issues else "warning" if self.warnings else "healthy"

    def as_data(self):
        return {
            "score": self.score,
            "status": self.status,
            "checks": {c.name: {"status": c.status, "detail": c.detail} for c in self.checks},
            "recommendations": list(self.recommendations),
        }


def _database_check(health, connection, tables, threshold_ms):
    started = time.perf_counter()
    connection.execute(sa.select(tables.config.c.value).where(tables.config.c.name == "version")).first()
    elapsed = (time.perf_counter() - started) * 1000
    detail = f"{elapsed:.1f} ms for a one-row query (threshold {threshold_ms} ms)"
    if elapsed > threshold_ms:
        health.add("database", "error", detail, "The database answers slowly: check its load and the network.")
    elif elapsed > threshold_ms / 4:
        health.add("database", "warning", detail)
    else:
        health.add("database", "ok", detail)


def _tables_check(health, connection, tables):
    present = set(sa.inspect(connection).get_table_names())
    wanted = [getattr(tables, name).name for name in PLUGIN_TABLES + MOODLE_TABLES]
    missing = [name for name in wanted if name not in present]
    if missing:
        health.add(
            "tables",
            "error",
            f"missing: {', '.join(missing)}",
            "Create the missing tables with: flask --app wsgi alx repair-tables",
        )
    else:
        health.add("tables", "ok", f"{len(wanted)} tables present")


def _web_services_check(health, connection, tables):
    if (core_config(connection, tables, "enablewebservices").get("enablewebservices") or "0") in ("", "0"):
        health.add(
            "webservices",
            "error",
            "web services are disabled",
            "Enable web services in Moodle (Site administration > Advanced features).",
        )
    else:
        health.add("webservices", "ok", "web services are enabled")


def _service_check(health, connection, tables, now):
    service = plugin_service(connection, tables)
    if service is None:
        health.add(
            "api_service",
            "error",
            "no alx_report_api_custom or alx_report_api service",
            "Create the external service and add local_alx_report_api_get_course_progress to it.",
        )
        return
    if not service.enabled:
        health.add("api_service", "warning", f"service {service.shortname} is disabled", "Enable the API service.")
        return
    active = active_token_count(connection, tables, service.id, now)
    health.add(
        "api_service",
        "ok",
        f"service {service.shortname} is enabled with {active} active token(s)",
        None if active else "No client can call the API yet: create a token for the service.",
    )


def _data_quality_check(health, connection, tables):
    reporting = tables.local_alx_api_reporting
    total, active = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((reporting.c.is_deleted == 0, 1), else_=0)), 0))
    ).one()
    if total == 0:
        health.add("data_quality", "ok", "no reporting rows yet (the first sync fills the table)")
        return
    quality = round(active * 100 / total, 1)
    detail = f"{active} of {total} reporting rows active ({quality}%)"
    advice = "Many reporting rows are tombstones: check enrolments and company membership."
    if quality > 80:
        health.add("data_quality", "ok", detail)
    elif quality > 50:
        health.add("data_quality", "warning", detail, advice)
    else:
        health.add("data_quality", "error", detail, advice)


def _configuration_check(health, settings):
    high = []
    if settings.rate_limit is not None and settings.rate_limit > HIGH_RATE_LIMIT:
        high.append(f"rate_limit {settings.rate_limit} > {HIGH_RATE_LIMIT}")
    if settings.max_records > HIGH_MAX_RECORDS:
        high.append(f"max_records {settings.max_records} > {HIGH_MAX_RECORDS}")
    if high:
        health.add("configuration", "warning", "; ".join(high), "Lower the limits unless clients need them.")
    else:
        health.add("configuration", "ok", "limits within the recommended ranges")


def system_health(connection, tables, settings, now):
    """The :class:`Health` of the bridge and the Moodle site it serves, as of ``now``."""
    health = Health()
    _database_check(health, connection, tables, settings.db_response_time_threshold_ms)
    _tables_check(health, connection, tables)
    _web_services_check(health, connection, tables)
    _service_check(health, connection, tables, now)
    _data_quality_check(health, connection, tables)
    _configuration_check(health, settings)
    return health
