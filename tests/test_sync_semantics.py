"""What the sync writes into the reporting table, case by case, on SQLite and MariaDB.

Each test builds its own company with :class:`SiteBuilder`, syncs, changes Moodle the way Moodle
would, syncs again (an ordinary hourly run unless it says ``full``) and reads the reporting table.
Semantics are the design's (Moodle core), not the plugin's; test names say which plugin bug is avoided.
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from alxbridge.sync.progress import compute_company_progress
from alxbridge.sync.runs import run_sync

from .sitebuilder import DAY, Clock, SiteBuilder


@pytest.fixture(scope="module")
def site(database):
    return SiteBuilder(database, Clock()).create_tables()


def sync(site, **options):
    """An hourly run an hour later (``full=True`` for ``alx sync --full``)."""
    site.clock.advance(3600)
    result = run_sync(site.database, **options)
    assert not result.failed, result.summary()
    return result


def rows(site, company, deleted=False):
    """``{(userid, courseid): row}`` of the company's live rows (or its tombstones)."""
    return {
        (userid, courseid): row
        for (userid, courseid, _), row in site.reporting_rows(company).items()
        if row.is_deleted == int(deleted)
    }


def plan_reason(result, company):
    return next(c.reason for c in result.companies if c.companyid == company)


def test_every_course_of_a_multi_course_user_is_synced(site):
    """B1: the plugin kept one course per user; every (user, course) pair is a row."""
    company = site.company("Multi")
    courses = [site.course(f"Multi {n}", [company]) for n in range(3)]
    user = site.user("Mona", companies=[company])
    for course in courses:
        site.enrol(user, course)
    sync(site)
    assert set(rows(site, company)) == {(user, course.id) for course in courses}


def test_progress_follows_moodle_core_semantics(site):
    """B11: status, percentage and times as Moodle core computes them, not the plugin's formula."""
    company = site.company("Semantics")
    course = site.course("Semantics", [company], modules=(1, 1, 2, 0))  # three trackable, one not
    tracked, untracked = course.modules[:3], course.modules[3]
    now = site.now
    people = {name: site.user(name, companies=[company]) for name in ("Ann", "Bea", "Cid", "Dot", "Eve", "Fay", "Gus")}
    enrolled_at = {name: site.enrol(userid, course, timecreated=now - 20 * DAY) for name, userid in people.items()}
    site.complete_module(people["Ann"], tracked[0], state=1)
    site.complete_module(people["Ann"], tracked[1], state=2)  # passed counts as complete
    site.complete_module(people["Bea"], tracked[0], state=3)  # failed does not
    site.course_completion(people["Cid"], course, timecompleted=now - 2 * DAY, timestarted=now - 9 * DAY)
    site.course_completion(people["Dot"], course, timestarted=now - 5 * DAY)
    site.update_enrolment(enrolled_at["Fay"], timestart=now - 15 * DAY)
    site.complete_module(people["Gus"], untracked, state=1)  # a module without completion tracking
    sync(site)

    got = {name: rows(site, company)[(userid, course.id)] for name, userid in people.items()}
    expected = {
        "Ann": ("in_progress", Decimal("66.67"), 0, now - 20 * DAY),
        "Bea": ("not_started", Decimal("0.00"), 0, now - 20 * DAY),
        "Cid": ("completed", Decimal("100.00"), now - 2 * DAY, now - 9 * DAY),
        "Dot": ("in_progress", Decimal("0.00"), 0, now - 5 * DAY),
        "Eve": ("not_started", Decimal("0.00"), 0, now - 20 * DAY),
        "Fay": ("not_started", Decimal("0.00"), 0, now - 15 * DAY),
        "Gus": ("not_started", Decimal("0.00"), 0, now - 20 * DAY),
    }
    assert {
        name: (row.status, row.percentage, row.timecompleted, row.timestarted) for name, row in got.items()
    } == expected
    assert got["Ann"].coursename == "Semantics" and got["Ann"].email == "ann.tester@example.com"


def test_percentages_round_to_two_decimals_and_courses_without_tracking_are_zero(site):
    company = site.company("Rounding")
    thirds = site.course("Thirds", [company], modules=(1, 1, 1))
    sixths = site.course("Sixths", [company], modules=(1,) * 6)
    nothing = site.course("Reading", [company], modules=(0, 0))
    user = site.user("Rhea", companies=[company])
    for course in (thirds, sixths, nothing):
        site.enrol(user, course)
    site.complete_module(user, thirds.modules[0])
    for module in sixths.modules[:5]:
        site.complete_module(user, module)
    site.complete_module(user, nothing.modules[0])
    sync(site)
    got = {courseid: row.percentage for (_, courseid), row in rows(site, company).items()}
    assert got == {thirds.id: Decimal("33.33"), sixths.id: Decimal("83.33"), nothing.id: Decimal("0.00")}


