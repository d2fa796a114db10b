"""Page benchmark (issue 4): a 1000-row page of ``get_course_progress`` through the full WSGI stack.

    python bench/progress_page.py [--server mysql+mysqldb://root@127.0.0.1:3306/] [--pages 60]
                                  [--breakdown 20] [--profile 3] [--database NAME]
    python bench/progress_page.py --server postgresql+psycopg://postgres@127.0.0.1:5432/

Builds, in a new MariaDB or PostgreSQL (UTF8) database that is dropped afterwards (PostgreSQL:
``WITH (FORCE)``), a site with 1M reporting rows over 200 companies (5 000 rows each, 2 % of them
tombstones, companies interleaved in ``id`` order as incremental syncs leave them) — written straight
into ``local_alx_api_reporting`` with one ``INSERT … SELECT`` (then, on PostgreSQL, ``VACUUM (ANALYZE)`` of every table,
what autovacuum does on a live site) — plus exactly what authentication needs: one token per company
(its manager, the plugin's service), every learner's company membership
(500 per company, the manager's last), the site and plugin settings of the demo site, and each company's
``committed_version`` in ``local_alxbridge_company``.

Then, through the Flask app's WSGI callable (Flask test client: the whole request path, including
the rate limiter, authentication, quota, read sessions, audit log and rendering; no socket), for
``--pages`` distinct 1000-row pages (four full pages of each of ``pages / 4`` companies):

1. **uncached** (``ALX_CACHE_URL=null``), a second read of each page (the first, untimed, warms the
   buffer pool and opens the read session); baseline: the very SELECT the bridge ran for that
   page (captured from the engine), run again through the driver (``cursor.execute`` +
   ``fetchall``) and ``json.dumps``-ed;
2. **cached** (``ALX_CACHE_URL=simple``), the second read of each page (the first, untimed, fills
   the cache); baseline: a trivial endpoint on the same app returning the same bytes. Also timed: the
   trivial endpoint plus only the database work the issue requires of every call (read the token,
   count the call under the exact daily quota and write its log row, in one commit) — the floor under
   any cached call that keeps those requirements, printed as a ratio to the trivial endpoint too. And the
   database's share of each: the statements one more cached call (and one more floor call) sent, captured
   from the engine and replayed straight through the driver with one COMMIT. The trivial endpoint plus that
   replay is the lowest ratio any Python around those statements could reach; the call's time over it is
   what Flask, SQLAlchemy and the bridge's code add.

Uncached and baseline requests alternate page by page, so load from other processes on the
machine hits both alike. p50 and p95 are printed with the ratios; targets (p50): uncached ≤ 1.8× the
SELECT + json.dumps, cached ≤ 3× the trivial endpoint, the floor ≤ 2.5×. Then the cached call and the
floor are timed with the log cut to its latest 1 000 rows and with 1M more log rows of today (other
users), the two conditions alternating six times (small, large, …; two new copies of the log table swapped
with an instant ``RENAME TABLE`` (PostgreSQL: ``ALTER TABLE … RENAME`` in one transaction), so no bulk write or
its purge runs between them; the original log table is put back at the end): the cached call's p50 may
change by 10 % at most, since the daily quota is counted in a counter row, not in the log. Interleaving is
what makes the comparison robust to the machine's drift; the trivial endpoint's change between the two
conditions is printed beside it (drift alone), with the cached call's change relative to it.
``--breakdown N`` then times the phases
of N more requests of each kind (each SQL statement under the bridge function that ran it, the COMMITs,
the pool's checkout and return, the abuse shield; by wrapping functions, no profiler overhead);
``--profile N`` profiles N more with cProfile. ``--database NAME`` builds into (or reuses) that
database and keeps it, for repeated runs.
"""

import argparse
import cProfile
import dataclasses
import hashlib
import io
import json
import math
import pstats
import statistics
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa
from flask import Response, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchdb import (
    analyze,
    create_database,
    create_table_like,
    database_url,
    drop_database,
    numbers,
    rename_tables,
    server_engine,
    vacuum_analyze,
)

from alxbridge import create_app
from alxbridge.db.database import Database
from alxbridge.demo import catalog
from alxbridge.demo.store import recreate_tables
from alxbridge.extensions import csrf, limiter
from alxbridge.reporting.audit import CallLog, rejection_row
from alxbridge.reporting.quota import admit_call
from alxbridge.webservice.auth import read_site_and_token
from alxbridge.webservice.registry import FUNCTIONS
from alxbridge.webservice.rendering import headers_for

