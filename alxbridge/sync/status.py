"""The plugin's own record of syncs, kept truthful so its pages (and the PHP plugin) read real values.

Per company, the hourly task's row in ``local_alx_api_sync_status`` (token ``cron_task_<id>``,
stored as its SHA-256 like every token there); globally, ``last_auto_sync`` and
``last_sync_stats`` in the plugin's config, with the keys its dashboards read. Unlike the plugin,
counts are real (B2) and a failed company's row says ``failed`` with the reason.
"""

import hashlib
import json

import sqlalchemy as sa

from ..db.prebuilt import prebuilt
from ..db.upsert import upsert_rows, upsert_statement
from ..moodle.plugin_settings import write_plugin_config

SYNC_STATUS_ERROR_LIMIT = 1000


def cron_token_hash(companyid):
    return hashlib.sha256(f"cron_task_{companyid}".encode()).hexdigest()


STATUS_KEY = ("companyid", "token_hash")
LATEST_COLUMNS = ("last_sync_timestamp", "last_sync_records", "last_sync_status", "last_sync_error", "updated_at")


def _status_row(companyid, token_hash, records, status, error, now):
    """A new ``local_alx_api_sync_status`` row (an existing one takes its :func:`_on_update`)."""
    return {
        "companyid": companyid, "token_hash": token_hash, "last_sync_timestamp": now, "last_sync_records": records,
        "last_sync_status": status, "last_sync_error": error[:SYNC_STATUS_ERROR_LIMIT] if error else None,
        "updated_at": now, "sync_mode": "auto", "sync_window_hours": 24, "total_syncs": 1, "created_at": now,
    }  # fmt: skip


def _on_update(table):
    return lambda new: {**{name: new[name] for name in LATEST_COLUMNS}, "total_syncs": table.c.total_syncs + 1}


@prebuilt
def _status_upsert(tables, dialect_name):
    table = tables.local_alx_api_sync_status
    return upsert_statement(dialect_name, table, STATUS_KEY, _on_update(table))


def record_sync_status(connection, tables, companyid, token_hash, records, status, error, now):
    """The plugin's ``update_sync_status``, as one atomic upsert (B35)."""
    row = _status_row(companyid, token_hash, records, status, error, now)
    connection.execute(_status_upsert(tables, connection.dialect.name), row)


def record_cron_sync(connection, tables, companyid, records, error, now):
    """The hourly task's sync_status row of the company: success with its record count, or failed."""
    status = "failed" if error else "success"
    record_sync_status(connection, tables, companyid, cron_token_hash(companyid), records, status, error, now)


def record_cron_successes(connection, tables, records, now):
    """:func:`record_cron_sync` of many successful companies in one statement; ``records`` maps company to count."""
    table = tables.local_alx_api_sync_status
    rows = [
        _status_row(companyid, cron_token_hash(companyid), count, "success", None, now)
        for companyid, count in sorted(records.items())
    ]
    if rows:
        upsert_rows(connection, table, STATUS_KEY, rows, _on_update(table))


def clear_company_cache(connection, tables, companyids):
    """Drop the companies' rows of the plugin's response cache, as the plugin's task does after a sync."""
    cache = tables.local_alx_api_cache
    if companyids:
        connection.execute(sa.delete(cache).where(cache.c.companyid.in_(sorted(companyids))))


def record_run_stats(connection, tables, result, now):
    """``last_auto_sync`` and ``last_sync_stats`` with the plugin's keys, plus the deletions it never counted."""
    stats = {
        "companies_processed": len(result.companies),
        "total_users_updated": sum(c.users_changed for c in result.companies),
        "total_records_updated": result.updated,
        "total_records_created": result.created,
        "total_records_deleted": result.deleted,
        "total_errors": len(result.failed),
        "companies_with_errors": [c.companyid for c in result.failed],
    }
    write_plugin_config(connection, tables, {"last_auto_sync": now, "last_sync_stats": json.dumps(stats)})
