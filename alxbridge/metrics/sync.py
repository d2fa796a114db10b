"""The sync's numbers for the auto-sync page: the last run's statistics, run records, scheduler health.

Runs per day and the per-company sync table are :mod:`.sync_activity`'s (the monitoring
dashboard shows them too). Scheduler health replaces the plugin's ``task_scheduled`` and
``lastcronstart``: the bridge's own scheduler records its start and each job's last scheduled slot
in ``local_alxbridge_job``.
"""

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from ..jobs.runner import SCHEDULER_ROW
from ..jobs.scheduler import JOBS
from ..moodle.plugin_settings import read_plugin_settings
from .api_usage import percent
from .sync_activity import ENDED

LATE_AFTER_PERIODS = 2  # a scheduled job is late when its last slot is older than two of its periods
RECENT_RUNS = 10
JOB_CADENCES = {"sync": "hourly, at minute 0", "alerts": "every 15 minutes", "retention": "daily at 03:30"}


@dataclass(frozen=True)
class LastSyncStats:
    """``last_sync_stats`` and ``last_auto_sync`` as the last run over every company wrote them."""

    last_auto_sync: int
    companies_processed: int = 0
    users_updated: int = 0
    records_updated: int = 0
    records_created: int = 0
    records_deleted: int = 0
    errors: int = 0
    companies_with_errors: tuple = ()


def last_sync_stats(connection, tables):
    settings = read_plugin_settings(connection, tables)
    try:
        stats = json.loads(settings.raw.get("last_sync_stats") or "{}")
    except ValueError:
        stats = {}
    if not isinstance(stats, dict):
        stats = {}

    def number(key):
        value = stats.get(key)
        return value if isinstance(value, int) else 0

    return LastSyncStats(
        last_auto_sync=settings.last_auto_sync,
        companies_processed=number("companies_processed"),
        users_updated=number("total_users_updated"),
        records_updated=number("total_records_updated"),
        records_created=number("total_records_created"),
        records_deleted=number("total_records_deleted"),
        errors=number("total_errors"),
        companies_with_errors=tuple(stats.get("companies_with_errors") or ()),
    )


@dataclass(frozen=True)
class JobHealth:
    name: str
    cadence: str
    period: int
    last_slot: int  # start of the last slot the scheduler ran (0: never)
    last_status: str
    last_message: str
    timestarted: int  # the last run by anyone (scheduler, CLI, admin pages)
    timefinished: int
    next_run: int
    state: str  # one of JOB_STATES

    @property
    def on_schedule(self):
        return self.state in KEEPING_SCHEDULE


JOB_STATES = ("On schedule", "First run due", "Late", "Never ran")
KEEPING_SCHEDULE = ("On schedule", "First run due")


def _job_state(now, started, last_slot, period):
    """A job is on schedule when its last slot is at most :data:`LATE_AFTER_PERIODS` periods old; a job whose
    scheduler started more recently than that, and has not reached its first slot since, is not late yet."""
    if last_slot and now - last_slot <= LATE_AFTER_PERIODS * period:
        return "On schedule"
    if started and last_slot < started and now - started <= LATE_AFTER_PERIODS * period:
        return "First run due"
    return "Late" if last_slot else "Never ran"


@dataclass(frozen=True)
class SchedulerHealth:
    """The one definition of "the scheduler is healthy", for every page that says it.

    **Running** when every job keeps its schedule (on schedule, or started too recently to be
    due); **Not running** when none does (never started, or stopped); **Late** in between. Times
    and schedules are in the site's timezone, the zone the scheduler runs in (``timezone``);
    ``scheduler_timezone`` is the zone the scheduler last started with, when it recorded one.
    """

    started: int  # the last start of a scheduler process (0: none recorded)
    scheduler_timezone: str
    timezone: str
    jobs: tuple  # JobHealth per scheduled job

    @property
    def status(self):
        keeping = [job.on_schedule for job in self.jobs]
        return "Running" if all(keeping) else "Late" if any(keeping) else "Not running"

    @property
    def healthy(self):
        return self.status == "Running"

    @property
    def zone_mismatch(self):
        """The scheduler runs on another zone than the site's (Moodle's timezone changed since it started)."""
        return bool(self.scheduler_timezone) and self.scheduler_timezone != self.timezone

    def job(self, name):
        return next(job for job in self.jobs if job.name == name)

    @property
    def problems(self):
        """Each job that does not keep its schedule, in words."""
        return [f"{job.name}: {job.state.lower()}" for job in self.jobs if not job.on_schedule]


