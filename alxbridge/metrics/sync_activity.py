"""What the hourly sync did: its runs, its state per company, and the reporting rows it wrote today.

Sources, all written by the bridge's sync: ``local_alxbridge_sync_run`` (one row per run, kept for
the log retention period — the plugin had only ``last_sync_stats`` and the latest
``local_alx_api_sync_status`` row, so its 7-day chart undercounted), the hourly task's
``local_alx_api_sync_status`` row per company (token ``cron_task_<id>``), and the reporting rows'
``created_at`` / ``updated_at``.

* **created today**: rows with ``created_at`` since midnight; **updated today**: rows created
  before midnight and written since (a row tombstoned today is an update), so no row counts twice;
* **7-day success rate**: successful runs ÷ runs that ended (failed and aborted runs included),
  per local calendar day the run started on.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..sync.status import cron_token_hash
from .api_usage import bucket_index, percent
from .limits import all_companies

ENDED = ("success", "failed", "aborted")


def _changed_today(reporting, midnight):
    created = reporting.c.created_at >= midnight
    updated = sa.and_(reporting.c.updated_at >= midnight, reporting.c.created_at < midnight)
    return (sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0) for condition in (created, updated))


def records_changed_today(connection, tables, moment):
    """``(created, updated)``: reporting rows created since midnight, and rows created before and written since."""
    reporting = tables.local_alx_api_reporting
    created, updated = connection.execute(sa.select(*_changed_today(reporting, moment.midnight))).one()
    return int(created), int(updated)


@dataclass(frozen=True)
class SyncDay:
    label: str
    succeeded: int = 0
    ended: int = 0

    @property
    def failed(self):
        return self.ended - self.succeeded

    @property
    def success_rate(self):
        return percent(self.succeeded, self.ended)


def sync_days(connection, tables, moment, days=7):
    """One :class:`SyncDay` per local calendar day, oldest first, today last."""
    runs = tables.local_alxbridge_sync_run
    buckets = moment.day_buckets(days)
    index = bucket_index(runs.c.timestarted, buckets)
    rows = connection.execute(
        sa.select(index, sa.func.sum(sa.case((runs.c.status == "success", 1), else_=0)), sa.func.count())
        .where(runs.c.timestarted >= buckets[0][0], runs.c.timestarted <= moment.now, runs.c.status.in_(ENDED))
        .group_by(index)
    )
    found = {int(position): (int(succeeded), ended) for position, succeeded, ended in rows}
    return [SyncDay(label, *found.get(position, ())) for position, (_, _, label) in enumerate(buckets)]


@dataclass(frozen=True)
class CompanySync:
    company: object  # reporting.company.Company
    active_records: int
    created_today: int
    updated_today: int
    last_written: int | None  # latest updated_at of the company's rows
    last_sync: int | None
    last_sync_status: str | None
    last_sync_records: int | None
    last_sync_error: str | None

    @property
    def status(self):
        if self.last_sync_status == "failed":
            return "Failed"
        if self.last_sync is None:
            return "Never synced"
        return "Active" if self.created_today or self.updated_today else "Synced"


def company_syncs(connection, tables, moment):
    """Every company with its reporting rows and the hourly task's last sync of it, by name."""
    reporting, status = tables.local_alx_api_reporting, tables.local_alx_api_sync_status
    counts = {
        row[0]: row[1:]
        for row in connection.execute(
            sa.select(
                reporting.c.companyid, sa.func.sum(sa.case((reporting.c.is_deleted == 0, 1), else_=0)),
                *_changed_today(reporting, moment.midnight), sa.func.max(reporting.c.updated_at),
            ).group_by(reporting.c.companyid)
        )
    }  # fmt: skip
    companies = all_companies(connection, tables)
    hashes = {cron_token_hash(company.id): company.id for company in companies}
    syncs = {
        hashes[row.token_hash]: row
        for row in connection.execute(sa.select(status).where(status.c.token_hash.in_(list(hashes))))
        if hashes.get(row.token_hash) == row.companyid
    }
    result = []
    for company in companies:
        active, created, updated, written = counts.get(company.id, (0, 0, 0, None))
        sync = syncs.get(company.id)
        result.append(
            CompanySync(
                company, int(active), int(created), int(updated), written,
                sync.last_sync_timestamp if sync else None, sync.last_sync_status if sync else None,
                sync.last_sync_records if sync else None, sync.last_sync_error if sync else None,
            )
        )  # fmt: skip
    return result
