"""The sync at a glance (the monitoring dashboard's Auto-Sync cards): last, next, status, today's records.

* **last sync**: the end of the latest run that finished (success or failure); ``last_auto_sync``
  in the plugin's config stands in on a site where only the PHP plugin's cron has run;
* **next sync**: the scheduler's next start of the sync job (:func:`~.sync.scheduler_health`), in the
  site's timezone, which the scheduler runs in;
* **status**: Running while a run is in progress, else Never synced, Failed when the latest run
  failed, Stale when the last success is older than the alert check's limit (two hours, as the
  product's monitoring guide asks), Not scheduled when the data is fresh but the scheduler does not
  keep the hourly sync's schedule (:class:`~.sync.SchedulerHealth`: nothing would keep it fresh),
  Healthy otherwise.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..alerts.rules import STALE_SYNC_AFTER
from .sync import SchedulerHealth, running_run, scheduler_health
from .sync_activity import records_changed_today


@dataclass(frozen=True)
class SyncOverview:
    now: int
    last_sync: int | None
    last_run: object  # local_alxbridge_sync_run row of the latest finished run, or None
    running: bool
    last_success: int | None
    next_sync: int
    scheduler: SchedulerHealth
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
        if self.stale:
            return "Stale"
        return "Healthy" if self.scheduler.job("sync").on_schedule else "Not scheduled"


def sync_overview(connection, tables, settings, moment):
    runs = tables.local_alxbridge_sync_run
    last_run = connection.execute(
        sa.select(runs).where(runs.c.status.in_(("success", "failed"))).order_by(runs.c.id.desc()).limit(1)
    ).first()
    last_success = connection.execute(sa.select(sa.func.max(runs.c.timefinished)).where(runs.c.status == "success"))
    scheduler = scheduler_health(connection, tables, moment.now, moment.timezone)
    created, updated = records_changed_today(connection, tables, moment)
    return SyncOverview(
        now=moment.now,
        last_sync=last_run.timefinished if last_run is not None else settings.last_auto_sync or None,
        last_run=last_run,
        running=running_run(connection, tables) is not None,
        last_success=last_success.scalar() or settings.last_auto_sync or None,
        next_sync=scheduler.job("sync").next_run,
        scheduler=scheduler,
        created_today=created,
        updated_today=updated,
    )