COMPANIES = 200
ROWS = 1_000_000
COURSES_PER_COMPANY = 10
USERS_PER_COMPANY = ROWS // (COMPANIES * COURSES_PER_COMPANY)  # 500 people x 10 courses = 5 000 rows
PAGE = 1000
FULL_PAGES_PER_COMPANY = 4  # 5 000 rows less 2 % tombstones: pages 0-3 are always full
VERSION = 1_750_000_000  # the committed version of every company (and last_updated of every row)
NOW = VERSION
FIRST_MANAGER_ID = 3  # user 2 is the site admin
FIRST_LEARNER_ID = 10_000
FIRST_COURSE_ID = 2  # course 1 is the site
SERVER = "mysql+mysqldb://root@127.0.0.1:3306/"
RELAXED_LIMITS = {
    "ALX_RATELIMIT_PER_IP": "10000000/minute",
    "ALX_RATELIMIT_PER_TOKEN": "10000000/minute",
    "ALX_RATELIMIT_FAILED_AUTH": "10000000/minute",
}
TRIVIAL_PATH = "/bench/trivial"
FLOOR_PATH = "/bench/bookkeeping-floor"


def complete(table, row):
    """``row`` plus an empty value for every NOT NULL column without a default it leaves out."""
    filled = dict(row)
    for column in table.columns:
        required = not column.nullable and column.server_default is None and not column.primary_key
        if required and column.name not in filled:
            filled[column.name] = 0 if isinstance(column.type, sa.Integer) else ""
    return filled


def token_of(companyid):
    return hashlib.sha256(f"bench-token-{companyid}".encode()).hexdigest()[:32]


def manager_of(companyid):
    return FIRST_MANAGER_ID + companyid - 1


