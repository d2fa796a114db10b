"""Daily retention: delete what the plugin let grow for ever (B26), a bounded batch per transaction.

* API log rows and alerts older than ``log_retention_days`` (0 keeps them for ever), and the
  bridge's sync run records on the same schedule;
* cache rows of the plugin's response cache past ``expires_at``;
* reporting tombstones older than :data:`TOMBSTONE_RETENTION_DAYS`; each purged company's
  ``tombstone_horizon`` moves up in the same transaction, so a client that last read before the
  purge is served in full rather than missing deletions.

* who acknowledged or resolved an alert, once the alert itself is deleted;
* refused calls (:mod:`alxbridge.webservice.refusals`) older than ``log_retention_days``, and never
  kept longer than :data:`REFUSAL_RETENTION_DAYS`, so the table stays bounded;
* read sessions that can no longer matter: abandoned open ones (idle past
  :data:`~alxbridge.reporting.sessions.IDLE_SECONDS`) and completed ones superseded by a later
  completed session of the same token and company (the latest one is the token's acknowledgement).

Each batch deletes at most :data:`BATCH` rows by primary key, so the database never holds long
locks on tables that Moodle and the web service keep using.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.plugin_settings import read_plugin_settings
from ..reporting.sessions import IDLE_SECONDS
from ..sync.state import raise_tombstone_horizon

BATCH = 5000
DAY = 86400
TOMBSTONE_RETENTION_DAYS = 35  # longer than any client may reasonably go between two incremental reads
REFUSAL_RETENTION_DAYS = 30  # refused calls are kept this long at most, even when logs are kept for ever


@dataclass(frozen=True)
class Purge:
    name: str
    table: sa.Table
    condition: sa.ColumnElement
    before_delete: Callable | None = None  # (connection, rows of the batch) → None


def _tombstone_horizons(tables, now):
    def before_delete(connection, rows):
        horizons = {}
        for row in rows:
            horizons[row.companyid] = max(horizons.get(row.companyid, 0), row.last_updated)
        for companyid, horizon in horizons.items():
            raise_tombstone_horizon(connection, tables, companyid, horizon, now)

    return before_delete


def _finished_read_sessions(sessions, now):
    newer = sessions.alias("newer")
    superseded = sa.exists().where(
        newer.c.token_hash == sessions.c.token_hash,
        newer.c.companyid == sessions.c.companyid,
        newer.c.status == "completed",
        newer.c.id > sessions.c.id,
    )
    abandoned = sa.and_(sessions.c.status == "open", sessions.c.timeused < now - IDLE_SECONDS)
    return sa.or_(abandoned, sa.and_(sessions.c.status == "completed", superseded))


def purges(tables, settings, now):
    """What to delete as of ``now`` under ``settings``."""
    logs, alerts, runs = tables.local_alx_api_logs, tables.local_alx_api_alerts, tables.local_alxbridge_sync_run
    cache, reporting = tables.local_alx_api_cache, tables.local_alx_api_reporting
    sessions, quota = tables.local_alxbridge_read_session, tables.local_alxbridge_quota
    refusals, handling = tables.local_alxbridge_refusal, tables.local_alxbridge_alert_handling
    refusal_days = min(filter(None, (settings.log_retention_days, REFUSAL_RETENTION_DAYS)))
    found = []
    if settings.log_retention_days > 0:
        cutoff = now - settings.log_retention_days * DAY
        found += [
            Purge("API log rows", logs, logs.c.timeaccessed < cutoff),
            Purge("alerts", alerts, alerts.c.timecreated < cutoff),
            Purge("sync run records", runs, sa.and_(runs.c.timestarted < cutoff, runs.c.status != "running")),
        ]
    found += [
        Purge("expired cache rows", cache, cache.c.expires_at < now),
        Purge(
            "old tombstones",
            reporting,
            sa.and_(reporting.c.is_deleted == 1, reporting.c.last_updated < now - TOMBSTONE_RETENTION_DAYS * DAY),
            _tombstone_horizons(tables, now),
        ),
        Purge("finished read sessions", sessions, _finished_read_sessions(sessions, now)),
        # A day's quota count is read on that day only; two days back covers every timezone's "today".
        Purge("past quota days", quota, quota.c.day < now - 2 * DAY),
        Purge("refused calls", refusals, refusals.c.timeminute < now - refusal_days * DAY),
        # Runs after the alerts' purge: who handled an alert goes with the alert.
        Purge("alert handling", handling, ~sa.exists().where(alerts.c.id == handling.c.alertid)),
    ]
    return found


def _purge(database, purge):
    table, deleted = purge.table, 0
    columns = [table.c.id] + ([table.c.companyid, table.c.last_updated] if purge.before_delete else [])
    while True:
        with database.begin() as connection:
            rows = connection.execute(
                sa.select(*columns).where(purge.condition).order_by(table.c.id).limit(BATCH)
            ).all()
            if rows:
                if purge.before_delete:
                    purge.before_delete(connection, rows)
                connection.execute(sa.delete(table).where(table.c.id.in_([row.id for row in rows])))
        deleted += len(rows)
        if len(rows) < BATCH:
            return deleted


def run_retention(database, *, on_purge=None):
    """Apply every purge; return ``{purge name: rows deleted}``.

    ``on_purge(name, deleted, done, total)`` reports progress after each purge.
    """
    with database.connect() as connection:
        settings = read_plugin_settings(connection, database.tables)
    counts = {}
    todo = purges(database.tables, settings, database.now())
    for done, purge in enumerate(todo, 1):
        counts[purge.name] = _purge(database, purge)
        if on_purge is not None:
            on_purge(purge.name, counts[purge.name], done, len(todo))
    return counts