def test_two_enrolment_methods_make_one_row_starting_at_the_earliest(site):
    company = site.company("Methods")
    course = site.course("Methods", [company])
    user = site.user("Milo", companies=[company])
    site.enrol(user, course, method="manual", timecreated=site.now - 3 * DAY)
    site.enrol(user, course, method="self", timestart=site.now - 7 * DAY)
    sync(site)
    [(key, row)] = rows(site, company).items()
    assert key == (user, course.id) and row.timestarted == site.now - 3600 - 7 * DAY


def test_deleted_and_suspended_users_become_tombstones(site):
    company = site.company("Leavers")
    course = site.course("Leavers", [company])
    stay, deleted, suspended, company_suspended = (
        site.user(name, companies=[company]) for name in ("Stay", "Dora", "Sue", "Cora")
    )
    for user in (stay, deleted, suspended, company_suspended):
        site.enrol(user, course)
    sync(site)
    assert len(rows(site, company)) == 4

    site.update_user(deleted, deleted=1)
    site.update_user(suspended, suspended=1)
    members = site.tables.company_users
    site._update(members, members.c.userid == company_suspended, suspended=1)
    sync(site)
    assert set(rows(site, company)) == {(stay, course.id)}
    assert set(rows(site, company, deleted=True)) == {(u, course.id) for u in (deleted, suspended, company_suspended)}


def test_only_visible_courses_of_the_company_are_exposed(site):
    """B15: a course_<id> setting never exposes a course the company does not own."""
    company, other = site.company("Scope"), site.company("Other")
    own = site.course("Own", [company])
    hidden = site.course("Hidden", [company], visible=0)
    foreign = site.course("Foreign", [other])
    user = site.user("Otto", companies=[company])
    for course in (own, hidden, foreign):
        site.enrol(user, course)
    site.company_setting(company, f"course_{own.id}", 1)
    site.company_setting(company, f"course_{foreign.id}", 1)
    sync(site)
    assert set(rows(site, company)) == {(user, own.id)}

    site.update_course(own, visible=0)
    sync(site)
    assert rows(site, company) == {} and set(rows(site, company, deleted=True)) == {(user, own.id)}


def test_course_settings_enable_courses_as_the_plugin_does(site):
    company = site.company("Toggles")
    first, second, third = (site.course(f"Toggle {n}", [company]) for n in range(3))
    user = site.user("Tia", companies=[company])
    for course in (first, second, third):
        site.enrol(user, course)
    sync(site)
    assert len(rows(site, company)) == 3  # no course_* setting: every company course is enabled

    site.company_setting(company, f"course_{first.id}", 1)
    site.company_setting(company, f"course_{second.id}", 2)  # only exactly 1 enables
    sync(site)
    assert set(rows(site, company)) == {(user, first.id)}

    site.company_setting(company, f"course_{first.id}", 0)
    sync(site)
    assert rows(site, company) == {}


def test_enrolments_count_only_while_active(site):
    company = site.company("Windows")
    course = site.course("Windows", [company])
    methods_off = site.course("Closed method", [company])
    ended, future, suspended, off, ending = (
        site.user(name, companies=[company]) for name in ("Ed", "Fu", "Su", "Of", "En")
    )
    now = site.now
    site.enrol(ended, course, timestart=now - 9 * DAY, timeend=now - DAY)
    site.enrol(future, course, timestart=now + 30 * DAY)
    site.enrol(suspended, course, status=1)
    site.enrol(off, methods_off)
    instances = site.tables.enrol
    site._update(instances, instances.c.courseid == methods_off.id, status=1, timemodified=now)
    site.enrol(ending, course, timestart=now - DAY, timeend=now + 2 * 3600 + 60)
    sync(site)
    assert set(rows(site, company)) == {(ending, course.id)}

    sync(site)
    sync(site)  # three hours on, the enrolment has ended without any row changing
    assert rows(site, company) == {} and set(rows(site, company, deleted=True)) == {(ending, course.id)}


