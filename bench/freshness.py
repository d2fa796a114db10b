"""Freshness benchmark (issue 14): how long a Moodle change takes to reach a client, with the sync tick.

    python bench/freshness.py --users 575000 --minutes 10 --tick 30 --tick 10

Builds, in a new MariaDB database dropped afterwards, a demo site (``alx demo`` generator: 200 companies,
``--users`` people, about 1.7 enrolments each, so 575 000 people ≈ 1M enrolments), syncs it in full and turns
Moodle's standard log store on. Then, for each ``--tick`` interval, on the live WSGI stack (gunicorn with
the production settings, 2 workers, the in-process scheduler ticking):

* a generator makes ``--rate`` changes a second for ``--minutes``, as Moodle makes them: a module completion
  and its ``course_module_completion_updated`` event in one transaction, each on a row not changed before;
* one client per company of ``--companies`` companies reads its whole dataset every ``--every`` seconds
  (``offset=0`` then the next pages until a short one, default "auto" mode: incremental after the first);
* per change, the delay from its commit to the first answer showing the row again is kept.

It prints the delays (p50, p95, max) and their ratio to the tick interval (targets: p95 ≤ 2×, max ≤ 4×), the
ticks' own time under the load as a share of wall time (target ≤ 10 %), and the time of an idle tick (no new
events) against a ``SELECT 1`` round trip measured in the same run (target ≤ 20 ms).
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alxbridge.db.database import Database  # noqa: E402
from alxbridge.demo import build_demo_site  # noqa: E402
from alxbridge.sync.runs import run_sync  # noqa: E402
from alxbridge.sync.tick import read_tail_figures, run_tick  # noqa: E402
from tests.gunicorn_support import gunicorn_servers  # noqa: E402

PROGRESS = "local_alx_report_api_get_course_progress"
EVENT = "\\core\\event\\course_module_completion_updated"
PAGE = 1000


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="mysql+mysqldb://root@127.0.0.1:3306/", help="MariaDB server URL")
    parser.add_argument("--users", type=int, default=575_000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=5, help="changes per second")
    parser.add_argument("--every", type=float, default=10, help="seconds between a client's reads")
    parser.add_argument("--companies", type=int, default=5, help="companies changed and read")
    parser.add_argument("--tick", type=int, action="append", help="tick interval(s) to measure (default 30)")
    return parser.parse_args()


def build(server, users):
    name = f"alxfresh_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(server)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    started = time.perf_counter()
    logins = build_demo_site(database, companies=200, users=users, courses=max(users // 115, 4), seed=7)
    print(f"site: {logins.rows_written:,} rows in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    run_sync(database, full=True)
    with database.begin() as connection:
        config = database.tables.config_plugins
        for plugin, setting, value in (
            ("tool_log", "enabled_stores", "logstore_standard"),
            ("local_alx_report_api", "rate_limit", "0"),  # unlimited: the clients read all day
        ):
            connection.execute(sa.delete(config).where(config.c.plugin == plugin, config.c.name == setting))
            connection.execute(sa.insert(config).values(plugin=plugin, name=setting, value=value))
    print(f"full sync: {time.perf_counter() - started:.0f} s")
    with database.connect() as connection:
        company = database.tables.company
        ids = dict(connection.execute(sa.select(company.c.shortname, company.c.id)).all())
    return engine, name, url, database, {ids[t.company]: t.token for t in logins.tokens if t.token}


def candidates(database, companyids, count):
    """(company, userid, courseid, cmid) of rows whose user has not completed that trackable module, shuffled."""
    tables = database.tables
    reporting, modules, done = tables.local_alx_api_reporting, tables.course_modules, tables.course_modules_completion
    query = (
        sa.select(reporting.c.companyid, reporting.c.userid, reporting.c.courseid, sa.func.min(modules.c.id))
        .join(modules, sa.and_(modules.c.course == reporting.c.courseid, modules.c.completion > 0))
        .outerjoin(done, sa.and_(done.c.coursemoduleid == modules.c.id, done.c.userid == reporting.c.userid))
        .where(reporting.c.companyid.in_(companyids), reporting.c.is_deleted == 0, done.c.id.is_(None))
        .group_by(reporting.c.companyid, reporting.c.userid, reporting.c.courseid)
    )
    with database.connect() as connection:
        rows = connection.execute(query).all()
    random.Random(7).shuffle(rows)
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} unchanged rows in the chosen companies; lower --rate or --minutes")
    return rows


class Changes:
    """The generator's changes: ``{(userid, courseid): commit time}``, and when a client first saw each."""

    def __init__(self):
        self.committed, self.seen, self.lock = {}, {}, threading.Lock()

    def commit(self, key, when):
        with self.lock:
            self.committed[key] = when

    def saw(self, keys, when):
        with self.lock:
            for key in keys:
                if key in self.committed and key not in self.seen:
                    self.seen[key] = when


def generate(database, rows, rate, seconds, changes):
    tables, interval = database.tables, 1 / rate
    started = time.monotonic()
    for index, (_, userid, courseid, cmid) in enumerate(rows):
        pause = started + index * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if time.monotonic() - started >= seconds:
            return
        now = int(time.time())
        with database.begin() as connection:
            connection.execute(
                sa.insert(tables.course_modules_completion).values(
                    coursemoduleid=cmid, userid=userid, completionstate=1, timemodified=now
                )
            )
            connection.execute(
                sa.insert(tables.logstore_standard_log).values(
                    eventname=EVENT,
                    component="core",
                    action="updated",
                    target="course_module_completion",
                    objectid=cmid,
                    crud="u",
                    edulevel=2,
                    contextid=1,
                    contextlevel=70,
                    contextinstanceid=cmid,
                    userid=userid,
                    courseid=courseid,
                    relateduserid=userid,
                    timecreated=now,
                    origin="web",
                )
            )
        changes.commit((userid, courseid), time.time())


