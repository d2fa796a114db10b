"""The sync tick (every ``ALX_SYNC_TICK_SECONDS``), on SQLite and MariaDB: each kind of Moodle change is in the
reporting table after one tick; idle ticks write nothing; late commits are not missed; one tick at a time."""

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from alxbridge.jobs.locks import SYNC_JOB, job_lock
from alxbridge.schema.sequences import realign_id_sequences
from alxbridge.sync import tick as tick_module
from alxbridge.sync.runs import run_sync
from alxbridge.sync.state import read_all_company_states
from alxbridge.sync.tick import read_tail, run_tick

from .sitebuilder import DAY, Clock, SiteBuilder
from .test_sync_semantics import rows, sync


@pytest.fixture(scope="module")
def site(database):
    site = SiteBuilder(database, Clock()).create_tables()
    site.use_standard_log()
    return site


def tick(site, seconds=30):
    """A tick ``seconds`` later; it must have run."""
    site.clock.advance(seconds)
    result = run_tick(site.database)
    assert result.skipped_because is None, result.summary()
    return result


def versions(site):
    with site.database.connect() as connection:
        return {cid: state.committed_version for cid, state in read_all_company_states(connection, site.tables).items()}


@pytest.fixture
def learner(site, request):
    """A company with two courses (two trackable modules each) and a learner enrolled in the first, synced by an
    hourly run; the tick is at the log's end."""
    name = request.node.name.removeprefix("test_")[:20]
    company = site.company(name)
    course = site.course(name, [company], modules=(1, 1))
    other = site.course(name + " 2", [company], modules=(1, 1))
    user = site.user(name, companies=[company])
    enrolment = site.enrol(user, course, timecreated=site.now - 30 * DAY)
    sync(site)
    tick(site)
    return company, course, other, user, enrolment


