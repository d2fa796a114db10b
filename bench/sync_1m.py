"""Sync benchmark (design §4): full rebuild vs one INSERT … SELECT, an hourly run after 1 % changes, peak RSS.

    python bench/sync_1m.py --url mysql+mysqldb://root@127.0.0.1/alxbench --build-users 575000
    python bench/sync_1m.py --url postgresql+psycopg://postgres@127.0.0.1:5432/alxbench --build-users 575000 --drop

On PostgreSQL the database is created (UTF8, from template0) when it does not exist; ``--drop`` drops the
database when the run ends (PostgreSQL: ``WITH (FORCE)``), on either server.

``--build-users N`` first writes a demo site (``alx demo`` generator: 200 companies, N people,
about 1.7 enrolments each, so 575 000 people ≈ 1M enrolments) into the database, which it
replaces; without it the site already there is used (a rerun measures the same steps: the
timestamps an earlier run's changes left are reset first). Then, in this order and in one run:

1. baseline: one ``INSERT … SELECT`` of every company's exposed progress rows (the sync's own
   query, ``UNION ALL`` over companies) into an empty copy of the reporting table;
2. full rebuild into the empty reporting table (``alx sync --full``), in a child process;
3. reconciliation: a second full run, nothing changed;
4. with the standard log store on (Moodle's default): about 1 % of the rows changed the way Moodle
   changes them (module completions, back-dated course completions, unenrolments, suspended
   enrolments, profile edits), each with the event Moodle logs for it, then an hourly run, then a
   full run that must find nothing left to change (the hourly run missed nothing);
5. the same with the log store off: the hourly run finds the changes by scanning Moodle's tables.

The baseline runs twice and the second (warm) run counts, so no step is measured on a cold buffer
pool. Each sync runs in its own process, which reports its peak RSS. Targets: full ≤ 2× baseline,
hourly ≤ 5 % of full, RSS < 300 MB.

``--breakdown`` also times every statement of each sync (under the bridge function that ran it) and prints
the 15 slowest kinds after each run, with what is left for Python.

On PostgreSQL the baseline runs with ``jit = off``. With the server's default, JIT first compiles the
``UNION ALL``'s functions (12 101 of them, inlined and optimised: its cost is far above the thresholds): the
baseline took 116.5 s on a 200 000-person site where the full rebuild took 38 s, and on a 20 000-person site
with JIT forced the SELECT took 68.9 s against 0.5 s without. The sync's own statements stay below
``jit_above_cost`` (the staging statements' plans cost 3 870–5 376 on the 200 000-person site). The
statistics step is ``VACUUM (ANALYZE)`` of Moodle's tables (``ANALYZE TABLE`` on
MariaDB): a freshly loaded table has neither statistics nor a visibility map, which autovacuum keeps on a
live site. For the same reason the reporting table is ``VACUUM (ANALYZE)``-ed after the full rebuild on
PostgreSQL (the test server runs without autovacuum; MariaDB recomputes InnoDB's statistics by itself).
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchdb import (
    analyze,
    create_database,
    create_table_like,
    drop_database,
    is_postgres,
    server_engine,
    truncate,
    vacuum_analyze,
)

from alxbridge.db.database import Database
from alxbridge.sync.progress import PROGRESS_COLUMNS, progress_query
from alxbridge.sync.runs import run_sync
from alxbridge.sync.scope import exposed_courses_of_all_companies

NOW = 1_750_000_000  # the demo site's "now"
STAMPED_BY_CHANGES = (  # the timestamps step 4 writes
    ("user", "timemodified"),
    ("user_enrolments", "timemodified"),
    ("course_modules_completion", "timemodified"),
    ("course_completions", "timecompleted"),
)

ANALYZED = ("user", "user_enrolments", "enrol", "course", "course_completions", "course_modules",
            "course_modules_completion", "company_users", "company_course")  # fmt: skip


def build(url, users):
    from alxbridge.demo import build_demo_site

    started = time.perf_counter()
    logins = build_demo_site(
        Database(url), companies=200, users=users, courses=max(users // 115, 4), seed=7, now=NOW, replace=True
    )
    print(f"demo site: {logins.rows_written:,} rows in {time.perf_counter() - started:.0f} s")


def prepare(database):
    """Empty reporting table, new bridge tables, fresh statistics so every step sees the same plans.

    Rows an earlier run stamped after the demo site's "now" (step 4) are stamped back to it: the
    clock starts again at NOW, and the hourly run would otherwise recompute every row any earlier
    run changed as well as its own.
    """
    tables = database.tables
    bridge = [table for table in database.schema.owned if "_alxbridge_" in table.name]
    database.schema.metadata.drop_all(database.engine, tables=bridge)
    database.schema.metadata.create_all(database.engine, tables=[*database.schema.owned, tables.logstore_standard_log])
    analyzed = [getattr(tables, name).name for name in ANALYZED]
    with database.begin() as connection:
        truncate(connection, tables.local_alx_api_reporting.name)
        truncate(connection, tables.logstore_standard_log.name)
        for name, column in STAMPED_BY_CHANGES:
            table = getattr(tables, name)
            connection.execute(sa.update(table).where(table.c[column] > NOW).values({column: NOW}))
        if not is_postgres(connection):
            for name in analyzed:
                analyze(connection, name)
    if database.is_postgres:
        vacuum_analyze(database.engine, analyzed)
    with database.connect() as connection:
        enrolments = connection.execute(sa.select(sa.func.count()).select_from(tables.user_enrolments)).scalar()
        companies = connection.execute(sa.select(sa.func.count()).select_from(tables.company)).scalar()
    print(f"site: {enrolments:,} enrolments, {companies} companies")


def baseline(database, now):
    """Seconds for one INSERT … SELECT of every exposed row into an empty copy of the reporting table."""
    tables = database.tables
    reporting = tables.local_alx_api_reporting
    copy = sa.Table("bench_reporting_copy", sa.MetaData(), *(sa.Column(c.name, c.type) for c in reporting.columns))
    with database.connect() as connection:
        companyids = [cid for (cid,) in connection.execute(sa.select(tables.company.c.id))]
        exposed = exposed_courses_of_all_companies(connection, tables, companyids)
    extra = ("companyid", "last_updated", "is_deleted", "created_at", "updated_at")
    selects = [
        progress_query(tables, cid, exposed[cid], now).add_columns(
            *(sa.literal(v, sa.Integer).label(name) for name, v in zip(extra, (cid, now, 0, now, now), strict=True))
        )
        for cid in companyids
        if exposed[cid]
    ]
    with database.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS bench_reporting_copy"))
        create_table_like(connection, "bench_reporting_copy", reporting.name)
    with database.begin() as connection:
        if database.is_postgres:
            # JIT would compile the 200-branch statement's ~12 000 functions first: over a minute of a run
            # that is the baseline's only because it is one statement (the sync's are far below jit_above_cost).
            connection.execute(sa.text("SET LOCAL jit = off"))
        started = time.perf_counter()
        rows = connection.execute(
            sa.insert(copy)
            .from_select([*PROGRESS_COLUMNS, *extra], sa.union_all(*selects))
            .execution_options(preserve_rowcount=True)  # psycopg's INSERT … SELECT reports -1 without it
        ).rowcount
        seconds = time.perf_counter() - started
    with database.begin() as connection:
        connection.execute(sa.text("DROP TABLE bench_reporting_copy"))
    return seconds, rows


def _sync_caller():
    """``module.function`` of the bridge code that ran the statement now executing (outside the db helpers)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("alxbridge.") and not module.startswith("alxbridge.db."):
            return f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


