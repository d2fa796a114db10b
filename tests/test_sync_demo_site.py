"""The sync on the demo site, checked against an independent model of the design's semantics.

The model below reads Moodle's rows into Python and applies design §2 rule by rule, sharing no
code with the SQL. After the first sync and after each round of Moodle-like changes (completions,
back-dated course completions, unenrolments, suspensions, company moves, renames, course toggles),
the reporting table's live rows must equal the model and every other row must be a tombstone.
"""

import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from alxbridge.demo import build_demo_site
from alxbridge.sync.runs import run_sync

from .sitebuilder import DAY, NOW, Clock, SiteBuilder


@pytest.fixture(scope="module")
def demo(database):
    build_demo_site(database, companies=3, users=160, courses=9, seed=11, now=NOW)
    site = SiteBuilder(database, Clock(NOW))
    site.rng = random.Random(11)
    # The demo logs to the standard log store, as Moodle does by default; this model checks the hourly run's
    # table scans, which find changes that nothing logged (the event path has tests/test_sync_events.py).
    site.use_standard_log(False)
    return site


def table_rows(connection, table):
    return connection.execute(sa.select(table)).all()


def expected_rows(database, now):
    """``{(companyid, userid, courseid): (firstname, …, status)}`` computed in plain Python."""
    t = database.tables
    with database.connect() as c:
        users = {u.id: u for u in table_rows(c, t.user)}
        courses = {x.id: x for x in table_rows(c, t.course)}
        members = defaultdict(set)
        for m in table_rows(c, t.company_users):
            if m.suspended == 0:
                members[m.companyid].add(m.userid)
        owned = defaultdict(set)
        for cc in table_rows(c, t.company_course):
            if courses[cc.courseid].visible == 1 and cc.courseid != 1:
                owned[cc.companyid].add(cc.courseid)
        flags = defaultdict(dict)
        for s in table_rows(c, t.local_alx_api_settings):
            if s.setting_name.startswith("course_"):
                flags[s.companyid][int(s.setting_name[7:])] = s.setting_value
        instances = {e.id: e for e in table_rows(c, t.enrol)}
        starts = defaultdict(list)
        for ue in table_rows(c, t.user_enrolments):
            e = instances[ue.enrolid]
            if ue.status == 0 and e.status == 0 and ue.timestart <= now and (ue.timeend == 0 or ue.timeend > now):
                starts[(ue.userid, e.courseid)].append(ue.timestart if ue.timestart > 0 else ue.timecreated)
        completions = {(x.userid, x.course): x for x in table_rows(c, t.course_completions)}
        trackable = {
            m.id: m.course for m in table_rows(c, t.course_modules) if m.completion > 0 and not m.deletioninprogress
        }
        per_course = defaultdict(int)
        for course in trackable.values():
            per_course[course] += 1
        done = defaultdict(int)
        for x in table_rows(c, t.course_modules_completion):
            if x.coursemoduleid in trackable and x.completionstate in (1, 2):
                done[(x.userid, trackable[x.coursemoduleid])] += 1
        companies = [row.id for row in table_rows(c, t.company)]

    expected = {}
    for company in companies:
        enabled = {cid for cid, value in flags[company].items() if value == 1} if flags[company] else owned[company]
        for (userid, courseid), enrolment_starts in starts.items():
            user = users[userid]
            exposed = userid in members[company] and courseid in owned[company] & enabled
            if not exposed or user.deleted or user.suspended:
                continue
            cc = completions.get((userid, courseid))
            completed = bool(cc and cc.timecompleted)
            modules = done[(userid, courseid)]
            if completed:
                percentage = Decimal(100)
            elif per_course[courseid]:
                percentage = Decimal(modules * 100) / per_course[courseid]
            else:
                percentage = Decimal(0)
            started = modules or (cc and cc.timestarted)
            status = "completed" if completed else "in_progress" if started else "not_started"
            expected[(company, userid, courseid)] = (
                user.firstname,
                user.lastname,
                user.email,
                courses[courseid].fullname,
                cc.timecompleted if completed else 0,
                cc.timestarted if cc and cc.timestarted else min(enrolment_starts),
                percentage.quantize(Decimal("0.01"), ROUND_HALF_UP),
                status,
            )
    return expected


