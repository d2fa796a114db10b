"""Properties of paged reads under concurrent writes (hypothesis), over HTTP on real databases.

A writer puts rows into the reporting table as the sync engine commits them: each write step takes a
version strictly greater than the last, stamps the rows it inserts, updates, tombstones or revives
with it, and commits it as the company's ``committed_version`` in the same transaction; retention
purges tombstones and raises the company's ``tombstone_horizon``. Clients page through sessions with
random limits — completing them, abandoning them, repeating ``offset=0``, resuming at the next offset
after their session went idle — while writes land between their pages. Each client merges as a
client would: a full session replaces its view by the union of the session's pages, an incremental
one is upserted into it by (userid, courseid); a download it gave up on is thrown away.

Invariants, after every completed session with window ``(lo, hi]``:
* no row is lost: every live row of the client's company (exposed course) unchanged since ``hi`` is in
  the view with exactly its content;
* nothing stale without cause: a view entry that differs from the truth belongs to a row that changed
  after ``hi`` (and is served by the next session);
* so, when nothing was written while the session ran, the view equals the truth;
* isolation: no page ever holds a row of another company, or of a course the company does not expose.
"""

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from alxbridge.reporting.sessions import IDLE_SECONDS, REUSE_SECONDS

from .progress_support import C1, C1B, C2, C3, EXPOSED, HIDDEN_COURSE, TOKEN_COMPANIES, ProgressSite, next_version

TOKENS = (C1, C1B, C2, C3)
USERS = {1: range(1, 7), 2: range(4, 9), 3: range(7, 10)}  # users 4-8 are in two companies
# Each company's exposed courses plus one it does not expose (hidden, or another company's course).
COURSES = {1: (*EXPOSED[1], HIDDEN_COURSE), 2: (*EXPOSED[2], 102), 3: (*EXPOSED[3], 101)}
PERCENTAGES = (0, 33.33, 50, 66.67, 100)
STATUSES = ("not_started", "in_progress", "completed")


@dataclass
class Row:
    version: int
    deleted: bool = False
    percentage: float = 0
    status: str = "not_started"


def content(company, userid, courseid, row):
    return (f"F{userid}-{row.version}", f"C{company}", f"u{userid}@c{company}.example.org", f"Course {courseid}",
            float(row.percentage), row.status)  # fmt: skip


def item_content(item):
    return (item["firstname"], item["lastname"], item["email"], item["coursename"], float(item["percentage"]),
            item["status"])  # fmt: skip


def reporting_row(company, userid, courseid, row):
    return {
        "userid": userid, "courseid": courseid, "firstname": f"F{userid}-{row.version}", "lastname": f"C{company}",
        "email": f"u{userid}@c{company}.example.org", "coursename": f"Course {courseid}", "timecompleted": 0,
        "timestarted": 0, "percentage": row.percentage, "status": row.status,
    }  # fmt: skip


def assert_own_rows(token, items):
    company = TOKEN_COMPANIES[token]
    for item in items:
        assert item["lastname"] == f"C{company}", f"{token} received a row of another company: {item}"
        assert item["courseid"] in EXPOSED[company], f"{token} received a row of an unexposed course: {item}"


write_ops = st.lists(
    st.tuples(
        st.sampled_from(sorted(USERS)),
        st.integers(0, 99),  # index into the company's users
        st.integers(0, 99),  # index into the company's courses
        st.sampled_from(("upsert", "upsert", "delete")),
        st.sampled_from(PERCENTAGES),
        st.sampled_from(STATUSES),
    ),
    min_size=1,
    max_size=6,
)


class Client:
    def __init__(self):
        self.view = {}  # (userid, courseid) -> content
        self.last_limit = None


