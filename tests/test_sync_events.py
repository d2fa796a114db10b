"""The hourly run on a site that logs to Moodle's standard log store (Moodle's default), on SQLite and MariaDB.

Changes are found from the events Moodle logs for them (``logstore_standard_log``) instead of by
scanning Moodle's tables; the site builder logs the event of each action, as Moodle does.
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from alxbridge.db.database import Database
from alxbridge.sync.events import standard_log_in_use
from alxbridge.sync.runs import run_sync

from .sitebuilder import DAY, Clock, SiteBuilder
from .test_sync_semantics import plan_reason, rows, sync


@pytest.fixture(scope="module")
def site(database):
    site = SiteBuilder(database, Clock()).create_tables()
    site.use_standard_log()
    return site


@pytest.fixture
def learner(site, request):
    """A company, a course with two trackable modules, and a learner enrolled 30 days ago, synced twice."""
    name = request.node.originalname.removeprefix("test_")[:25]
    company = site.company(name)
    course = site.course(name, [company], modules=(1, 1))
    user = site.user(name, companies=[company])
    enrolment = site.enrol(user, course, timecreated=site.now - 30 * DAY)
    sync(site)
    sync(site)
    return company, course, user, enrolment


def test_a_back_dated_completion_is_found_from_its_logged_event(site, learner):
    company, course, user, _ = learner
    site.course_completion(user, course, timecompleted=site.now - 10 * DAY, timestarted=site.now - 20 * DAY)
    result = sync(site)
    assert plan_reason(result, company) == "0 user(s), 1 row(s), 0 course(s) changed"
    row = rows(site, company)[(user, course.id)]
    completed = site.now - 3600 - 10 * DAY
    assert (row.status, row.percentage, row.timecompleted) == ("completed", Decimal("100.00"), completed)


def test_an_unenrolment_becomes_a_tombstone_from_its_logged_event(site, learner):
    company, course, user, enrolment = learner
    site.unenrol(enrolment)
    sync(site)
    assert rows(site, company) == {} and set(rows(site, company, deleted=True)) == {(user, course.id)}


def test_a_module_completion_recomputes_only_its_row(site, learner):
    company, course, user, _ = learner
    other = site.course("Other of " + str(company), [company], modules=(1,))
    site.enrol(user, other)
    sync(site)
    sync(site)  # the next run re-reads the last hour of the log: the course's creation is out of it after this one
    site.complete_module(user, course.modules[0])
    result = sync(site)
    assert plan_reason(result, company) == "0 user(s), 1 row(s), 0 course(s) changed"
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_a_profile_edit_recomputes_every_row_of_the_user(site, learner):
    company, course, user, _ = learner
    site.update_user(user, lastname="Renamed")
    result = sync(site)
    assert plan_reason(result, company) == "1 user(s), 0 row(s), 0 course(s) changed"
    assert rows(site, company)[(user, course.id)].lastname == "Renamed"


def test_an_enrolment_ending_by_time_is_found_though_moodle_logs_no_event(site, learner):
    company, course, user, enrolment = learner
    with site.database.begin() as connection:  # as the enrolment was created: its end was set then, no event now
        ue = site.tables.user_enrolments
        connection.execute(sa.update(ue).where(ue.c.id == enrolment).values(timeend=site.now + 1800))
    sync(site)
    assert set(rows(site, company, deleted=True)) == {(user, course.id)}


def test_the_hourly_run_reads_the_log_instead_of_scanning_enrolments_and_completions(site, learner):
    company, course, user, enrolment = learner
    site.unenrol(enrolment)
    statements = []

    def capture(connection, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    sa.event.listen(site.database.engine, "before_cursor_execute", capture)
    try:
        sync(site)
    finally:
        sa.event.remove(site.database.engine, "before_cursor_execute", capture)
    completions, enrolments = site.tables.course_completions.name, site.tables.user_enrolments.name
    scans = [  # the digests (grouped scans) and the comparison of the reporting table with both tables
        s for s in statements
        if s.startswith("SELECT") and ("GROUP BY" in s or "OUTER JOIN" in s) and (completions in s or enrolments in s)
    ]  # fmt: skip
    assert scans == [] and any(site.tables.logstore_standard_log.name in s for s in statements)
    assert set(rows(site, company, deleted=True)) == {(user, course.id)}


def test_a_change_moodle_did_not_log_waits_for_the_daily_reconciliation(site, learner):
    """The trade of reading the log: a row edited straight in the database is found within a day, not an hour."""
    company, course, user, _ = learner
    site.logging = False  # written behind Moodle's back: no event, and course completions carry no timestamp
    site.course_completion(user, course, timecompleted=site.now - 5 * DAY)
    site.logging = True
    sync(site)
    assert rows(site, company)[(user, course.id)].status == "not_started"
    site.clock.advance(DAY)
    result = run_sync(site.database)
    assert plan_reason(result, company) == "daily reconciliation"
    assert rows(site, company)[(user, course.id)].status == "completed"


def test_with_the_log_store_turned_off_the_tables_are_scanned_again(site, learner):
    company, course, user, _ = learner
    site.use_standard_log(False)
    try:
        site.course_completion(user, course, timecompleted=site.now - 5 * DAY)
        sync(site)
        assert rows(site, company)[(user, course.id)].status == "completed"
    finally:
        site.use_standard_log()


def test_a_site_without_the_standard_log_table_starts_and_scans_the_tables(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'moodle.db'}")
    log = database.tables.logstore_standard_log
    tables = [table for table in database.schema.metadata.sorted_tables if table is not log]
    database.schema.metadata.create_all(database.engine, tables=tables)
    site = SiteBuilder(database, Clock())
    site.use_standard_log()  # enabled in the settings, but the store's table was uninstalled
    with database.connect() as connection:
        database.require_moodle_site(connection)
        assert not standard_log_in_use(connection, database.tables)
    database.engine.dispose()
