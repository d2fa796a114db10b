"""The sync at a glance (the monitoring dashboard's Auto-Sync cards): last, next, status, today's records.

* **last sync**: the end of the latest run that finished (success or failure); ``last_auto_sync``
  in the plugin's config stands in on a site where only the PHP plugin's cron has run;
* **next sync**: the scheduler's next start of the sync job (:func:`~.sync.scheduler_health`);
* **status**: Running while a run is in progress, else Never synced, Failed when the latest run
  failed, Stale when the last success is older than the alert check's limit (two hours, as the
  product's monitoring guide asks), Healthy otherwise.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..alerts.rules import STALE_SYNC_AFTER
from .sync import running_run, scheduler_health
from .sync_activity import records_changed_today


@dataclass(frozen=True)
class SyncOverview:
    now: int
    last_sync: int | None
    last_run: object  # local_alxbridge_sync_run row of the latest finished run, or None
    running: bool
    last_success: int | None
    next_sync: int
    on_schedule: bool  # the scheduler ran the sync's last slot on time
    created_today: int
    updated_today: int

    @property
    def stale(self):
        return self.last_success is None or self.now - self.last_success > STALE_SYNC_AFTER

    @property
    def status(self):
        if self.running:
            return "Running"
        if self.last_sync is None:
            return "Never synced"
        if self.last_run is not None and self.last_run.status == "failed":
            return "Failed"
        return "Stale" if self.stale else "Healthy"


def sync_overview(connection, tables, settings, moment, scheduler_timezone):
    runs = tables.local_alxbridge_sync_run
    last_run = connection.execute(
        sa.select(runs).where(runs.c.status.in_(("success", "failed"))).order_by(runs.c.id.desc()).limit(1)
    ).first()
    last_success = connection.execute(sa.select(sa.func.max(runs.c.timefinished)).where(runs.c.status == "success"))
    jobs = scheduler_health(connection, tables, moment.now, scheduler_timezone)
    job = next(job for job in jobs if job.name == "sync")
    created, updated = records_changed_today(connection, tables, moment)
    return SyncOverview(
        now=moment.now,
        last_sync=last_run.timefinished if last_run is not None else settings.last_auto_sync or None,
        last_run=last_run,
        running=running_run(connection, tables) is not None,
        last_success=last_success.scalar() or settings.last_auto_sync or None,
        next_sync=job.next_run,
        on_schedule=job.on_schedule,
        created_today=created,
        updated_today=updated,
    )
