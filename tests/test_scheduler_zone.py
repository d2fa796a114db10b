"""The scheduler runs in the site's timezone (the one the admin pages show) and records its start for them."""

import json

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from alxbridge.jobs.runner import SCHEDULER_ROW
from alxbridge.jobs.scheduler import build_scheduler
from alxbridge.moodle.siteconfig import server_timezone

from .conftest import make_app
from .sitebuilder import Clock, SiteBuilder


def test_the_scheduler_runs_in_the_site_timezone_and_records_its_start(database_url):
    app = make_app(database_url)
    database = app.extensions["alx_database"]
    site = SiteBuilder(database, Clock()).create_tables()
    site.core_config("timezone", "Asia/Kolkata")
    scheduler = build_scheduler(app)
    crons = [job.trigger for job in scheduler.get_jobs() if isinstance(job.trigger, CronTrigger)]
    assert str(scheduler.timezone) == "Asia/Kolkata" and len(crons) == 3
    assert {str(trigger.timezone) for trigger in crons} == {"Asia/Kolkata"}
    scheduler.start(paused=True)
    try:
        jobs = database.tables.local_alxbridge_job
        with database.connect() as connection:
            row = connection.execute(sa.select(jobs).where(jobs.c.name == SCHEDULER_ROW)).one()
        assert row.timestarted == site.now and json.loads(row.last_message)["timezone"] == "Asia/Kolkata"
    finally:
        scheduler.shutdown(wait=False)
    database.engine.dispose()


def test_alx_timezone_wins_and_an_unreadable_site_falls_back_to_the_server_zone(database_url, tmp_path, caplog):
    app = make_app(database_url, ALX_TIMEZONE="Europe/London")
    assert str(build_scheduler(app).timezone) == "Europe/London"
    unreadable = make_app(f"sqlite:///{tmp_path}/missing/site.db")  # its directory does not exist
    assert build_scheduler(unreadable).timezone == server_timezone()
    assert "the site's timezone could not be read" in caplog.text