def time_statements(engine):
    """``{label: [seconds, count]}``, filled as statements run: wall time of each statement (execute, and fetch
    where the driver buffers the rows) under its first word and the bridge function that ran it."""
    totals = {}

    def before(connection, cursor, statement, parameters, context, executemany):
        context._bench = (f"{statement.split(None, 1)[0]} in {_sync_caller()}", time.perf_counter())

    def after(connection, cursor, statement, parameters, context, executemany):
        label, started = context._bench
        total = totals.setdefault(label, [0.0, 0])
        total[0] += time.perf_counter() - started
        total[1] += 1

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    return totals


def child(url, mode, now, breakdown):
    """Run one sync in this process and print its numbers as JSON (used by the parent)."""
    database = Database(url, clock=lambda: now)
    statements = time_statements(database.engine) if breakdown else None
    started = time.perf_counter()
    result = run_sync(database, full=mode == "full", origin="bench")
    seconds = time.perf_counter() - started
    plans = {}
    for company in result.companies:
        kind = "full" if company.full else "no changes" if company.reason == "no changes" else "shortlist"
        plans[kind] = plans.get(kind, 0) + 1
    print(
        json.dumps(
            {
                "seconds": seconds,
                "created": result.created,
                "updated": result.updated,
                "deleted": result.deleted,
                "failed": len(result.failed),
                "plans": plans,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                **({"statements": statements} if breakdown else {}),
            }
        )
    )


BREAKDOWN = False  # --breakdown: each sync child also times its statements


