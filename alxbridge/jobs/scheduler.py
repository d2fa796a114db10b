"""APScheduler inside the app: hourly sync at minute 0, alert check every 15 minutes, retention daily, and
the sync tick every ``ALX_SYNC_TICK_SECONDS`` (:mod:`alxbridge.sync.tick`).

Every worker (and host) may run its own scheduler: each job body runs under the job's database
lock and records its slot (the hour, quarter or day it belongs to), so exactly one process does
each run and late starts of the same slot are skipped (see :mod:`alxbridge.jobs.runner`). The tick does the
same with its own slot, kept with its place in the log, and takes the sync's lock: one tick at a time
site-wide, never during a sync run.

Starting: ``init_scheduler(app)`` (called by ``create_app``) does nothing when ``ALX_SCHEDULER`` is
``off`` or the app is ``TESTING``; otherwise the scheduler starts with the first request the process
serves, never at import. That keeps it out of a ``gunicorn --preload`` master (threads do not survive
``fork``) and gives each worker its own. With a pre-forking server, also dispose of a database
engine created before the fork, in ``gunicorn.conf.py``::

    def post_fork(server, worker):
        from wsgi import app
        from alxbridge.jobs.scheduler import after_fork
        after_fork(app)

For a dedicated scheduler process instead, set ``ALX_SCHEDULER=off`` for the web workers and run
``flask --app wsgi alx scheduler`` as its own service.
"""

import atexit
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..alerts import check_alerts
from ..moodle.siteconfig import server_timezone, site_timezone
from ..operations.errors import BridgeError
from ..sync.runs import run_sync
from ..sync.tick import record_tick_failure, run_tick
from .retention import run_retention
from .runner import record_scheduler_start, run_job

log = logging.getLogger(__name__)
TICK = "tick"


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    cron: dict  # CronTrigger fields
    period: int  # seconds per slot: runs in the same slot after the first are skipped
    body: Callable  # (app, lock) → (status, message, result)


def sync_job(app, lock, **options):
    """One sync run (``options`` as for :func:`~alxbridge.sync.runs.run_sync`)."""
    result = run_sync(app.extensions["alx_database"], lock=lock, **options)
    return result.status, result.summary(), result


def alert_job(app, lock):
    """One alert check, mailing through ``ALX_SMTP_URL``."""
    result = check_alerts(
        app.extensions["alx_database"],
        smtp_url=app.config.get("ALX_SMTP_URL"),
        site_url=app.config.get("ALX_MOODLE_WWWROOT"),
        timezone=app.config.get("ALX_TIMEZONE"),
        tick_seconds=app.config.get("ALX_SYNC_TICK_SECONDS") or 0,
    )
    return ("failed" if result.mail_failures or result.post_failures else "success"), result.summary(), result


def retention_job(app, lock, on_purge=None):
    """One retention pass."""
    counts = run_retention(app.extensions["alx_database"], on_purge=on_purge)
    return "success", f"{sum(counts.values())} row(s) deleted", counts


JOBS = (
    ScheduledJob("sync", {"minute": 0}, 3600, lambda app, lock: sync_job(app, lock, origin="scheduler")),
    ScheduledJob("alerts", {"minute": "*/15"}, 900, alert_job),
    ScheduledJob("retention", {"hour": 3, "minute": 30}, 86400, retention_job),
)


def run_scheduled(app, job):
    """One scheduled start of ``job``: run it unless another process holds it or already ran the slot."""
    database = app.extensions["alx_database"]
    slot = database.now() // job.period * job.period
    try:
        outcome = run_job(database, job.name, lambda lock: job.body(app, lock), slot=slot)
    except Exception:
        log.exception("scheduled job %s failed", job.name)
        return
    if outcome.ran:
        log.info("scheduled job %s %s: %s", job.name, outcome.status, outcome.message)
    else:
        log.info("scheduled job %s skipped: %s", job.name, outcome.skipped_because)


def run_scheduled_tick(app, interval):
    """One scheduled tick: its slot is this interval of time, which one process in the site runs."""
    database = app.extensions["alx_database"]
    try:
        result = run_tick(database, slot=database.now() // interval * interval)
    except Exception as error:
        log.exception("sync tick failed")
        try:
            record_tick_failure(database, error)
        except Exception:  # noqa: BLE001 - the database itself may be what failed: the log line above says it
            log.warning("sync tick: its failure could not be recorded")
        return
    if result.skipped_because:
        log.debug("sync tick skipped: %s", result.skipped_because)


def scheduler_zone(app):
    """The site's timezone (the one every admin page shows times in), so "daily at 03:30" is the site's 03:30.

    Read once when the scheduler is built: after a change of Moodle's timezone the admin pages say that
    the scheduler must be restarted. Without a readable site the server's zone is used.
    """
    database = app.extensions["alx_database"]
    try:
        with database.connect() as connection:
            return site_timezone(connection, database.tables, app.config.get("ALX_TIMEZONE"))
    except (BridgeError, sa.exc.SQLAlchemyError) as error:
        log.warning("scheduler: the site's timezone could not be read (%s); using the server's", error)
        return server_timezone()


def note_start(app, zone):
    """Record that the scheduler started (for the admin pages' scheduler health); never stops it from starting."""
    try:
        record_scheduler_start(app.extensions["alx_database"], zone)
    except (BridgeError, sa.exc.SQLAlchemyError):
        log.warning("scheduler: its start could not be recorded (the database is unavailable)")


def build_scheduler(app, scheduler_class=BackgroundScheduler):
    """A scheduler with the three jobs and the sync tick, in the site's timezone (:func:`scheduler_zone`)."""
    zone = scheduler_zone(app)
    scheduler = scheduler_class(timezone=zone)
    scheduler.add_listener(lambda event: note_start(app, zone), EVENT_SCHEDULER_STARTED)
    for job in JOBS:
        scheduler.add_job(
            run_scheduled,
            CronTrigger(**job.cron, timezone=scheduler.timezone),
            args=(app, job),
            id=job.name,
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.period // 2,
        )
    interval = app.config.get("ALX_SYNC_TICK_SECONDS") or 0
    if interval > 0:
        scheduler.add_job(
            run_scheduled_tick,
            IntervalTrigger(seconds=interval),
            args=(app, interval),
            id=TICK,
            name=TICK,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, interval // 2),
        )
    return scheduler


class _ProcessScheduler:
    """The scheduler of this process, started once per process id (a forked child starts its own)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None
        self.scheduler = None

    def ensure_started(self, app):
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self.scheduler = build_scheduler(app)
            self.scheduler.start()
            self._pid = os.getpid()
            atexit.register(self.stop)
            log.info("scheduler started in process %s", self._pid)

    def stop(self):
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def scheduler_enabled(app):
    return not app.config.get("TESTING") and str(app.config.get("ALX_SCHEDULER", "on")).lower() not in (
        "off",
        "0",
        "false",
        "no",
    )


def init_scheduler(app):
    """Start the in-process scheduler with the first request, unless ``ALX_SCHEDULER=off`` or testing."""
    if not scheduler_enabled(app):
        return
    process_scheduler = _ProcessScheduler()
    app.extensions["alx_scheduler"] = process_scheduler
    app.before_request(lambda: process_scheduler.ensure_started(app))


def after_fork(app):
    """For a pre-forking server's post-fork hook: drop database connections inherited from the parent."""
    database = app.extensions["alx_database"]
    if "engine" in database.__dict__:  # created before the fork (cached_property)
        database.engine.dispose(close=False)
