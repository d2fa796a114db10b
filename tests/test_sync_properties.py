"""Random Moodle changes between hourly runs: after every run each company's live reporting rows equal a
full recompute from Moodle's tables, whether the run finds changes from the standard log or by scanning
the tables (SQLite and MariaDB). With the log on, sync ticks come between the changes and the hourly
runs, and after every tick the rows equal a full recompute too: every change made here is logged.

Every change is made as Moodle makes it (``SiteBuilder`` stamps rows and, with the log store on, logs the
event); company membership moves, which IOMAD neither stamps nor logs, are among them.
"""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from alxbridge.sync.progress import PROGRESS_COLUMNS, compute_company_progress
from alxbridge.sync.runs import run_sync
from alxbridge.sync.tick import run_tick

from .moodle_changes import COURSES, MODULES, USERS, MoodleChanges, courses
from .sitebuilder import DAY, Clock, SiteBuilder

EXAMPLE_NUMBERS = itertools.count(1)


def live_rows(site, company):
    return {
        (row.userid, row.courseid): tuple(getattr(row, column) for column in PROGRESS_COLUMNS)
        for row in site.reporting_rows(company).values()
        if not row.is_deleted
    }


def recomputed(site, company):
    with site.database.connect() as connection:
        rows = compute_company_progress(connection, site.tables, company, now=site.now)
        return {(row["userid"], row["courseid"]): tuple(row[column] for column in PROGRESS_COLUMNS) for row in rows}


class SyncMachine(MoodleChanges):
    site = None  # set by the test, with the log store on or off
    logged = None

    def __init__(self):
        super().__init__()
        number, site = next(EXAMPLE_NUMBERS), self.site
        self.company, self.other_company = site.company(f"P{number}"), site.company(f"Q{number}")
        self.courses = [site.course(f"P{number} {i}", [self.company], modules=MODULES) for i in range(COURSES)]
        self.users = [site.user(f"p{number}u{i}", companies=[self.company]) for i in range(USERS)]
        self.moved = set()  # users now in the other company
        self.enrolments = {}  # (user index, course index) -> user_enrolments id
        self.hourly_run()

    def hourly_run(self):
        """An incremental run two hours after the last: with a one-hour gap every change would be read by two
        runs (the overlap), which would hide a change the first of them missed."""
        self.site.clock.advance(2 * 3600)
        result = run_sync(self.site.database)
        assert not result.failed, result.summary()
        self.assert_rows_are_recomputed()

    def assert_rows_are_recomputed(self):
        for company in (self.company, self.other_company):
            assert live_rows(self.site, company) == recomputed(self.site, company)

    @rule()
    def sync(self):
        self.hourly_run()

    @precondition(lambda self: self.logged)
    @rule()
    def tick(self):
        """A sync tick 30 s later: no enrolment starts or ends by time within the ticks between hourly runs
        (they start a day back and end at least half an hour on), so every change is one the log names."""
        self.site.clock.advance(30)
        result = run_tick(self.site.database)
        assert result.skipped_because is None, result.summary()
        self.assert_rows_are_recomputed()

    @precondition(lambda self: len(self.enrolments) < USERS * COURSES)
    @rule(data=st.data(), ends_in_hours=st.sampled_from([None, 1, 2, 3]))
    def enrol(self, data, ends_in_hours):
        pairs = [(u, c) for u in range(USERS) for c in range(COURSES) if (u, c) not in self.enrolments]
        user, course = data.draw(st.sampled_from(pairs))
        timeend = self.site.now + ends_in_hours * 3600 - 1800 if ends_in_hours else 0
        self.enrolments[user, course] = self.site.enrol(
            self.users[user], self.courses[course], timestart=self.site.now - DAY, timeend=timeend
        )

    @rule(course=courses, visible=st.sampled_from([0, 1]))
    def show_or_hide_course(self, course, visible):
        self.site.update_course(self.courses[course], visible=visible)

    @rule(course=courses)
    def add_a_tracked_module(self, course):
        self.courses[course].modules.append(self.site.module(self.courses[course].id))


@pytest.fixture(scope="module")
def site(database):
    return SiteBuilder(database, Clock()).create_tables()


@pytest.mark.parametrize("logged", [True, False], ids=["standard-log", "table-scans"])
def test_after_every_hourly_run_the_reporting_table_equals_a_full_recompute(site, logged):
    site.use_standard_log(logged)
    machine = type("Machine", (SyncMachine,), {"site": site, "logged": logged})
    examples = 40 if site.database.engine.dialect.name == "sqlite" else 12
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples, stateful_step_count=20, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )  # fmt: skip