def read_all(base, token):
    """One refresh of the client's dataset; returns the (userid, courseid) of every row in the answers."""
    keys, offset = [], 0
    while True:
        body = urllib.parse.urlencode(
            {"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json", "limit": PAGE, "offset": offset}
        ).encode()
        request = urllib.request.Request(f"{base}/webservice/rest/server.php", data=body)  # noqa: S310 - http only
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            items = json.loads(response.read())
        if not isinstance(items, list):
            raise RuntimeError(f"the bridge answered {items}")
        keys.extend((item["userid"], item["courseid"]) for item in items)
        if len(items) < PAGE:
            return keys
        offset += PAGE


def client(base, token, every, stop, changes):
    while not stop.is_set():
        begun = time.monotonic()
        changes.saw(read_all(base, token), time.time())
        stop.wait(max(0.0, every - (time.monotonic() - begun)))


def watch_ticks(database, stop, ticks):
    """Collect every tick's (time, duration ms, events read) from the tail row."""
    while not stop.wait(0.5):
        with database.connect() as connection:
            figures = read_tail_figures(connection, database.tables)
        if figures and (not ticks or ticks[-1][0] != figures.timeticked):
            ticks.append((figures.timeticked, figures.duration_ms, figures.events_read))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(args, url, database, tokens, companyids, tick_seconds, rows):
    changes, stop, ticks = Changes(), threading.Event(), []
    env = {
        **os.environ, "ALX_DATABASE_URL": url, "ALX_SECRET_KEY": "bench", "ALX_SCHEDULER": "on",
        "ALX_SYNC_TICK_SECONDS": str(tick_seconds), "ALX_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/9",
        "ALX_RATELIMIT_PER_IP": "100000/minute", "ALX_RATELIMIT_PER_TOKEN": "100000/minute",
    }  # fmt: skip
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as folder, gunicorn_servers(1, env, folder) as (port,):
        base = f"http://127.0.0.1:{port}"
        for company in companyids:  # the first, full refresh of each client
            read_all(base, tokens[company])
        threads = [
            threading.Thread(target=client, args=(base, tokens[c], args.every, stop, changes)) for c in companyids
        ]
        threads.append(threading.Thread(target=watch_ticks, args=(database, stop, ticks)))
        for thread in threads:
            thread.start()
        load_started = time.time()
        generate(database, rows, args.rate, seconds, changes)
        load_seconds = time.time() - load_started
        time.sleep(4 * tick_seconds + args.every)  # the last changes' chance to show
        stop.set()
        for thread in threads:
            thread.join()
    delays = [changes.seen[key] - at for key, at in changes.committed.items() if key in changes.seen]
    missed = len(changes.committed) - len(delays)
    under_load = [(at, ms) for at, ms, events in ticks if load_started <= at <= load_started + load_seconds]
    tick_share = sum(ms for _, ms in under_load) / 1000 / load_seconds
    p50, p95, worst = (percentile(delays, 0.5), percentile(delays, 0.95), max(delays)) if delays else (0, 0, 0)
    print(
        f"tick {tick_seconds} s: {len(changes.committed)} changes in {load_seconds:.0f} s, {missed} never seen; "
        f"delay p50 {p50:.1f} s ({p50 / tick_seconds:.2f}×), p95 {p95:.1f} s ({p95 / tick_seconds:.2f}× tick, "
        f"target ≤ 2×), max {worst:.1f} s ({worst / tick_seconds:.2f}×, target ≤ 4×); {len(under_load)} ticks took "
        f"{tick_share:.1%} of wall time (target ≤ 10 %)"
    )
    return len(changes.committed)


def idle_tick_cost(database):
    """Median of an idle tick and of a ``SELECT 1`` round trip, in ms, measured here (the baseline)."""
    run_tick(database)  # reads whatever the last load left
    ticks, trips = [], []
    for _ in range(30):
        started = time.perf_counter()
        result = run_tick(database)
        ticks.append((time.perf_counter() - started) * 1000)
        assert result.events_read == 0, result.summary()
        with database.connect() as connection:
            started = time.perf_counter()
            connection.execute(sa.text("SELECT 1"))
            trips.append((time.perf_counter() - started) * 1000)
    tick, trip = statistics.median(ticks), statistics.median(trips)
    print(f"idle tick: {tick:.1f} ms (target ≤ 20 ms) = {tick / trip:.1f}× a SELECT 1 round trip ({trip:.2f} ms)")


def main():
    args = arguments()
    engine, name, url, database, tokens = build(args.server, args.users)
    try:
        companyids = sorted(tokens)[: args.companies]
        ticks = args.tick or [30]
        needed = int(args.rate * args.minutes * 60 * 1.1) + 10
        rows = candidates(database, companyids, needed * len(ticks))
        for index, tick_seconds in enumerate(ticks):
            measure(args, url, database, tokens, companyids, tick_seconds, rows[index * needed : (index + 1) * needed])
        idle_tick_cost(database)
    finally:
        database.engine.dispose()
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))


if __name__ == "__main__":
    main()
