"""The merging consumer and the curl recipe of ``docs/clients.md``, run as written against a live bridge (issue 15).

The Python consumer keeps a SQLite copy: it replaces the copy on a full answer and upserts an incremental one
by ``(userid, courseid)``, telling them apart by the ``X-ALX-Sync-*`` headers. A hypothesis state machine makes
random Moodle changes (enrolments made, suspended, deleted; completions; learners suspended, renamed, moved to
another company; courses hidden), runs the hourly sync and runs the consumer after gaps from minutes to more than
the sync window, in Auto and in "Always incremental" mode: after every run the copy equals the company's truth,
deletions included. The truth is Moodle's as of the last sync, in the courses the company exposes now: rows
change with the sync, while a course hidden or shown takes effect at once (design §2: settings and courses are
part of every answer, and a change of them makes the next answer full).
"""

import itertools
import json
import sqlite3
import subprocess
from contextlib import closing

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from alxbridge.reporting.sessions import REUSE_SECONDS

from .client_support import CLIENTS_DOC, doc_blocks, item_view, serve_site, sync, token_for, truth
from .live_server import live_server
from .moodle_changes import COURSES, MODULES, USERS, MoodleChanges, courses
from .rest_support import SYNC_HEADER_NAMES
from .sitebuilder import DAY, Clock

HOUR = 3600
PAGE_SIZE = 2  # so that a copy takes several pages
AUTO, INCREMENTAL = 0, 1
EXAMPLE_NUMBERS = itertools.count(1)


def load_consumer():
    """The consumer exactly as docs/clients.md prints it, as a module namespace."""
    (code,) = doc_blocks("python")
    namespace = {"__name__": "alx_progress_copy"}
    exec(compile(code, f"{CLIENTS_DOC}:python", "exec"), namespace)  # noqa: S102 - the documented example itself
    return namespace


CONSUMER = load_consumer()


def copy_of(path):
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return item_view(dict(row) for row in db.execute("SELECT * FROM progress"))


@pytest.fixture(scope="module")
def site(database):
    return serve_site(database, Clock())


@pytest.fixture(scope="module")
def bridge(app, site):
    with live_server(app) as base_url:
        yield base_url


class ConsumerMachine(MoodleChanges):
    site = bridge = mode = folder = None  # set by the test

    def __init__(self):
        super().__init__()
        number, site = next(EXAMPLE_NUMBERS), self.site
        self.company, self.other_company = site.company(f"R{number}"), site.company(f"S{number}")
        if self.mode != AUTO:
            site.company_setting(self.company, "sync_mode", self.mode)
        self.courses = [site.course(f"R{number} {i}", [self.company], modules=MODULES) for i in range(COURSES)]
        self.users = [site.user(f"r{number}u{i}", companies=[self.company]) for i in range(USERS)]
        site.user(f"r{number}owner", companies=[self.company])
        self.token = token_for(site, f"r{number}owner.tester")
        self.copy = self.folder / f"copy{number}.db"
        self.moved = set()  # users now in the other company
        self.hidden = set()  # courses now hidden
        self.enrolments = {}  # (user index, course index) -> user_enrolments id
        self.modes = []  # of the consumer's runs, to see both kinds of answer were merged
        # Every learner in every course before the first sync, so the company has a committed version from the
        # start (until then the bridge answers live from Moodle's tables, newer than the last sync compared with).
        for user, course in itertools.product(range(USERS), range(COURSES)):
            self.enrolments[user, course] = site.enrol(self.users[user], self.courses[course], timestart=site.now - DAY)
        self.hourly_sync()
        # The consumer's first run, a full answer, so that any later run of any example can be incremental: with
        # only a few short examples, Hypothesis sometimes drew no example with two runs (failed 3 times in 28 runs).
        self.consumer_run(REUSE_SECONDS + 1)

    @rule()
    def hourly_sync(self):
        self.site.clock.advance(2 * HOUR)  # two hours: the sync's overlap never hides a missed change
        sync(self.site)
        self.synced = truth(self.site, self.company)

    @rule(gap=st.sampled_from([REUSE_SECONDS + 1, HOUR, 30 * HOUR]))
    def consumer_run(self, gap):
        """The consumer's scheduled run; a gap beyond the sync window (24 h) makes Auto mode answer in full."""
        self.site.clock.advance(gap)
        mode, _ = CONSUMER["update_copy"](str(self.copy), self.bridge, self.token, page_size=PAGE_SIZE)
        self.modes.append(mode)
        shown = {self.courses[c].id for c in range(COURSES) if c not in self.hidden}
        assert copy_of(self.copy) == {key: row for key, row in self.synced.items() if key[1] in shown}

    @precondition(lambda self: len(self.enrolments) < USERS * COURSES)
    @rule(data=st.data())
    def enrol(self, data):
        pairs = [(u, c) for u in range(USERS) for c in range(COURSES) if (u, c) not in self.enrolments]
        user, course = data.draw(st.sampled_from(pairs))
        self.enrolments[user, course] = self.site.enrol(
            self.users[user], self.courses[course], timestart=self.site.now - DAY
        )

    @rule(course=courses, visible=st.sampled_from([0, 1]))
    def show_or_hide_course(self, course, visible):
        self.site.update_course(self.courses[course], visible=visible)
        self.hidden = self.hidden - {course} if visible else self.hidden | {course}


