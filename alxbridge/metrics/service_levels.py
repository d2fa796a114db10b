"""The service levels the alert rules watch (the product documents' thresholds), over one window.

* **average response**, **error rate** and **cache hit rate**: exactly as :mod:`.api_usage` and
  :mod:`.cache` define them for the monitoring pages (logged calls; hits ÷ cache lookups);
* **success rate of attempts**: calls answered without error ÷ every attempt, the calls refused
  before any function ran (bad or expired tokens, the abuse shield: :mod:`.refusals`) included.
  The error rate sees only the calls the API ran; this one also sees clients that cannot get in;
* **API log rows**: how many rows ``local_alx_api_logs`` holds, the table that grows with every call
  (the storage rule: a database server's free disk is not something the bridge can see).
"""

from dataclasses import dataclass

import sqlalchemy as sa

from .api_usage import CallCounts, call_stats, percent
from .cache import CacheOutcomes, cache_outcomes
from .refusals import refusal_summary


@dataclass(frozen=True)
class ServiceLevels(CallCounts):
    """The window's logged calls (their error rate is :class:`~.api_usage.CallCounts`'), plus what the rules add."""

    refused: int  # attempts refused before any function ran
    avg_response_ms: float | None
    cache: CacheOutcomes

    @property
    def attempts(self):
        return self.calls + self.refused

    @property
    def attempt_success_rate(self):
        """Calls answered without error ÷ every attempt, refused ones included."""
        return percent(self.successful, self.attempts)


def service_levels(connection, tables, since, until):
    stats = call_stats(connection, tables, since, until)
    refusals = refusal_summary(connection, tables, since, until)
    return ServiceLevels(
        calls=stats.calls,
        errors=stats.errors,
        refused=refusals.failed_auth + refusals.blocked,
        avg_response_ms=stats.avg_response_ms,
        cache=cache_outcomes(connection, tables, since, until),
    )


def api_log_rows(connection, tables):
    logs = tables.local_alx_api_logs
    return connection.execute(sa.select(sa.func.count()).select_from(logs)).scalar()