def assert_reporting_matches_model(demo):
    got = demo.reporting_rows()
    live = {
        key: (r.firstname, r.lastname, r.email, r.coursename, r.timecompleted, r.timestarted, r.percentage, r.status)
        for (userid, courseid, companyid), r in got.items()
        if not r.is_deleted
        for key in [(companyid, userid, courseid)]
    }
    expected = expected_rows(demo.database, demo.now)
    assert live == expected
    return len(expected), sum(1 for r in got.values() if r.is_deleted)


def sync(demo):
    demo.clock.advance(3600)
    result = run_sync(demo.database)
    assert not result.failed, result.summary()
    return result


def learning_happens(demo):
    """An hour of activity, each change stamped as Moodle stamps it (or not at all, as Moodle does)."""
    t, rng = demo.tables, demo.rng
    with demo.database.connect() as c:
        enrolments = table_rows(c, t.user_enrolments)
        course_of = {e.id: e.courseid for e in table_rows(c, t.enrol)}
        modules = [m for m in table_rows(c, t.course_modules) if m.completion > 0]
        courses = table_rows(c, t.company_course)
    for ue in rng.sample(enrolments, 5):
        demo.unenrol(ue.id)
    for ue in rng.sample(enrolments, 8):
        candidates = [m.id for m in modules if m.course == course_of[ue.enrolid]]
        if candidates:
            demo.complete_module(ue.userid, rng.choice(candidates), state=rng.choice((1, 2, 3)))
    completions = t.course_completions
    for ue in rng.sample(enrolments, 3):  # the completion cron, back-dating to when the criteria were met
        course = course_of[ue.enrolid]
        demo._delete(completions, sa.and_(completions.c.userid == ue.userid, completions.c.course == course))
        demo._insert(completions, userid=ue.userid, course=course, timeenrolled=0,
                     timestarted=demo.now - 40 * DAY, timecompleted=demo.now - 30 * DAY)  # fmt: skip
    for ue in rng.sample(enrolments, 2):
        demo.update_user(ue.userid, suspended=1)
    renamed = rng.choice(courses).courseid
    demo._update(t.course, t.course.c.id == renamed, fullname=f"Renamed {renamed}", timemodified=demo.now)


def company_structure_changes(demo):
    """A user moves to another company and a course is switched off for the API."""
    t, rng = demo.tables, demo.rng
    with demo.database.connect() as c:
        memberships = table_rows(c, t.company_users)
        companies = [row.id for row in table_rows(c, t.company)]
        courses = table_rows(c, t.company_course)
    mover = rng.choice(memberships)
    demo.remove_from_company(mover.userid, mover.companyid)
    demo.add_to_company(mover.userid, rng.choice([c for c in companies if c != mover.companyid]))
    toggled = rng.choice(courses)
    demo.company_setting(toggled.companyid, f"course_{toggled.courseid}", 0)


def test_first_sync_of_the_demo_site_matches_the_model(demo):
    result = sync(demo)
    live, tombstones = assert_reporting_matches_model(demo)
    assert live > 100 and tombstones == 0 and result.created == live


def test_hourly_runs_after_learning_activity_match_the_model(demo):
    for _ in range(3):
        learning_happens(demo)
        result = sync(demo)
        assert not any(c.full for c in result.companies), [c.reason for c in result.companies]
        assert result.created + result.updated + result.deleted > 0
        assert_reporting_matches_model(demo)
    assert assert_reporting_matches_model(demo)[1] > 0  # unenrolments and suspensions left tombstones


def test_runs_after_company_changes_match_the_model(demo):
    company_structure_changes(demo)
    result = sync(demo)
    assert not any(c.full for c in result.companies), [c.reason for c in result.companies]
    assert_reporting_matches_model(demo)
    again = sync(demo)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