@pytest.mark.parametrize("mode", [AUTO, INCREMENTAL], ids=["auto", "incremental"])
def test_after_every_run_the_consumers_copy_equals_the_truth(site, bridge, tmp_path, mode):
    machine = type("Machine", (ConsumerMachine,), {"site": site, "bridge": bridge, "mode": mode, "folder": tmp_path})
    modes = []
    machine.teardown = lambda self: modes.extend(self.modes)
    examples = 20 if site.database.engine.dialect.name == "sqlite" else 8  # a server's round trips cost more
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples, stateful_step_count=20, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )  # fmt: skip
    assert {"full", "incremental"} <= set(modes), "the examples never merged both kinds of answer"


def synced_learner(site, name):
    """``(company, course, learner, token)``: a company of one enrolled learner, synced, and its owner's token."""
    company = site.company(name)
    course = site.course(f"{name} course", [company])
    learner = site.user(f"{name.lower()}-learner", companies=[company])
    site.user(f"{name.lower()}-owner", companies=[company])
    token = token_for(site, f"{name.lower()}-owner.tester")
    site.enrol(learner, course, timestart=site.now - DAY)
    site.clock.advance(2 * HOUR)
    sync(site)
    return company, course, learner, token


def test_the_consumer_refuses_an_incremental_answer_that_does_not_continue_its_copy(site, bridge, tmp_path):
    """Two programs reading with one token: the second one's copy would silently miss the first one's delta."""
    company, course, learner, token = synced_learner(site, "Shared")
    mine, theirs = str(tmp_path / "mine.db"), str(tmp_path / "theirs.db")
    assert CONSUMER["update_copy"](mine, bridge, token)[0] == "full"
    assert CONSUMER["update_copy"](theirs, bridge, token)[0] == "full"  # a replay: within 5 minutes of mine
    site.clock.advance(HOUR)
    site.complete_module(learner, course.modules[0])
    site.clock.advance(2 * HOUR)
    sync(site)
    assert CONSUMER["update_copy"](theirs, bridge, token)[0] == "incremental"
    site.complete_module(learner, course.modules[1])
    site.clock.advance(2 * HOUR)
    sync(site)
    with pytest.raises(CONSUMER["CopyError"], match="cannot update a copy at version"):
        CONSUMER["update_copy"](mine, bridge, token)
    assert copy_of(mine) != truth(site, company)  # left as it was: never half merged


def test_the_curl_recipe_shows_one_page_with_its_headers(site, bridge, tmp_path):
    company, _, _, token = synced_learner(site, "Curl")
    (recipe,) = doc_blocks("sh")
    finished = subprocess.run(
        ["bash", "-c", recipe], env={"BASE_URL": bridge, "ALX_TOKEN": token, "PATH": "/usr/bin:/bin"},
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    head, _, body = finished.stdout.decode().partition("\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    assert head.startswith("HTTP/1.1 200")
    assert [headers[name] for name in SYNC_HEADER_NAMES] == ["full", "0", str(site.now)]
    assert item_view(json.loads(body)) == truth(site, company)
