"""The response cache: the plugin's cache table, and the real hit rate the audit log records.

The plugin's "cache hit rate" was the share of ``local_alx_api_cache`` rows not yet expired — a
count of entries, not of hits. The bridge keeps its page cache in Flask-Caching (entries are keyed
by data version and never go stale) and records in every call's ``additional_data`` whether the
page came from the cache (``"cache_hit": true``). Hence:

* **hit rate** = cache hits ÷ calls that looked in the cache, i.e. calls whose page was served from
  synced data (``mode`` other than ``live``: a company never synced is read live, with no cache).
  A company whose ``cache_ttl_minutes`` is 0 has caching off, so its calls count as misses;
* **cache share** (the "data source" of a company) = cache hits ÷ calls that served a page.

The table's rows (written by the PHP plugin; the bridge only deletes them, after a company's sync
and when they expire) are still shown: total, active (``expires_at > now``) and expired.
"""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from .api_usage import percent


@dataclass(frozen=True)
class CacheRows:
    total: int = 0
    active: int = 0
    hits: int = 0  # SUM(hit_count) of the rows

    @property
    def expired(self):
        return self.total - self.active


def _row_counts(cache, now):
    active = sa.func.coalesce(sa.func.sum(sa.case((cache.c.expires_at > now, 1), else_=0)), 0)
    return sa.func.count(), active, sa.func.coalesce(sa.func.sum(cache.c.hit_count), 0)


def cache_rows(connection, tables, now):
    cache = tables.local_alx_api_cache
    total, active, hits = connection.execute(sa.select(*_row_counts(cache, now))).one()
    return CacheRows(total, int(active), int(hits))


def cache_rows_by_company(connection, tables, now):
    """``{companyid: CacheRows}`` for the companies that have cache rows."""
    cache = tables.local_alx_api_cache
    rows = connection.execute(sa.select(cache.c.companyid, *_row_counts(cache, now)).group_by(cache.c.companyid))
    return {companyid: CacheRows(total, int(active), int(hits)) for companyid, total, active, hits in rows}


def delete_cache_rows(connection, tables, companyid=None):
    """Delete the cache table's rows (of one company, or all); return how many. Nothing else is touched."""
    cache = tables.local_alx_api_cache
    query = sa.delete(cache)
    if companyid is not None:
        query = query.where(cache.c.companyid == companyid)
    return connection.execute(query).rowcount


def delete_expired_cache_rows(connection, tables, now):
    """Delete the rows that are no longer active (``expires_at <= now``); return how many."""
    cache = tables.local_alx_api_cache
    return connection.execute(sa.delete(cache).where(cache.c.expires_at <= now)).rowcount


@dataclass(frozen=True)
class CacheOutcomes:
    served: int = 0  # calls that served a page
    lookups: int = 0  # of which looked in the cache
    hits: int = 0

    def __add__(self, other):
        return CacheOutcomes(self.served + other.served, self.lookups + other.lookups, self.hits + other.hits)

    @property
    def hit_rate(self):
        return percent(self.hits, self.lookups)

    @property
    def cache_share(self):
        return percent(self.hits, self.served)

    @property
    def direct_share(self):
        return percent(self.served - self.hits, self.served)


def cache_outcomes_by_user(connection, tables, since, until):
    """``{userid: CacheOutcomes}`` of the calls in the window, read from their ``additional_data``."""
    logs = tables.local_alx_api_logs
    rows = connection.execute(
        sa.select(logs.c.userid, logs.c.additional_data).where(
            logs.c.timeaccessed >= since, logs.c.timeaccessed <= until, logs.c.additional_data.like('%"cache_hit"%')
        )
    )
    outcomes = {}
    for userid, data in rows:
        try:
            details = json.loads(data)
        except ValueError:
            continue
        if not isinstance(details, dict) or "cache_hit" not in details:
            continue
        hit = details["cache_hit"] is True
        outcome = CacheOutcomes(1, int(details.get("mode") != "live"), int(hit))
        outcomes[userid] = outcomes.get(userid, CacheOutcomes()) + outcome
    return outcomes


def cache_outcomes(connection, tables, since, until):
    """The site's :class:`CacheOutcomes` in the window."""
    return sum(cache_outcomes_by_user(connection, tables, since, until).values(), CacheOutcomes())