def _scheduler_start(row):
    if row is None:
        return 0, ""
    try:
        zone = json.loads(row.last_message or "{}").get("timezone", "")
    except (ValueError, AttributeError):
        zone = ""
    return row.timestarted or 0, zone


def scheduler_health(connection, tables, now, timezone):
    """The :class:`SchedulerHealth` at ``now``; ``timezone``: the site's, where next runs are computed."""
    table = tables.local_alxbridge_job
    names = [job.name for job in JOBS] + [SCHEDULER_ROW]
    rows = {row.name: row for row in connection.execute(sa.select(table).where(table.c.name.in_(names)))}
    started, scheduler_zone = _scheduler_start(rows.get(SCHEDULER_ROW))
    moment = datetime.fromtimestamp(now, timezone)
    jobs = []
    for job in JOBS:
        row = rows.get(job.name)
        last_slot = row.last_slot if row else 0
        next_run = CronTrigger(**job.cron, timezone=timezone).get_next_fire_time(None, moment)
        jobs.append(
            JobHealth(
                name=job.name,
                cadence=JOB_CADENCES.get(job.name, ""),
                period=job.period,
                last_slot=last_slot,
                last_status=(row.last_status if row else "") or "",
                last_message=(row.last_message if row else "") or "",
                timestarted=row.timestarted if row else 0,
                timefinished=row.timefinished if row else 0,
                next_run=int(next_run.timestamp()),
                state=_job_state(now, started, last_slot, job.period),
            )
        )
    return SchedulerHealth(started, scheduler_zone, str(timezone), tuple(jobs))


def average_run_seconds(connection, tables, since, until):
    """Mean duration in seconds (one decimal) of the runs started in ``[since, until]`` that ended, else ``None``."""
    runs = tables.local_alxbridge_sync_run
    average = connection.execute(
        sa.select(sa.func.avg(runs.c.timefinished - runs.c.timestarted)).where(
            runs.c.timestarted >= since, runs.c.timestarted <= until, runs.c.status.in_(ENDED)
        )
    ).scalar()
    return None if average is None else round(float(average), 1)


def recent_runs(connection, tables, limit=RECENT_RUNS):
    runs = tables.local_alxbridge_sync_run
    return connection.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).all()


def sync_run(connection, tables, runid):
    runs = tables.local_alxbridge_sync_run
    return connection.execute(sa.select(runs).where(runs.c.id == runid)).first()


def running_run(connection, tables):
    """The run in progress, if any (the sync lock allows one)."""
    runs = tables.local_alxbridge_sync_run
    return connection.execute(
        sa.select(runs).where(runs.c.status == "running").order_by(runs.c.id.desc()).limit(1)
    ).first()


def api_configured_companies(connection, tables):
    """Companies with at least one row of their own in ``local_alx_api_settings`` (the plugin's "API Configured")."""
    settings, company = tables.local_alx_api_settings, tables.company
    return connection.execute(
        sa.select(sa.func.count(sa.distinct(settings.c.companyid))).join(company, company.c.id == settings.c.companyid)
    ).scalar()


@dataclass(frozen=True)
class TrendSummary:
    """The side numbers of the 7-day chart, from :func:`~alxbridge.metrics.sync_activity.sync_days`."""

    ended: int
    successful: int
    days: int

    @property
    def success_rate(self):
        return percent(self.successful, self.ended)

    @property
    def per_day(self):
        return round(self.ended / self.days, 1) if self.days else 0


def trend_summary(days):
    return TrendSummary(sum(day.ended for day in days), sum(day.succeeded for day in days), len(days))
