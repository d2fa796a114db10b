""" "Test all endpoints" on the performance page: five timed probes of what the API depends on.

The plugin's five: the API service, the companies, the reporting table, the tokens and a cache
round trip (Moodle's MUC there, the bridge's page cache here). Each probe runs on its own
connection and reports Active, Warning (works, but the API cannot serve yet) or Error.
"""

import time
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from ..moodle.tokens import plugin_service
from ..operations.errors import BridgeError
from .limits import all_companies
from .overview import active_reporting_rows
from .tokens import token_counts


@dataclass(frozen=True)
class Probe:
    endpoint: str
    status: str  # Active | Warning | Error
    response_time: str  # "12.3ms", or "N/A" when the probe failed
    details: str

    def as_json(self):
        return {
            "endpoint": self.endpoint, "status": self.status, "response_time": self.response_time,
            "details": self.details,
        }  # fmt: skip


def _service(connection, tables, now):
    service = plugin_service(connection, tables)
    if service is None:
        return "Error", "No alx_report_api_custom or alx_report_api service"
    if not service.enabled:
        return "Warning", f"Service ID: {service.id} ({service.shortname}) is disabled"
    return "Active", f"Service ID: {service.id} ({service.shortname})"


def _companies(connection, tables, now):
    count = len(all_companies(connection, tables))
    return ("Active" if count else "Warning"), f"{count} companies found"


def _reporting(connection, tables, now):
    count = active_reporting_rows(connection, tables)
    return ("Active" if count else "Warning"), f"{count} records"


def _tokens(connection, tables, now):
    count = token_counts(connection, tables, now).active
    return ("Active" if count else "Warning"), f"{count} active tokens configured"


DATABASE_PROBES = (
    ("API service", _service),
    ("Companies", _companies),
    ("Reporting table", _reporting),
    ("API tokens", _tokens),
)


def _timed(endpoint, probe):
    started = time.perf_counter()
    try:
        status, details = probe()
    except (DBAPIError, BridgeError) as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())[:200]
        return Probe(endpoint, "Error", "N/A", reason)
    return Probe(endpoint, status, f"{(time.perf_counter() - started) * 1000:.1f}ms", details)


def _cache_round_trip(cache):
    key = f"alx-probe:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", timeout=60)
        kept = cache.get(key) == "ok"
        cache.delete(key)
    except Exception as error:  # any backend failure (e.g. Redis down) is the probe's finding
        raise BridgeError(f"the page cache failed: {error}") from error
    if kept:
        return "Active", "wrote, read back and deleted a probe entry"
    return "Warning", "the cache kept nothing (ALX_CACHE_URL=null turns caching off)"


def run_probes(database, cache, now):
    """The five :class:`Probe` results, in the plugin's order."""
    results = []
    for endpoint, probe in DATABASE_PROBES:

        def run(probe=probe):
            with database.connect() as connection:
                return probe(connection, database.tables, now)

        results.append(_timed(endpoint, run))
    results.append(_timed("Response cache", lambda: _cache_round_trip(cache)))
    return results