def run_child(url, mode, now):
    """Run one sync in a child process; its numbers, its statements' times printed (``--breakdown``)."""
    arguments = [sys.executable, __file__, "--url", url, "--child", mode, "--now", str(now)]
    output = subprocess.run(  # noqa: S603 - our own script, arguments from our own options
        [*arguments, *(["--breakdown"] if BREAKDOWN else [])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    numbers = json.loads(output.strip().splitlines()[-1])
    statements = numbers.pop("statements", None)
    if statements:
        timed = sum(seconds for seconds, _ in statements.values())
        print(f"    {mode} run, {numbers['seconds']:.1f} s: statements {timed:.1f} s, the rest (Python) "
              f"{numbers['seconds'] - timed:.1f} s; the statements by time:")  # fmt: skip
        for label, (seconds, count) in sorted(statements.items(), key=lambda item: -item[1][0])[:15]:
            print(f"      {seconds:8.2f} s {count:7d}x  {label}")
    return numbers


def use_standard_log(database, enabled):
    """Turn the site's standard log store on (Moodle's default) or off (``tool_log | enabled_stores``)."""
    config = database.tables.config_plugins
    where = sa.and_(config.c.plugin == "tool_log", config.c.name == "enabled_stores")
    with database.begin() as connection:
        connection.execute(sa.delete(config).where(where))
        stores = "logstore_standard" if enabled else ""
        connection.execute(sa.insert(config).values(plugin="tool_log", name="enabled_stores", value=stores))


def log_events(connection, database, eventname, crud, rows_sql, parameters):
    """Log ``eventname`` for each ``(relateduserid, courseid, objectid)`` row of ``rows_sql``, as Moodle does
    for the change it describes (only the columns the bridge reads carry meaning)."""
    log = database.tables.logstore_standard_log.name
    connection.execute(
        sa.text(f"""
            INSERT INTO {log} (eventname, component, action, target, objectid, crud, edulevel, contextid, contextlevel,
                               contextinstanceid, userid, courseid, relateduserid, anonymous, timecreated, origin)
            SELECT :eventname, 'core', 'updated', 'event', changed.objectid, :crud, 0, 1, 50, changed.courseid, 2,
                   changed.courseid, changed.relateduserid, 0, :now, 'cli'
              FROM ({rows_sql}) changed"""),
        {"eventname": eventname, "crud": crud, **parameters},
    )


def change_one_percent(database, now, events):
    """About 1 % of the exposed rows change, each the way Moodle writes it (or fails to stamp it); with
    ``events``, each change also logs the event Moodle logs for it.

    Rows are picked by id modulo a random remainder, so a rerun on the same site changes other rows.
    """
    pick = random.Random().randrange
    t = database.tables
    tables = ("user", "user_enrolments", "enrol", "course_modules", "course_modules_completion", "course_completions")
    names = {name: getattr(t, name).name for name in tables}
    enrolments = f"""
        SELECT ue.userid AS relateduserid, e.courseid, ue.id AS objectid
          FROM {names["user_enrolments"]} ue JOIN {names["enrol"]} e ON e.id = ue.enrolid WHERE ue.id % 1000 = :r"""
    logged = {  # label: (event, crud, its rows, logged before the change)
        "module completions": ("\\core\\event\\course_module_completion_updated", "u", f"""
            SELECT cmc.userid AS relateduserid, cm.course AS courseid, cmc.id AS objectid
              FROM {names["course_modules_completion"]} cmc
              JOIN {names["course_modules"]} cm ON cm.id = cmc.coursemoduleid
             WHERE cmc.timemodified = :now""", False),
        "back-dated course completions": ("\\core\\event\\course_completed", "u", f"""
            SELECT userid AS relateduserid, course AS courseid, id AS objectid FROM {names["course_completions"]}
             WHERE timecompleted = :now - 3 * 86400 AND id % 300 = :r""", False),
        "unenrolments": ("\\core\\event\\user_enrolment_deleted", "d", enrolments, True),
        "suspended enrolments": ("\\core\\event\\user_enrolment_updated", "u", enrolments, False),
        "profile edits": ("\\core\\event\\user_updated", "u", f"""
            SELECT id AS relateduserid, 0 AS courseid, id AS objectid FROM {names["user"]}
             WHERE id % 1000 = :r AND deleted = 0""", False),
    }  # fmt: skip
    statements = {
        "module completions": f"""
            INSERT INTO {names["course_modules_completion"]} (coursemoduleid, userid, completionstate, timemodified)
            SELECT MIN(cm.id), ue.userid, 1, :now
              FROM {names["user_enrolments"]} ue
              JOIN {names["enrol"]} e ON e.id = ue.enrolid
              JOIN {names["course_modules"]} cm ON cm.course = e.courseid AND cm.completion > 0
             WHERE ue.id % 200 = :a AND NOT EXISTS (
                   SELECT 1 FROM {names["course_modules_completion"]} x
                    WHERE x.userid = ue.userid AND x.coursemoduleid = cm.id)
             GROUP BY ue.userid, e.courseid""",
        "back-dated course completions": f"""
            UPDATE {names["course_completions"]} SET timecompleted = :now - 3 * 86400
             WHERE timecompleted IS NULL AND id % 300 = :b""",
        "unenrolments": f"DELETE FROM {names['user_enrolments']} WHERE id % 1000 = :c",
        "suspended enrolments": f"""
            UPDATE {names["user_enrolments"]} SET status = 1 - status, timemodified = :now WHERE id % 1000 = :d""",
        "profile edits": f"""
            UPDATE {names["user"]} SET lastname = CONCAT(lastname, ' Jr'), timemodified = :now
             WHERE id % 1000 = :e AND deleted = 0""",
    }
    remainders = {"a": pick(200), "b": pick(300), "c": pick(1000), "d": pick(1000), "e": pick(1000)}
    remainder_of = dict(zip(statements, "abcde", strict=True))
    with database.begin() as connection:
        for label, statement in statements.items():
            parameters = {"now": now, **remainders}
            eventname, crud, rows_sql, before = logged[label]
            event_parameters = {"now": now, "r": remainders[remainder_of[label]]}
            if events and before:
                log_events(connection, database, eventname, crud, rows_sql, event_parameters)
            count = connection.execute(sa.text(statement), parameters).rowcount
            if events and not before:
                log_events(connection, database, eventname, crud, rows_sql, event_parameters)
            print(f"  changed: {count:,} {label}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="MariaDB/MySQL or PostgreSQL URL of the benchmark database")
    parser.add_argument("--build-users", type=int, help="first build a demo site with this many people")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database when the run ends")
    parser.add_argument("--breakdown", action="store_true", help="time each sync's statements, print the top 15")
    parser.add_argument("--child", choices=("full", "auto"), help=argparse.SUPPRESS)
    parser.add_argument("--now", type=int, default=NOW + 3600, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.url, options.child, options.now, options.breakdown)
        return
    global BREAKDOWN  # read by run_child
    BREAKDOWN = options.breakdown
    server, name = server_engine(options.url), make_url(options.url).database
    if is_postgres(options.url):
        create_database(server, name)
    try:
        measure(options)
    finally:
        if options.drop:
            drop_database(server, name)
        server.dispose()


def measure(options):
    if options.build_users:
        build(options.url, options.build_users)
    database = Database(options.url)
    prepare(database)
    now = NOW + 3600

    cold, _ = baseline(database, now)  # warms the buffer pool, so no step below is measured cold
    insert_select, rows = baseline(database, now)
    print(f"baseline INSERT … SELECT: {rows:,} rows in {insert_select:.1f} s (first, cold run: {cold:.1f} s)")
    full = run_child(options.url, "full", now)
    print(f"full rebuild: {full}")
    if database.is_postgres:  # what autovacuum does after the rebuild's inserts on a live site
        vacuum_analyze(database.engine, [database.tables.local_alx_api_reporting.name])
    now += 3600
    reconcile = run_child(options.url, "full", now)
    print(f"reconciliation (nothing changed): {reconcile}")
    hourly, checks = {}, []
    for detection, logged in (("standard log", True), ("table scans", False)):
        use_standard_log(database, logged)
        now += 3600
        print(f"hourly run, changes found from {detection}:")
        change_one_percent(database, now, events=logged)
        now += 60
        hourly[detection] = run_child(options.url, "auto", now)
        print(f"  hourly run after changes: {hourly[detection]}")
        now += 3600
        checks.append(run_child(options.url, "full", now))
        print(f"  full run after the hourly run: {checks[-1]}")

    print()
    print(f"rows: {full['created']:,}")
    print(f"full rebuild / INSERT … SELECT: {full['seconds']:.1f} s / {insert_select:.1f} s "
          f"= {full['seconds'] / insert_select:.2f}x (target <= 2)")  # fmt: skip
    for (detection, run), check in zip(hourly.items(), checks, strict=True):
        changed = run["created"] + run["updated"] + run["deleted"]
        missed = check["created"] + check["updated"] + check["deleted"]
        print(f"hourly run ({detection}): {run['seconds']:.1f} s / {full['seconds']:.1f} s "
              f"= {run['seconds'] / full['seconds']:.1%} of the full rebuild (target <= 5%); "
              f"{changed:,} rows changed ({changed / full['created']:.2%}); missed (found by a full run after it): "
              f"{missed}")  # fmt: skip
    peak = max(run["maxrss_mb"] for run in (full, reconcile, *hourly.values(), *checks))
    print(f"peak RSS of a sync process: {peak:.0f} MB (target < 300 MB)")
    database.engine.dispose()


if __name__ == "__main__":
    main()