def test_back_dated_course_completion_is_found_by_the_next_run(site):
    """B6/B14: Moodle's completion cron stamps the time the criteria were met, days in the past."""
    company = site.company("Backdated")
    course = site.course("Backdated", [company], modules=(1, 1))
    user = site.user("Bart", companies=[company])
    site.enrol(user, course, timecreated=site.now - 30 * DAY)
    sync(site)
    sync(site)
    site.course_completion(user, course, timecompleted=site.now - 10 * DAY, timestarted=site.now - 20 * DAY)
    result = sync(site)
    assert plan_reason(result, company) == "0 user(s), 1 row(s), 0 course(s) changed"  # found by comparing, not by time
    row = rows(site, company)[(user, course.id)]
    assert (row.status, row.percentage, row.timecompleted) == (
        "completed",
        Decimal("100.00"),
        site.now - 3600 - 10 * DAY,
    )


def test_company_move_tombstones_the_old_company_and_adds_the_new(site):
    """B6: the plugin never noticed users leaving a company."""
    old, new = site.company("Old Co"), site.company("New Co")
    course = site.course("Shared", [old, new])
    user = site.user("Max", companies=[old])
    site.enrol(user, course)
    sync(site)
    site.remove_from_company(user, old)
    site.add_to_company(user, new)
    sync(site)
    assert rows(site, old) == {} and set(rows(site, old, deleted=True)) == {(user, course.id)}
    assert set(rows(site, new)) == {(user, course.id)}


def test_reenrolment_revives_the_tombstone(site):
    """B12: the plugin left re-enrolled users hidden; the same row comes back with a new version."""
    company = site.company("Revival")
    course = site.course("Revival", [company])
    user = site.user("Rex", companies=[company])
    enrolment = site.enrol(user, course)
    sync(site)
    original = rows(site, company)[(user, course.id)]

    site.unenrol(enrolment)  # Moodle deletes the row: nothing carries a timestamp
    sync(site)
    tombstone = rows(site, company, deleted=True)[(user, course.id)]
    assert tombstone.id == original.id and tombstone.last_updated > original.last_updated

    site.enrol(user, course)
    sync(site)
    revived = rows(site, company)[(user, course.id)]
    assert revived.id == original.id and revived.last_updated > tombstone.last_updated


def test_renames_are_detected_even_when_only_the_case_changes(site):
    """MySQL's collation finds "ada" equal to "Ada"; the sync compares bytes."""
    company = site.company("Renames")
    course = site.course("renamed course", [company])
    user = site.user("ada", companies=[company])
    site.enrol(user, course)
    sync(site)
    site.update_user(user, firstname="Ada")
    site.update_course(course, fullname="Renamed Course")
    sync(site)
    row = rows(site, company)[(user, course.id)]
    assert (row.firstname, row.coursename) == ("Ada", "Renamed Course")


def test_enabling_completion_on_a_module_changes_percentages(site):
    """course_modules carries no timestamp for its completion setting; the course fingerprint sees it."""
    company = site.company("Tracking")
    course = site.course("Tracking", [company], modules=(1, 0))
    user = site.user("Tom", companies=[company])
    site.enrol(user, course)
    site.complete_module(user, course.modules[0])
    sync(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("100.00")
    modules = site.tables.course_modules
    site._update(modules, modules.c.id == course.modules[1], completion=1)
    sync(site)
    assert rows(site, company)[(user, course.id)].percentage == Decimal("50.00")


def test_live_computation_matches_what_the_sync_stored(site):
    """The web service's live fallback and the sync share one query path."""
    company = site.company("Live")
    courses = [site.course(f"Live {n}", [company], modules=(1, 2)) for n in range(2)]
    for name in ("Lou", "Liv"):
        user = site.user(name, companies=[company])
        for course in courses:
            site.enrol(user, course)
        site.complete_module(user, courses[0].modules[0])
    sync(site)
    stored = rows(site, company)
    columns = ("firstname", "lastname", "email", "coursename", "timecompleted", "timestarted", "percentage", "status")
    with site.database.connect() as connection:
        live = list(compute_company_progress(connection, site.tables, company, now=site.now))
        one_course = list(
            compute_company_progress(connection, site.tables, company, course_ids=[courses[1].id], now=site.now)
        )
    assert [(r["userid"], r["courseid"]) for r in live] == sorted(stored)
    assert all(tuple(r[c] for c in columns) == tuple(getattr(stored[(r["userid"], r["courseid"])], c) for c in columns)
               for r in live)  # fmt: skip
    assert {r["courseid"] for r in one_course} == {courses[1].id}


def test_full_run_recomputes_every_company(site):
    result = sync(site, full=True)
    assert {c.reason for c in result.companies} == {"full run requested"}
    with site.database.connect() as connection:
        runs = site.tables.local_alxbridge_sync_run
        mode = connection.execute(sa.select(runs.c.mode).where(runs.c.id == result.runid)).scalar()
    assert mode == "full"
