"""The in-process scheduler, the job locks behind it, and the standalone ``alx scheduler`` command."""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from alxbridge import create_app
from alxbridge.db.database import Database
from alxbridge.jobs.locks import LockLost, NamedLock, RowLock, job_lock
from alxbridge.jobs.scheduler import JOBS, build_scheduler, run_scheduled

from .sitebuilder import Clock, SiteBuilder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(database):
    return SiteBuilder(database, Clock()).create_tables()


def test_the_scheduler_starts_with_the_first_request_and_has_the_plugins_cadence(database_url):
    app = create_app({"ALX_DATABASE_URL": database_url, "ALX_SCHEDULER": "on", "ALX_SECRET_KEY": "t"})
    process_scheduler = app.extensions["alx_scheduler"]
    assert process_scheduler.scheduler is None  # nothing runs at import or app creation
    app.test_client().get("/healthz")
    scheduler = process_scheduler.scheduler
    try:
        assert scheduler.running
        jobs = {job.id: job.trigger for job in scheduler.get_jobs()}
        tick = jobs.pop("tick")
        triggers = {
            name: {f.name: str(f) for f in trigger.fields if not f.is_default} for name, trigger in jobs.items()
        }
        assert triggers == {
            "sync": {"minute": "0"},
            "alerts": {"minute": "*/15"},
            "retention": {"hour": "3", "minute": "30"},
        }
        assert tick.interval.total_seconds() == 30  # ALX_SYNC_TICK_SECONDS's default
        app.test_client().get("/healthz")
        assert process_scheduler.scheduler is scheduler  # once per process
    finally:
        process_scheduler.stop()


def test_a_tick_interval_of_zero_schedules_no_tick(database_url):
    app = create_app({"ALX_DATABASE_URL": database_url, "ALX_SECRET_KEY": "t", "ALX_SYNC_TICK_SECONDS": 0})
    assert {job.id for job in build_scheduler(app).get_jobs()} == {"sync", "alerts", "retention"}


@pytest.mark.parametrize("config", [{"ALX_SCHEDULER": "off"}, {"TESTING": True}])
def test_the_scheduler_stays_off_when_disabled_or_testing(database_url, config):
    app = create_app({"ALX_DATABASE_URL": database_url, "ALX_SECRET_KEY": "t", **config})
    assert "alx_scheduler" not in app.extensions


def test_a_scheduled_job_runs_once_per_slot(site, app, caplog):
    retention_job = next(job for job in JOBS if job.name == "retention")
    caplog.set_level(logging.INFO, logger="alxbridge.jobs.scheduler")
    clock = site.clock  # the app's database reads the site's clock
    run_scheduled(app, retention_job)  # this worker's start
    clock.advance(40)
    run_scheduled(app, retention_job)  # another worker's late start of the same day
    clock.advance(86400)
    run_scheduled(app, retention_job)  # the next day
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "scheduled job retention success",
        "scheduled job retention skipped",
        "scheduled job retention success",
    ]
    job = site.tables.local_alxbridge_job
    with site.database.connect() as connection:
        row = connection.execute(sa.select(job).where(job.c.name == "retention")).one()
    assert row.last_slot == clock() // 86400 * 86400 and row.last_status == "success" and row.lock_owner is None


def test_row_locks_exclude_expire_and_are_taken_over_from_dead_holders(site):
    clock = site.clock
    holder = RowLock(site.database, "lock-test", ttl=60)
    rival = RowLock(site.database, "lock-test", ttl=60)
    assert holder.acquire() and not rival.acquire()
    clock.advance(61)
    assert rival.acquire()  # the holder stopped keeping it alive
    with pytest.raises(LockLost):
        holder.keep_alive()
    rival.release()

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = RowLock(site.database, "lock-test", ttl=3600)
    dead.owner = dead.owner.replace(f":{os.getpid()}:", f":{finished.stdout.strip()}:")
    assert dead.acquire()  # a process that died holding the lock
    assert holder.acquire()


@pytest.mark.parametrize("backend", ["mysql", "postgres"])
def test_named_locks_are_exclusive_on_the_database_server(new_database, backend):
    """``GET_LOCK`` on MariaDB, ``pg_try_advisory_lock`` on PostgreSQL: one holder per job and database, seen by
    every session while held (the admin pages' "a sync is running")."""
    with new_database(backend) as url:
        database = Database(url)
        try:
            with database.connect() as observer:
                with job_lock(database, "named") as held:
                    assert held is not None
                    held.keep_alive()
                    assert NamedLock(database, "named").in_use(observer)
                    assert not NamedLock(database, "idle job").in_use(observer)
                    with job_lock(database, "named") as rival:
                        assert rival is None
                    with job_lock(database, "other job") as other:
                        assert other is not None
                assert not NamedLock(database, "named").in_use(observer)
            with job_lock(database, "named") as again:
                assert again is not None
        finally:
            database.engine.dispose()


def test_the_scheduler_command_runs_in_the_foreground_until_interrupted(database_url):
    environment = {**os.environ, "ALX_DATABASE_URL": database_url, "ALX_SECRET_KEY": "t", "ALX_SCHEDULER": "off"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "alx", "scheduler"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("scheduler running: sync {'minute': 0}")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
