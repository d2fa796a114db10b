"""Real processes against one database: the lock lets exactly one sync run, and a killed sync loses nothing.

Processes run ``tests/sync_process.py``, which runs the ``alx`` command in-process and pauses when
a chosen log record appears; the test then starts a rival or sends SIGKILL. On MariaDB the lock is
``GET_LOCK`` and on PostgreSQL an advisory lock, and the rollback is the server's; on SQLite the lock
is a row and the rollback SQLite's journal.
"""

import signal
import time

import pytest
import sqlalchemy as sa

from alxbridge.db.database import Database
from alxbridge.sync.runs import run_sync
from alxbridge.sync.state import read_company_state

from .sitebuilder import SiteBuilder
from .sync_process import TIMEOUT, SyncProcess


@pytest.fixture(scope="module", params=["mysql", "postgres", "sqlite"])
def site(request, new_database):
    with new_database(request.param) as url:
        database = Database(url)
        site = SiteBuilder(database).create_tables()
        site.url = url
        site.companies = [site.company(name) for name in ("North", "South")]
        for company in site.companies:
            course = site.course(f"Course {company}", [company])
            for name in ("Ivy", "Jon", "Kai"):
                site.enrol(site.user(f"{name}{company}", companies=[company]), course)
        run_sync(database)
        yield site
        database.engine.dispose()


def company_snapshot(site, company):
    tables = site.tables
    reporting, status = tables.local_alx_api_reporting, tables.local_alx_api_sync_status
    with site.database.connect() as connection:
        return (
            connection.execute(sa.select(reporting).where(reporting.c.companyid == company).order_by("id")).all(),
            read_company_state(connection, tables, company),
            connection.execute(sa.select(status).where(status.c.companyid == company)).all(),
        )


def test_two_syncs_started_at_once_run_exactly_once(site, tmp_path):
    release = tmp_path / "release"
    rivals = [SyncProcess(site.url, r"sync run \d+ \(version", release, "sync") for _ in range(2)]
    first_lines = {}
    for rival in rivals:
        first_lines[rival] = rival.next_line()
    holder = next(r for r in rivals if first_lines[r] == "PAUSED")
    skipped = next(r for r in rivals if r is not holder)
    assert first_lines[skipped] == "skipped: another sync holds the lock"
    assert skipped.finish() == 0
    release.touch()
    assert holder.finish() == 0, "\n".join(holder.output)
    assert holder.output[-1].startswith("sync success:")
    runs = site.tables.local_alxbridge_sync_run
    with site.database.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 2  # fixture's + holder's


def test_a_sync_killed_in_the_middle_of_a_company_leaves_it_as_it_was(site, tmp_path):
    north = site.companies[0]
    users = site.tables.user
    with site.database.begin() as connection:
        connection.execute(sa.update(users).values(lastname="Renamed", timemodified=int(time.time())))
    before = company_snapshot(site, north)

    doomed = SyncProcess(site.url, rf"company {north}: .*committing", tmp_path / "never", "sync", "--full")
    assert doomed.next_line() == "PAUSED"  # its writes for the company are done, not committed
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.popen.wait(timeout=TIMEOUT)
    assert company_snapshot(site, north) == before

    rerun = SyncProcess(site.url, "never matches", tmp_path / "unused", "sync")
    assert rerun.finish() == 0, rerun.output
    rows, state, _ = company_snapshot(site, north)
    assert {row.lastname for row in rows} == {"Renamed"} and state.committed_version > before[1].committed_version
    runs = site.tables.local_alxbridge_sync_run
    with site.database.connect() as connection:
        statuses = [s for (s,) in connection.execute(sa.select(runs.c.status).order_by(runs.c.id))]
    assert statuses[-2:] == ["aborted", "success"]


def test_an_hourly_run_killed_while_writing_the_shortlists_leaves_every_company_as_it_was(site, tmp_path):
    """The shortlisted companies are written in one transaction: a kill before its commit loses nothing."""
    users = site.tables.user
    with site.database.begin() as connection:
        connection.execute(sa.update(users).values(lastname="Shortlisted", timemodified=int(time.time())))
    before = {company: company_snapshot(site, company) for company in site.companies}

    committing = r"shortlisted companies written, \d+ changed; committing"
    doomed = SyncProcess(site.url, committing, tmp_path / "never", "sync")
    assert doomed.next_line() == "PAUSED"
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.popen.wait(timeout=TIMEOUT)
    assert {company: company_snapshot(site, company) for company in site.companies} == before

    rerun = SyncProcess(site.url, "never matches", tmp_path / "unused", "sync")
    assert rerun.finish() == 0, rerun.output
    for company in site.companies:
        rows, state, _ = company_snapshot(site, company)
        assert {row.lastname for row in rows} == {"Shortlisted"}
        assert state.committed_version > before[company][1].committed_version