class ProgressMachine(RuleBasedStateMachine):
    site = None  # set by the test

    def __init__(self):
        super().__init__()
        self.site.reset()
        self.site.config("rate_limit", 0)
        self.rows = {}  # (company, userid, courseid) -> Row, tombstones included
        self.purged = {}  # (company, userid, courseid) -> version of a tombstone that retention removed
        self.writes = 0  # write steps so far
        self.opened_at = {}  # session id -> self.writes when it opened
        self.clients = {token: Client() for token in TOKENS}
        for company in sorted(USERS):  # synced once, with no rows yet: never the live (Moodle) answer
            self.site.write(company)

    # The truth

    def truth(self, company):
        return {
            (userid, courseid): (row.version, content(company, userid, courseid, row))
            for (c, userid, courseid), row in self.rows.items()
            if c == company and not row.deleted and courseid in EXPOSED[company]
        }

    def changed_at(self, company, key):
        row = self.rows.get((company, *key))
        return row.version if row is not None else self.purged.get((company, *key))

    # Writers

    def apply(self, ops):
        version = next_version()
        by_company = {}
        for company, user_index, course_index, action, percentage, status in ops:
            users, courses = USERS[company], COURSES[company]
            key = (company, users[user_index % len(users)], courses[course_index % len(courses)])
            current = self.rows.get(key)
            if action == "delete" and (current is None or current.deleted):
                continue
            by_company.setdefault(company, {})[key] = (action, percentage, status)
        for company, changes in by_company.items():
            upserts, deletes = [], []
            for key, (action, percentage, status) in changes.items():
                if action == "delete":
                    self.rows[key].version, self.rows[key].deleted = version, True
                    deletes.append(key[1:])
                else:
                    self.rows[key] = Row(version, False, percentage, status)
                    self.purged.pop(key, None)
                    upserts.append(reporting_row(*key, self.rows[key]))
            self.site.write(company, upserts, deletes, version=version)
        self.writes += 1

    @rule(ops=write_ops)
    def write(self, ops):
        self.apply(ops)

    @rule(company=st.sampled_from(sorted(USERS)), data=st.data())
    def purge_tombstones(self, company, data):
        """Retention: the company's tombstones up to one of their versions are deleted; that is the horizon."""
        versions = sorted({row.version for (c, *_), row in self.rows.items() if c == company and row.deleted})
        if not versions:
            return
        horizon = data.draw(st.sampled_from(versions), label="horizon")
        self.site.purge_tombstones(company, horizon)
        for key, row in list(self.rows.items()):
            if key[0] == company and row.deleted and row.version <= horizon:
                self.purged[key] = row.version
                del self.rows[key]

    # Readers

    def read(self, token, limit, data, abandon_after=None):
        """Page one session from offset 0; writes may land between pages. Returns the next offset if
        the client abandoned the session, else None."""
        client, company = self.clients[token], TOKEN_COMPANIES[token]
        client.last_limit = limit
        items, offset, pages, session = [], 0, 0, None
        while True:
            if pages and data.draw(st.integers(0, 3), label="write before this page") == 0:
                self.apply(data.draw(write_ops, label="write"))
            page = self.site.page(token, limit, offset)
            details = self.site.last_details(token)
            assert_own_rows(token, page)
            current = (details["session_id"], details["mode"], tuple(details["window"]))
            if session is None:
                session = current
                self.opened_at.setdefault(session[0], self.writes)
            assert current == session, "a later page belongs to another session or window"
            items += page
            offset += len(page)
            pages += 1
            if len(page) < limit:
                break
            if abandon_after is not None and pages >= abandon_after:
                return offset  # abandoned: the client throws its partial download away
        keys = [(item["userid"], item["courseid"]) for item in items]
        assert len(keys) == len(set(keys)), "a row was served twice in one session (pages shifted)"
        session_id, mode, (low, high) = session
        served = {key: item_content(item) for key, item in zip(keys, items, strict=True)}
        if mode == "full":
            client.view = served
        else:
            assert mode == "incremental"
            deletions = [key for key, row in self.rows.items() if row.deleted] + list(self.purged)
            for key in deletions:
                version = self.changed_at(key[0], key[1:])
                assert not (key[0] == company and low < version <= high), f"deleted {key} withheld from a delta"
            client.view.update(served)
        self.check(company, client.view, high, quiet=self.writes == self.opened_at[session_id])
        return None

    def check(self, company, view, high, quiet):
        truth = self.truth(company)
        for key, (version, expected) in truth.items():
            if version <= high:
                assert view.get(key) == expected, f"row {key} unchanged since version {high} is lost or stale"
        for key, value in view.items():
            if key not in truth or truth[key][1] != value:
                changed = self.changed_at(company, key)
                assert changed is not None, f"{key} never existed in company {company}"
                assert changed > high, f"{key} differs from the truth but changed at {changed} <= {high}"
        if quiet:
            assert view == {key: expected for key, (_, expected) in truth.items()}

    @rule(token=st.sampled_from(TOKENS), limit=st.integers(1, 8), data=st.data())
    def read_session(self, token, limit, data):
        self.site.age_sessions(token, REUSE_SECONDS + 60)
        self.read(token, limit, data)

    @rule(token=st.sampled_from(TOKENS), data=st.data())
    def repeat_offset_zero(self, token, data):
        """A second evaluation right after the first: same limit, no time passes (a replay)."""
        limit = self.clients[token].last_limit
        if limit is not None:
            self.read(token, limit, data)

    @rule(token=st.sampled_from(TOKENS), limit=st.integers(1, 4), pages=st.integers(1, 3), data=st.data())
    def abandon_session(self, token, limit, pages, data):
        self.site.age_sessions(token, REUSE_SECONDS + 60)
        self.read(token, limit, data, abandon_after=pages)

    @rule(token=st.sampled_from(TOKENS), limit=st.integers(1, 3), pages=st.integers(1, 3), data=st.data())
    def resume_after_idle(self, token, limit, pages, data):
        """A client that pauses past the idle time and asks for the next offset is served pages of a new
        session; it treats the download as failed (discards it), and nothing may count as acknowledged."""
        self.site.age_sessions(token, REUSE_SECONDS + 60)
        offset = self.read(token, limit, data, abandon_after=pages)
        if offset is None:
            return
        self.site.age_sessions(token, IDLE_SECONDS + 60)
        if data.draw(st.booleans(), label="write during the pause"):
            self.apply(data.draw(write_ops, label="write"))
        while True:
            page = self.site.page(token, limit, offset)
            assert_own_rows(token, page)
            self.opened_at.setdefault(self.site.last_details(token)["session_id"], self.writes)
            offset += len(page)
            if len(page) < limit:
                return

    @invariant()
    def committed_versions_cover_every_row(self):
        """The writer's promise the readers rely on: no row above its company's committed version."""
        for company in USERS:
            versions = [row.version for (c, *_), row in self.rows.items() if c == company]
            if versions:
                state = self.site.rows("local_alxbridge_company", companyid=company)
                assert state[0]["committed_version"] >= max(versions)


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory):
    """SQLite in memory-backed storage when there is some: thousands of small commits, no disk waits."""
    shm = Path("/dev/shm")  # noqa: S108 - a private directory is made inside it
    folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("sqlite")
    site = ProgressSite(f"sqlite:///{folder / 'moodle.db'}")
    yield site
    site.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def server_site(request, new_database):
    """The same site on each database server (MariaDB, PostgreSQL)."""
    with new_database(request.param) as url:
        site = ProgressSite(url)
        yield site
        site.close()