def test_a_module_completion_is_visible_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.complete_module(user, course.modules[0])
    result = tick(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")
    assert result.companies[company].updated == 1 and versions(site)[company] == result.version


def test_a_course_completion_is_visible_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.course_completion(user, course, timecompleted=site.now - DAY, timestarted=site.now - 2 * DAY)
    tick(site)
    assert rows(site, company)[(user, course.id)].status == "completed"


def test_an_unenrolment_is_a_tombstone_after_one_tick(site, learner):
    company, course, _, user, enrolment = learner
    site.unenrol(enrolment)
    tick(site)
    assert (user, course.id) not in rows(site, company)
    assert (user, course.id) in rows(site, company, deleted=True)


def test_a_suspension_is_visible_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.update_user(user, suspended=1)
    tick(site)
    assert (user, course.id) in rows(site, company, deleted=True)


def test_a_profile_edit_is_visible_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.update_user(user, lastname="Renamed")
    tick(site)
    assert rows(site, company)[(user, course.id)].lastname == "Renamed"


def test_a_new_user_of_the_company_is_visible_after_one_tick(site, learner):
    company, course, _, _, _ = learner
    newcomer = site.user("Newcomer", companies=[company])
    site.enrol(newcomer, course)
    tick(site)
    assert rows(site, company)[(newcomer, course.id)].status == "not_started"


def test_a_hidden_course_leaves_and_a_shown_one_comes_back_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.update_course(course, visible=0)
    tick(site)
    assert (user, course.id) in rows(site, company, deleted=True)
    site.update_course(course, visible=1)
    tick(site)
    assert (user, course.id) in rows(site, company)


def test_a_move_to_another_company_is_visible_in_both_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    elsewhere = site.company("Elsewhere " + str(company))
    site.add_course_to_company(course.id, elsewhere)
    sync(site)  # the new company is synced once by an hourly run (the tick leaves first syncs to it)
    tick(site)
    site.remove_from_company(user, company)
    site.add_to_company(user, elsewhere)
    tick(site)
    assert (user, course.id) in rows(site, company, deleted=True)
    assert (user, course.id) in rows(site, elsewhere)


def test_a_re_enrolment_is_visible_after_one_tick(site, learner):
    company, course, _, user, enrolment = learner
    site.unenrol(enrolment)
    tick(site)
    site.enrol(user, course)
    tick(site)
    assert (user, course.id) in rows(site, company)


def test_a_new_activity_is_visible_after_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.complete_module(user, course.modules[0])
    site.complete_module(user, course.modules[1])
    tick(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("100.00")
    site.module(course.id)
    tick(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("66.67")


def test_the_first_tick_reads_the_changes_made_since_the_last_hourly_run(site, learner):
    """A site whose tick never ran (just upgraded, or the tick was off): it must not start at the log's end."""
    company, course, _, user, _ = learner
    site.empty(site.tables.local_alxbridge_log_tail)
    site.complete_module(user, course.modules[0])
    tick(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_a_tick_without_new_events_writes_nothing_and_bumps_no_version(site, learner):
    before_rows, before_versions = site.reporting_rows(), versions(site)
    result = tick(site)
    assert (result.events_read, result.version) == (0, None)
    assert site.reporting_rows() == before_rows and versions(site) == before_versions


def test_events_that_change_nothing_commit_no_version(site, learner):
    user = learner[3]
    before = versions(site)
    site.update_user(user, lastname="Tester")  # Moodle logs the edit; the row's content stays the same
    result = tick(site)
    assert result.progress_events == 1 and result.version is None and versions(site) == before


def test_the_tick_leaves_the_hourly_watermark_alone(site, learner):
    company, course, _, user, _ = learner
    with site.database.connect() as connection:
        watermark = read_all_company_states(connection, site.tables)[company].source_watermark
    site.complete_module(user, course.modules[0])
    tick(site)
    with site.database.connect() as connection:
        assert read_all_company_states(connection, site.tables)[company].source_watermark == watermark


def test_a_scheduled_slot_runs_once_and_a_held_lock_skips_the_tick(site, learner):
    slot = site.now // 30 * 30 + 30
    site.clock.advance(30)
    assert run_tick(site.database, slot=slot).skipped_because is None
    assert run_tick(site.database, slot=slot).skipped_because == "this slot already ran"
    with job_lock(site.database, SYNC_JOB) as held:  # an hourly run, or another process's tick
        assert held is not None
        assert "holds the sync lock" in run_tick(site.database, slot=slot + 30).skipped_because


def test_two_processes_ticking_at_once_run_one_tick(site, learner):
    company, course, _, user, _ = learner
    site.complete_module(user, course.modules[0])
    site.clock.advance(30)
    start, results = threading.Barrier(2), []

    def worker():
        start.wait()
        results.append(run_tick(site.database, slot=site.now // 30 * 30))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ran = [result for result in results if result.skipped_because is None]
    assert len(results) == 2 and len(ran) == 1 and ran[0].rows_changed == 1
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_a_tick_killed_mid_write_leaves_every_company_as_before(site, learner, monkeypatch):
    company, course, _, user, _ = learner
    site.complete_module(user, course.modules[0])
    before_rows, before_versions = site.reporting_rows(), versions(site)
    with site.database.connect() as connection:
        before_tail = read_tail(connection, site.tables)

    def killed(*args):
        raise RuntimeError("killed after the rows were written")

    monkeypatch.setattr(tick_module, "_commit_versions", killed)
    with pytest.raises(RuntimeError):
        tick(site)
    assert site.reporting_rows() == before_rows and versions(site) == before_versions
    with site.database.connect() as connection:
        assert read_tail(connection, site.tables) == before_tail
    monkeypatch.undo()
    tick(site)  # the next tick reads the same events again
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def _completion_with_event(site, connection, user, course, module, log_id=None):
    """A module completion and its event, as Moodle writes them in one transaction (not committed here)."""
    tables = site.tables
    connection.execute(
        sa.insert(tables.course_modules_completion).values(
            coursemoduleid=module, userid=user, completionstate=1, timemodified=site.now
        )
    )
    connection.execute(
        sa.insert(tables.logstore_standard_log).values(
            **site.event_row("course_module_completion_updated", relateduserid=user, courseid=course.id),
            **({} if log_id is None else {"id": log_id}),
        )
    )


def test_an_event_committed_after_a_later_one_is_not_missed(site, learner):
    """Two Moodle transactions commit out of order around a tick: the earlier id is read by the next tick.

    On MariaDB and PostgreSQL the two transactions really overlap; SQLite has one writer at a time, so there the
    later transaction's event takes the lower id explicitly, which is what the tick sees either way.
    """
    company, course, other, user, _ = learner
    site.enrol(user, other, timecreated=site.now - DAY)
    tick(site)
    slow, fast = site.database.engine.connect(), site.database.engine.connect()
    overlapping = site.database.engine.dialect.name != "sqlite"
    try:
        if overlapping:
            slow.begin()
            _completion_with_event(site, slow, user, course, course.modules[0])  # the lower log id, uncommitted
            with fast.begin():
                _completion_with_event(site, fast, user, other, other.modules[0])
        else:
            with fast.begin():
                top = fast.execute(sa.select(sa.func.max(site.tables.logstore_standard_log.c.id))).scalar()
                _completion_with_event(site, fast, user, other, other.modules[0], log_id=top + 2)
        first = tick(site)
        assert first.rows_changed == 1 and rows(site, company)[(user, other.id)].percentage == Decimal("50.00")
        assert rows(site, company)[(user, course.id)].percentage == Decimal("0.00")
        if overlapping:
            slow.commit()
        else:
            with slow.begin():
                _completion_with_event(site, slow, user, course, course.modules[0], log_id=top + 1)
    finally:
        slow.close()
        fast.close()
    tick(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_an_event_id_that_never_commits_is_given_up_after_a_while(site, learner):
    user = learner[3]
    log_table = site.tables.logstore_standard_log
    with site.database.begin() as connection:  # a rolled-back insert leaves a gap in the ids
        top = connection.execute(sa.select(sa.func.max(log_table.c.id))).scalar()
        connection.execute(sa.insert(log_table).values(id=top + 2, **site.event_row("user_updated", user, 0, user)))
        realign_id_sequences(connection, [log_table])  # PostgreSQL's next id follows, as MySQL's does
    tick(site)
    with site.database.connect() as connection:
        assert set(read_tail(connection, site.tables).missing) == {top + 1}
    tick(site, seconds=tick_module.MISSING_SECONDS + 1)
    with site.database.connect() as connection:
        assert read_tail(connection, site.tables).missing == {}


def test_a_company_that_needs_a_full_recompute_is_left_to_the_hourly_run(site, learner):
    company, course, _, user, _ = learner
    state = site.tables.local_alxbridge_company
    with site.database.begin() as connection:
        connection.execute(sa.update(state).where(state.c.companyid == company).values(needs_full=1))
    site.complete_module(user, course.modules[0])
    assert tick(site).version is None
    result = run_sync(site.database)
    assert next(c for c in result.companies if c.companyid == company).full
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_with_the_log_store_off_the_tick_reads_nothing(site, learner):
    site.use_standard_log(False)
    try:
        site.clock.advance(30)
        assert "log store is off" in run_tick(site.database).skipped_because
    finally:
        site.use_standard_log()