def site_rows():
    """``{table name: rows}``: settings, one manager and token per company, courses; no reporting rows and no
    company memberships (:func:`add_memberships`)."""
    companies = range(1, COMPANIES + 1)
    courses = range(FIRST_COURSE_ID, FIRST_COURSE_ID + COMPANIES * COURSES_PER_COMPANY)
    plugin_config = dict(catalog.PLUGIN_CONFIG, rate_limit="1000000")  # counted (0 would skip it), never reached
    people = [(2, "admin", "Admin", "User")]
    people += [(manager_of(c), f"manager.dc{c}", "Manager", f"DC{c}") for c in companies]
    return {
        "config": [{"name": name, "value": value} for name, value in catalog.SITE_CONFIG],
        "config_plugins": [{"plugin": catalog.PLUGIN, "name": n, "value": v} for n, v in plugin_config.items()],
        "context": [{"id": 1, "contextlevel": 10, "instanceid": 0, "path": "/1", "depth": 1}],
        "role_capabilities": [
            {"contextid": 1, "roleid": catalog.USER_ROLE, "capability": "webservice/rest:use", "permission": 1,
             "timemodified": NOW, "modifierid": 2},
        ],
        "user": [
            {"id": uid, "username": username, "firstname": first, "lastname": last, "auth": "manual", "confirmed": 1,
             "mnethostid": 1, "email": f"{username}@example.org", "timecreated": NOW}
            for uid, username, first, last in people
        ],
        "company": [
            {"id": c, "name": f"Bench Company {c}", "shortname": f"DC{c}", "code": f"DC{c}", "city": "Pune",
             "country": "IN"}
            for c in companies
        ],
        "course": [{"id": 1, "category": 0, "fullname": "Bench", "shortname": "Bench", "format": "site", "visible": 1}]
        + [
            {"id": i, "category": 1, "fullname": f"Course {i}", "shortname": f"C{i}", "format": "topics",
             "visible": 1, "enablecompletion": 1}
            for i in courses
        ],
        "company_course": [
            {"companyid": (i - FIRST_COURSE_ID) // COURSES_PER_COMPANY + 1, "courseid": i, "departmentid": 0}
            for i in courses
        ],
        "external_functions": [
            {"name": name, "classname": classname, "methodname": method, "component": component, "capabilities": ""}
            for name, classname, method, component in catalog.EXTERNAL_FUNCTIONS
        ],
        "external_services": [
            {"id": 1, "name": "ALX Report API Custom Service", "enabled": 1, "restrictedusers": 0,
             "shortname": catalog.ALX_SERVICE, "timecreated": NOW},
        ],
        "external_services_functions": [
            {"externalserviceid": 1, "functionname": name} for name, *_ in catalog.EXTERNAL_FUNCTIONS
        ],
        "external_tokens": [
            {"token": token_of(c), "privatetoken": "", "tokentype": 0, "userid": manager_of(c),
             "externalserviceid": 1, "contextid": 1, "creatorid": 2, "validuntil": 0, "timecreated": NOW}
            for c in companies
        ],
        "local_alxbridge_company": [
            {"companyid": c, "committed_version": VERSION, "source_watermark": VERSION, "last_full": VERSION,
             "members_digest": "", "timemodified": NOW}
            for c in companies
        ],
    }  # fmt: skip


def add_memberships(connection, tables):
    """Every learner's ``company_users`` row (500 per company, companies interleaved), then each company's
    manager, as on a site where the Power BI account was created after its learners. IOMAD indexes this table
    by ``(companyid, userid, departmentid)`` only, so finding the caller's company is a probe per company or a
    walk of the table in ``id`` order: with the managers alone in it, the benchmark would not see that cost."""
    members = tables.company_users.name
    company = f"(seq % {COMPANIES} + 1)"
    learner = f"({FIRST_LEARNER_ID} + ({company} - 1) * {USERS_PER_COMPANY} + (seq - seq % {COMPANIES}) / {COMPANIES})"
    connection.execute(sa.text(f"""
        INSERT INTO {members} (companyid, userid, managertype, departmentid, suspended, educator)
        SELECT {company}, {learner}, 0, {company}, 0, 0 FROM {numbers(connection, COMPANIES * USERS_PER_COMPANY)}
    """))  # fmt: skip
    connection.execute(
        tables.company_users.insert(),
        [{"companyid": c, "userid": manager_of(c), "managertype": 1, "departmentid": c, "suspended": 0, "educator": 0}
         for c in range(1, COMPANIES + 1)],
    )  # fmt: skip
    analyze(connection, members)


def build_site(database):
    """Every table of the schema, the rows authentication needs, and 1M reporting rows."""
    t = database.tables
    started = time.perf_counter()
    with database.begin() as connection:
        recreate_tables(connection, database.schema.metadata, drop_first=False)
    with database.begin() as connection:
        for name, rows in site_rows().items():
            table = getattr(t, name)
            connection.execute(table.insert(), [complete(table, row) for row in rows])
        add_memberships(connection, t)
    # n = 0 … 999 999: company n % 200 (so a company's rows are spread over the whole id range),
    # then person and course. Names carry non-ASCII text; some people never started, 1/5 completed.
    r = t.local_alx_api_reporting.name
    postgres = database.is_postgres

    def div(a, b):  # integer division
        return f"{a} / {b}" if postgres else f"{a} DIV {b}"

    def elt(index, *texts):  # the text at 0-based ``index``
        quoted = ", ".join("'" + text.replace("'", "''") + "'" for text in texts)
        return f"(ARRAY[{quoted}])[{index} + 1]" if postgres else f"ELT({index} + 1, {quoted})"

    company = f"(seq % {COMPANIES} + 1)"
    slot = f"({div('seq', COMPANIES)})"
    userid = f"({FIRST_LEARNER_ID} + ({company} - 1) * {USERS_PER_COMPANY} + {div(slot, COURSES_PER_COMPANY)})"
    courseid = f"({FIRST_COURSE_ID} + ({company} - 1) * {COURSES_PER_COMPANY} + {slot} % {COURSES_PER_COMPANY})"
    percentage = "(CASE WHEN seq % 5 = 0 THEN 100 WHEN seq % 7 = 0 THEN 0 ELSE (seq * 37) % 10000 / 100.0 END)"
    insert_select = f"""
        INSERT INTO {r} (userid, companyid, courseid, firstname, lastname, email, coursename, timecompleted,
                         timestarted, percentage, status, last_updated, is_deleted, created_at, updated_at)
        SELECT {userid}, {company}, {courseid},
               CONCAT({elt("seq % 4", "Zoë", "Ølaf", "Anaïs", "José")}, ' ', {userid}),
               CONCAT({elt("seq % 3", "Ångström", "Müller", "O'Brien")}, '-', {company}),
               CONCAT('learner', {userid}, '@dc', {company}, '.example.com'),
               CONCAT({elt("seq % 3", "Workplace Safety Essentials", "Sécurité au travail", "データ保護入門")},
                      ' ', {courseid}),
               CASE WHEN seq % 5 = 0 THEN {NOW} - (seq * 7919) % 30000000 ELSE 0 END,
               CASE WHEN seq % 7 = 0 AND seq % 5 <> 0 THEN 0 ELSE {NOW} - 30000000 - (seq * 104729) % 30000000 END,
               {percentage},
               CASE WHEN seq % 5 = 0 THEN 'completed' WHEN seq % 7 = 0 THEN 'not_started' ELSE 'in_progress' END,
               {VERSION}, CASE WHEN seq % 50 = 49 THEN 1 ELSE 0 END, {NOW}, {NOW}
        FROM {numbers(database.engine, ROWS)}
    """
    with database.begin() as connection:
        connection.execute(sa.text(insert_select))
        if not postgres:
            analyze(connection, r)
    if postgres:  # every table the site was built with: the small ones, unanalyzed, get plans for empty tables
        vacuum_analyze(database.engine)
    with database.connect() as connection:
        count = connection.execute(sa.text(f"SELECT COUNT(*), SUM(is_deleted) FROM {r}")).one()
    print(f"site: {count[0]:,} reporting rows ({count[1]:,} tombstones) in {COMPANIES} companies, "
          f"built in {time.perf_counter() - started:.0f} s")  # fmt: skip


# ---------------------------------------------------------------------------------------------------


class Bench:
    """Two apps on the site (cache off, simple cache), request helpers, and the SELECT capture."""

    def __init__(self, url):
        self.url = url
        self.uncached = self._app("null")
        self.cached = self._app("simple")
        self.trivial_body = b""

        @self.cached.route(TRIVIAL_PATH, methods=["POST"])
        def trivial():
            request.form  # noqa: B018 - parse the same form the bridge parses
            return Response(self.trivial_body, status=200, headers=headers_for("json"))

        @self.cached.route(FLOOR_PATH, methods=["POST"])
        def bookkeeping_floor():
            """The trivial endpoint plus only the per-call database work the issue requires of every call: the
            token read, the exact daily quota (the counter row's conditional update) and the call's log row,
            committed together."""
            database, form = self.cached.extensions["alx_database"], request.form
            with database.connect() as connection:
                _, token = read_site_and_token(connection, database.tables, form["wstoken"])
                now = int(time.time())
                call_log = CallLog(
                    connection, database.tables, user_id=token["userid"], endpoint="bench", ip_address="",
                    user_agent="bench", now=now,
                )  # fmt: skip
                row = {"user_id": token["userid"], "company_shortname": "bench", "endpoint": "bench", "now": now,
                       "ip_address": "", "user_agent": "bench"}  # fmt: skip
                call_log.admitted(admit_call(
                    connection, database.tables, user_id=token["userid"], daily_limit=10**9, now=now, timezone=UTC,
                    rejection=rejection_row(**row), on_first_rejection=None,
                ))  # fmt: skip
                call_log.finish(record_count=PAGE, error_message=None, details={"bench": True})
            return Response(self.trivial_body, status=200, headers=headers_for("json"))

        csrf.exempt(trivial)  # a REST-like POST, as exempt from the admin pages' CSRF check as server.php
        csrf.exempt(bookkeeping_floor)

        self.clients = {"uncached": self.uncached.test_client(), "cached": self.cached.test_client()}
        self.database = self.uncached.extensions["alx_database"]
        self.captured = []
        sa.event.listen(self.database.engine, "before_cursor_execute", self._capture)
        self.raw = self.database.engine.raw_connection()

    def _app(self, cache_url):
        return create_app({
            "ALX_DATABASE_URL": self.url, "ALX_SECRET_KEY": "bench", "ALX_SCHEDULER": "off",
            "ALX_CACHE_URL": cache_url, **RELAXED_LIMITS,
        })  # fmt: skip

    def _capture(self, connection, cursor, statement, parameters, context, executemany):
        if "local_alx_api_reporting" in statement and "LIMIT" in statement and "ORDER BY" in statement:
            self.captured.append((statement, parameters))

    @staticmethod
    def form(companyid, offset):
        return {
            "wstoken": token_of(companyid), "wsfunction": catalog.PROGRESS_FUNCTION, "moodlewsrestformat": "json",
            "limit": str(PAGE), "offset": str(offset),
        }  # fmt: skip

    def page(self, which, companyid, offset):
        """``(seconds, body)`` of one call through the app's WSGI callable."""
        client = self.clients[which]
        started = time.perf_counter()
        body = client.post("/webservice/rest/server.php", data=self.form(companyid, offset)).get_data()
        return time.perf_counter() - started, body

    def trivial(self, companyid, offset, body, path=TRIVIAL_PATH):
        self.trivial_body = body
        started = time.perf_counter()
        served = self.clients["cached"].post(path, data=self.form(companyid, offset)).get_data()
        seconds = time.perf_counter() - started
        assert served == body
        return seconds

    def select_and_dump(self, statement, parameters):
        """The bridge's SELECT once more, straight through the driver, and ``json.dumps``."""
        started = time.perf_counter()
        cursor = self.raw.cursor()
        cursor.execute(statement, parameters)
        names = [d[0] for d in cursor.description]
        text = json.dumps([dict(zip(names, row, strict=True)) for row in cursor.fetchall()], default=float)
        seconds = time.perf_counter() - started
        cursor.close()
        self.raw.rollback()
        return seconds, text

    def last_cache_hit(self, companyid):
        logs = self.database.tables.local_alx_api_logs
        with self.database.connect() as connection:
            data = connection.execute(
                sa.select(logs.c.additional_data)
                .where(logs.c.userid == manager_of(companyid))
                .order_by(logs.c.id.desc())
                .limit(1)
            ).scalar_one()
        return json.loads(data)["cache_hit"]

    def statements_of(self, companyid, offset, path=None):
        """The statements (text, driver parameters) one more cached call (or one more call of the floor's ``path``)
        sends, in order; the call itself is untimed."""
        engine = self.cached.extensions["alx_database"].engine
        statements = []

        def record(connection, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            if path is None:
                check_page(self.page("cached", companyid, offset)[1])
            else:
                self.clients["cached"].post(path, data=self.form(companyid, offset))
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return statements

    def replay(self, statements):
        """``statements`` once more, straight through the driver, then one COMMIT: what the database alone costs
        a call that sends them (no Flask, no SQLAlchemy, no bridge code). ``(seconds, of which the COMMIT)``."""
        started = time.perf_counter()
        cursor = self.raw.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            if cursor.description is not None:
                cursor.fetchall()
        committing = time.perf_counter()
        self.raw.commit()
        finished = time.perf_counter()
        cursor.close()
        return finished - started, finished - committing

    def close(self):
        self.raw.close()
        for app in (self.uncached, self.cached):
            app.extensions["alx_database"].engine.dispose()


def check_page(body):
    items = json.loads(body)
    assert isinstance(items, list) and len(items) == PAGE, body[:300]
    return items


def percentile(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(name, values):
    return {"name": name, "n": len(values), "p50": statistics.median(values), "p95": percentile(values, 0.95)}


def measure(bench, pages):
    companies = list(range(1, COMPANIES + 1, COMPANIES // max(1, pages // FULL_PAGES_PER_COMPANY)))
    targets = [(c, o * PAGE) for c in companies for o in range(FULL_PAGES_PER_COMPANY)][:pages]
    times = {
        "uncached": [], "select": [], "cached": [], "trivial": [], "floor": [], "cached_sql": [], "floor_sql": [],
    }  # fmt: skip
    commits = {"cached": [], "floor": []}  # the COMMIT's part of each replay
    sizes = []

    # 1. uncached, alternating with the same SELECT through the driver
    for companyid, offset in targets:
        check_page(bench.page("uncached", companyid, offset)[1])  # warms the pool, opens/continues the session
    for companyid, offset in targets:
        bench.captured.clear()
        seconds, body = bench.page("uncached", companyid, offset)
        items = check_page(body)
        assert len(bench.captured) == 1, f"expected one page SELECT, saw {len(bench.captured)}"
        assert not bench.last_cache_hit(companyid)
        select_seconds, dumped = bench.select_and_dump(*bench.captured[0])
        assert len(json.loads(dumped)) == len(items)
        times["uncached"].append(seconds)
        times["select"].append(select_seconds)
        sizes.append(len(body))

    # 2. cached: first read fills the cache (untimed), the second is timed; then the trivial endpoint
    for companyid, offset in targets:
        _, first = bench.page("cached", companyid, offset)
        check_page(first)
        seconds, body = bench.page("cached", companyid, offset)
        assert body == first, "a cached page differs from the page it cached"
        assert bench.last_cache_hit(companyid), "the second read was not a cache hit"
        times["cached"].append(seconds)
        times["trivial"].append(bench.trivial(companyid, offset, body))
        times["floor"].append(bench.trivial(companyid, offset, body, FLOOR_PATH))
        for name, path in (("cached", None), ("floor", FLOOR_PATH)):
            seconds, commit = bench.replay(bench.statements_of(companyid, offset, path))
            times[f"{name}_sql"].append(seconds)
            commits[name].append(commit)
    return targets, times, commits, sizes


def cached_calls(bench, targets):
    """The cached call, the trivial endpoint and the floor again over ``targets`` (the cache is warm)."""
    times = {"cached": [], "trivial": [], "floor": []}
    for companyid, offset in targets:
        seconds, body = bench.page("cached", companyid, offset)
        check_page(body)
        times["cached"].append(seconds)
        times["trivial"].append(bench.trivial(companyid, offset, body))
        times["floor"].append(bench.trivial(companyid, offset, body, FLOOR_PATH))
    return {name: statistics.median(values) for name, values in times.items()}


OTHER_USERS = 5000
FIRST_OTHER_USER = FIRST_LEARNER_ID + COMPANIES * USERS_PER_COMPANY  # no token: they only fill the log
SMALL_LOG = 1000
LARGE_LOG_EXTRA = 1_000_000


def add_todays_log_rows(connection, table_name, count):
    """``count`` log rows of today for other users than the bench's (5 000 of them), in one INSERT … SELECT."""
    other_user = f"({FIRST_OTHER_USER} + seq % {OTHER_USERS})"
    connection.execute(sa.text(f"""
        INSERT INTO {table_name} (userid, company_shortname, endpoint, record_count, timeaccessed, response_time_ms,
                                  ip_address, user_agent)
        SELECT {other_user}, 'other', 'get_course_progress', 1000, {int(time.time())} - seq % 3600, 12.5,
               '10.0.0.1', 'Microsoft.Data.Mashup'
        FROM {numbers(connection, count)}
    """))  # fmt: skip
    analyze(connection, table_name)


class LogSizes:
    """The log table with its latest 1 000 rows and a copy of it with 1M more rows of today, swapped in and out
    with one ``RENAME TABLE`` (instant, atomic), so the two conditions alternate without bulk writes between
    them. Both are new tables: deleting rows instead would leave InnoDB purging them (PostgreSQL: dead rows to
    vacuum) during the measurements. The original table waits aside and is put back by :meth:`close`.

    On PostgreSQL both copies draw their ids from the original table's sequence (``LIKE … INCLUDING ALL``), so
    the latest log row keeps the highest id whichever table is live."""

    def __init__(self, database):
        self.database = database
        self.live = database.tables.local_alx_api_logs.name
        self.spare = f"{self.live}_bench_spare"
        self.original = f"{self.live}_bench_original"
        self.large_is_live = False
        small = f"{self.live}_bench_small"
        with database.begin() as connection:
            for name in (small, self.spare, self.original):
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            create_table_like(connection, small, self.live, own_ids=False)
            connection.execute(
                sa.text(f"INSERT INTO {small} SELECT * FROM {self.live} ORDER BY id DESC LIMIT {SMALL_LOG}")
            )
            create_table_like(connection, self.spare, self.live, own_ids=False)
            connection.execute(sa.text(f"INSERT INTO {self.spare} SELECT * FROM {small}"))
            add_todays_log_rows(connection, self.spare, LARGE_LOG_EXTRA)
            analyze(connection, small)
            rename_tables(connection, [(self.live, self.original), (small, self.live)])

    def use(self, large):
        if large != self.large_is_live:
            swap = f"{self.live}_bench_swap"
            with self.database.begin() as connection:
                rename_tables(connection, [(self.live, swap), (self.spare, self.live), (swap, self.spare)])
            self.large_is_live = large

    def close(self):
        with self.database.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {self.spare}"))
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {self.live}"))
            rename_tables(connection, [(self.original, self.live)])


def log_volume(bench, targets, rounds=6):
    """The cached call and the floor with about 1k log rows of today and with 1M more (other users): the daily
    quota must not make a call's cost grow with the calls the site has logged.

    The two conditions alternate ``rounds`` times (small, large, small, large, …; :class:`LogSizes`), after one
    untimed pass of each (the new tables' first reads and the flush of the 1M rows), so a machine that gets
    slower or faster during the run weighs on both alike; the trivial endpoint's change is
    printed beside it (what the machine's drift alone does), and so is the cached call's change relative to it.
    """
    sizes = LogSizes(bench.database)
    samples = {"small": [], "large": []}
    try:
        for size in ("small", "large"):
            sizes.use(large=size == "large")
            cached_calls(bench, targets)
        for _ in range(rounds):
            for size in ("small", "large"):
                sizes.use(large=size == "large")
                samples[size].append(cached_calls(bench, targets))
    finally:
        sizes.close()
    p50 = {
        size: {name: statistics.median(run[name] for run in runs) for name in runs[0]} for size, runs in samples.items()
    }
    small, large = p50["small"], p50["large"]
    print(f"\n{'cached call and floor by log size':<44} {'p50 ms':>9} {'p50 ms':>9} {'change':>8}")
    print(f"{f'({rounds} rounds, alternating)':<44} {f'~{SMALL_LOG // 1000}k rows':>9} {'+1M today':>9}")
    for name in ("cached", "floor", "trivial"):
        change = large[name] / small[name] - 1
        print(f"{name:<44} {small[name] * 1000:>9.2f} {large[name] * 1000:>9.2f} {change:>+7.1%}")
    change = large["cached"] / small["cached"] - 1
    relative = (large["cached"] / large["trivial"]) / (small["cached"] / small["trivial"]) - 1
    print(
        f"cached p50 change with 1M more log rows: {change:+.1%}   target <= 10 %   "
        + ("ok" if abs(change) <= 0.10 else "MISSED")
        + f"   (relative to the trivial endpoint: {relative:+.1%})"
    )


def report(times, commits, sizes):
    rows = {name: summary(name, values) for name, values in times.items()}
    size = statistics.median(sizes) / 1024
    print(f"\n{len(times['uncached'])} distinct pages of {PAGE} rows, response {size:.0f} KiB (median)")
    print(f"{'measurement':<44} {'n':>4} {'p50 ms':>9} {'p95 ms':>9}")
    labels = {
        "uncached": "bridge, uncached (ALX_CACHE_URL=null)",
        "select": "  baseline: same SELECT via driver + json.dumps",
        "cached": "bridge, cached (simple cache hit)",
        "trivial": "  baseline: trivial endpoint, same bytes",
        "floor": "  trivial + required bookkeeping only",
        "cached_sql": "  cached call's statements + COMMIT, raw driver",
        "floor_sql": "  floor's statements + COMMIT, raw driver",
    }
    for name in ("uncached", "select", "cached", "trivial", "floor", "cached_sql", "floor_sql"):
        row = rows[name]
        print(f"{labels[name]:<44} {row['n']:>4} {row['p50'] * 1000:>9.2f} {row['p95'] * 1000:>9.2f}")
    print()
    results = {}
    for name, base, target in (("uncached", "select", 1.8), ("cached", "trivial", 3.0), ("floor", "trivial", 2.5)):
        p50 = rows[name]["p50"] / rows[base]["p50"]
        p95 = rows[name]["p95"] / rows[base]["p95"]
        verdict = "ok" if p50 <= target else "MISSED"
        results[name] = (p50, p95)
        print(f"{name:>8} / {base:<8} ratio  p50 {p50:6.2f}x   p95 {p95:6.2f}x   target <= {target}x   {verdict}")
    trivial = rows["trivial"]["p50"]
    print("\nthe database's share: the same statements and COMMIT replayed through the raw driver (p50)")
    for name in ("cached", "floor"):
        database = rows[f"{name}_sql"]["p50"]
        lowest = (trivial + database) / trivial
        overhead = rows[name]["p50"] / (trivial + database)
        commit = statistics.median(commits[name])
        print(
            f"{name:>8}: trivial + its SQL alone = {lowest:5.2f}x the trivial endpoint (no Python around the SQL;"
            f" the COMMIT {commit * 1000:.2f} ms of {database * 1000:.2f}); the call is {overhead:4.2f}x that"
        )
    return results


def profile(bench, targets, count):
    """cProfile of ``count`` more uncached and cached requests; prints the top of each."""
    for which in ("uncached", "cached"):
        profiler = cProfile.Profile()
        for companyid, offset in targets[:count]:
            profiler.enable()
            bench.page(which, companyid, offset)
            profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).strip_dirs()
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        print(f"\n===== profile: {which}, {count} requests =====")
        print(stream.getvalue())


SQL_LABEL = "SQL statements (execute + fetch into the driver)"
LEAVES = ("page rows fetched", "SQL: ", "COMMIT", "connection ", "abuse shield")  # phases that never overlap


def _bridge_caller():
    """The bridge function that ran the statement now executing (the first frame outside SQLAlchemy and the
    bridge's database helpers)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("alxbridge.") and module not in ("alxbridge.db.database", "alxbridge.db.prebuilt"):
            return f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


class Phases:
    """Wall time per phase of a request, by wrapping the bridge's functions in this process only; each SQL
    statement is also timed under the bridge function that ran it."""

    WRAPPED = (
        # the page's rows stream from the server into the writer: fetching them is part of this phase
        ("alxbridge.reporting.service", "encode_page", "page rows fetched and written as JSON (encode_page)"),
    )

    def __init__(self, app):
        import importlib

        self.seconds, self.calls = {}, {}
        self._restore = []
        for module_name, attribute, label in self.WRAPPED:
            module = importlib.import_module(module_name)
            self._wrap(module, attribute, label)
        function = FUNCTIONS[catalog.PROGRESS_FUNCTION]
        label = "the function (service.get_course_progress, all of it)"
        FUNCTIONS[function.name] = dataclasses.replace(function, run=self._timed(label, function.run))
        self._restore.append((FUNCTIONS, function.name, function))
        self._wrap(sa.engine.Connection, "commit", "COMMITs (Connection.commit)")
        self._wrap(Database, "connect", "connection checkout from the pool (pinged only when in doubt)")
        self._wrap(sa.engine.Connection, "close", "connection return to the pool (rolled back only if open)")
        self._wrap(limiter, "_check_request_limit", "abuse shield (Flask-Limiter: 3 limits, memory storage)")
        self._engine = app.extensions["alx_database"].engine
        sa.event.listen(self._engine, "before_cursor_execute", self._before)
        sa.event.listen(self._engine, "after_cursor_execute", self._after)

    def _wrap(self, owner, attribute, label):
        original = getattr(owner, attribute)
        setattr(owner, attribute, self._timed(label, original))
        self._restore.append((owner, attribute, original))

    def _timed(self, label, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        return wrapper

    def add(self, label, seconds):
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds
        self.calls[label] = self.calls.get(label, 0) + 1

    def _before(self, connection, cursor, statement, parameters, context, executemany):
        context._bench_label = f"SQL: {statement.split(None, 1)[0]} in {_bridge_caller()}"
        context._bench_started = time.perf_counter()

    def _after(self, connection, cursor, statement, parameters, context, executemany):
        seconds = time.perf_counter() - context._bench_started
        self.add(SQL_LABEL, seconds)
        self.add(context._bench_label, seconds)

    def close(self):
        for owner, attribute, original in reversed(self._restore):
            if owner is FUNCTIONS:
                FUNCTIONS[attribute] = original
            else:
                setattr(owner, attribute, original)
        sa.event.remove(self._engine, "before_cursor_execute", self._before)
        sa.event.remove(self._engine, "after_cursor_execute", self._after)


def breakdown(bench, targets, count):
    """Mean milliseconds per request spent in each phase (uncached, then cached), without a profiler; what the
    timed phases leave is Python: Flask, parsing, rendering and the bridge's own code."""
    for which in ("uncached", "cached"):
        phases = Phases(bench.uncached if which == "uncached" else bench.cached)
        total = 0.0
        try:
            for companyid, offset in targets[:count]:
                seconds, body = bench.page(which, companyid, offset)
                check_page(body)
                total += seconds
        finally:
            phases.close()
        n = min(count, len(targets))
        print(f"\n===== where a {which} request spends its time (mean of {n}) =====")
        print(f"{'whole request (WSGI)':<62} {total / n * 1000:8.2f} ms")
        for label, seconds in sorted(phases.seconds.items(), key=lambda item: -item[1]):
            indent = "  " if label.startswith("SQL: ") else ""
            print(f"{indent + label:<62} {seconds / n * 1000:8.2f} ms   ({phases.calls[label] / n:.1f} calls)")
        timed = sum(seconds for label, seconds in phases.seconds.items() if label.startswith(LEAVES))
        print(f"{'the rest: Python (Flask, parsing, bridge code)':<62} {(total - timed) / n * 1000:8.2f} ms")


def main():
    global COMPANIES, ROWS, FIRST_OTHER_USER, LARGE_LOG_EXTRA  # the site's size, set once below
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=SERVER, help="MariaDB or PostgreSQL server URL without a database")
    parser.add_argument("--database", help="use (and keep) this database; built when it has no reporting rows")
    parser.add_argument("--pages", type=int, default=60, help="distinct 1000-row pages per measurement")
    parser.add_argument(
        "--companies",
        type=int,
        default=COMPANIES,
        help="companies of 5 000 rows each (a quick try on a small site; default 200: 1M rows)",
    )
    parser.add_argument("--log-rows", type=int, default=LARGE_LOG_EXTRA,
                        help="log rows of today added for the large-log condition (default 1M)")  # fmt: skip
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N requests of each kind")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N", help="then time the phases of N requests")
    args = parser.parse_args()
    COMPANIES, LARGE_LOG_EXTRA = args.companies, args.log_rows
    ROWS = COMPANIES * COURSES_PER_COMPANY * USERS_PER_COMPANY
    FIRST_OTHER_USER = FIRST_LEARNER_ID + COMPANIES * USERS_PER_COMPANY

    server = server_engine(args.server)
    name = args.database or f"alxbench_page_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    url = database_url(args.server, name)
    bench = None
    try:
        database = Database(url)
        reporting = database.tables.local_alx_api_reporting
        with database.connect() as connection:
            built = (
                reporting.name in sa.inspect(connection).get_table_names()
                and connection.execute(sa.select(reporting.c.id).limit(1)).first()
            )
        if not built:
            build_site(database)
        database.engine.dispose()
        bench = Bench(url)
        targets, times, commits, sizes = measure(bench, args.pages)
        report(times, commits, sizes)
        log_volume(bench, targets)
        if args.breakdown:
            breakdown(bench, targets, args.breakdown)
        if args.profile:
            profile(bench, targets, args.profile)
    finally:
        if bench is not None:
            bench.close()
        if not args.database:
            drop_database(server, name)
        server.dispose()


if __name__ == "__main__":
    main()