def run_machine(site, examples, steps):
    machine = type("Machine", (ProgressMachine,), {"site": site})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples, stateful_step_count=steps, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )  # fmt: skip


def test_merged_views_equal_the_truth_and_no_row_is_lost_sqlite(sqlite_site):
    run_machine(sqlite_site, examples=50, steps=30)


def test_merged_views_equal_the_truth_and_no_row_is_lost_on_a_server(server_site):
    run_machine(server_site, examples=15, steps=25)


rows_of_companies = st.dictionaries(
    st.tuples(st.sampled_from(sorted(USERS)), st.integers(1, 9), st.sampled_from((101, 102, 103, 104, 105, 106))),
    st.sampled_from(("live", "live", "deleted")),
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_of_companies, reads=st.lists(st.tuples(st.sampled_from(TOKENS), st.integers(1, 10),
                                                          st.integers(0, 12)), min_size=1, max_size=8))  # fmt: skip
def test_tokens_never_receive_a_row_of_another_company(sqlite_site, rows, reads):
    """Whatever the rows of other companies (the same users and courses included), at any offset."""
    site = sqlite_site
    site.reset()
    site.config("rate_limit", 0)
    for company in sorted(USERS):
        version = next_version()
        live = [reporting_row(c, u, course, Row(version)) for (c, u, course), s in rows.items()
                if c == company and s == "live"]  # fmt: skip
        dead = [(u, course) for (c, u, course), s in rows.items() if c == company and s == "deleted"]
        site.write(company, live + [reporting_row(company, u, course, Row(version)) for u, course in dead])
        site.write(company, deleted=dead)
    for token, limit, offset in reads:
        page = site.page(token, limit, offset)
        assert_own_rows(token, page)
        company = TOKEN_COMPANIES[token]
        expected = sorted((u, course) for (c, u, course), s in rows.items()
                          if c == company and s == "live" and course in EXPOSED[company])  # fmt: skip
        assert {(item["userid"], item["courseid"]) for item in page} <= set(expected)
