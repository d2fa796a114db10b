"""Sync benchmark (design §4): full rebuild vs one INSERT … SELECT, an hourly run after 1 % changes, peak RSS.

    python bench/sync_1m.py --url mysql+mysqldb://root@127.0.0.1/alxbench --build-users 575000

``--build-users N`` first writes a demo site (``alx demo`` generator: 200 companies, N people,
about 1.7 enrolments each, so 575 000 people ≈ 1M enrolments) into the database, which it
replaces; without it the site already there is used (a rerun measures the same steps: the
timestamps an earlier run's changes left are reset first). Then, in this order and in one run:

1. baseline: one ``INSERT … SELECT`` of every company's exposed progress rows (the sync's own
   query, ``UNION ALL`` over companies) into an empty copy of the reporting table;
2. full rebuild into the empty reporting table (``alx sync --full``), in a child process;
3. reconciliation: a second full run, nothing changed;
4. about 1 % of the rows changed the way Moodle changes them (module completions, back-dated course
   completions, unenrolments, suspended enrolments, profile edits), then an hourly run;
5. a full run that must find nothing left to change (the hourly run missed nothing).

The baseline runs twice and the second (warm) run counts, so no step is measured on a cold buffer
pool. Each sync runs in its own process, which reports its peak RSS. Targets: full ≤ 2× baseline,
hourly ≤ 5 % of full, RSS < 300 MB.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alxbridge.database import Database
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
    database.schema.metadata.create_all(database.engine, tables=list(database.schema.owned))
    with database.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE TABLE {tables.local_alx_api_reporting.name}"))
        for name, column in STAMPED_BY_CHANGES:
            table = getattr(tables, name)
            connection.execute(sa.update(table).where(table.c[column] > NOW).values({column: NOW}))
        for name in ("user", "user_enrolments", "enrol", "course", "course_completions", "course_modules",
                     "course_modules_completion", "company_users", "company_course"):  # fmt: skip
            connection.execute(sa.text(f"ANALYZE TABLE {getattr(tables, name).name}"))
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
        connection.execute(sa.text(f"CREATE TABLE bench_reporting_copy LIKE {reporting.name}"))
    with database.begin() as connection:
        started = time.perf_counter()
        rows = connection.execute(
            sa.insert(copy).from_select([*PROGRESS_COLUMNS, *extra], sa.union_all(*selects))
        ).rowcount
        seconds = time.perf_counter() - started
    with database.begin() as connection:
        connection.execute(sa.text("DROP TABLE bench_reporting_copy"))
    return seconds, rows


def child(url, mode, now):
    """Run one sync in this process and print its numbers as JSON (used by the parent)."""
    database = Database(url)
    started = time.perf_counter()
    result = run_sync(database, full=mode == "full", origin="bench", clock=lambda: now)
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
            }
        )
    )


def run_child(url, mode, now):
    output = subprocess.run(  # noqa: S603 - our own script, arguments from our own options
        [sys.executable, __file__, "--url", url, "--child", mode, "--now", str(now)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def change_one_percent(database, now):
    """About 1 % of the exposed rows change, each the way Moodle writes it (or fails to stamp it).

    Rows are picked by id modulo a random remainder, so a rerun on the same site changes other rows.
    """
    pick = random.Random().randrange
    t = database.tables
    tables = ("user", "user_enrolments", "enrol", "course_modules", "course_modules_completion", "course_completions")
    names = {name: getattr(t, name).name for name in tables}
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
    with database.begin() as connection:
        for label, statement in statements.items():
            remainders = {"a": pick(200), "b": pick(300), "c": pick(1000), "d": pick(1000), "e": pick(1000)}
            count = connection.execute(sa.text(statement), {"now": now, **remainders}).rowcount
            print(f"  changed: {count:,} {label}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="MariaDB/MySQL URL of the benchmark database")
    parser.add_argument("--build-users", type=int, help="first build a demo site with this many people")
    parser.add_argument("--child", choices=("full", "auto"), help=argparse.SUPPRESS)
    parser.add_argument("--now", type=int, default=NOW + 3600, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.url, options.child, options.now)
        return
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
    now += 3600
    reconcile = run_child(options.url, "full", now)
    print(f"reconciliation (nothing changed): {reconcile}")
    now += 3600
    change_one_percent(database, now)
    now += 60
    hourly = run_child(options.url, "auto", now)
    changed = hourly["created"] + hourly["updated"] + hourly["deleted"]
    print(f"hourly run after changes: {hourly}")
    now += 3600
    check = run_child(options.url, "full", now)
    print(f"full run after the hourly run: {check}")

    print()
    print(f"rows: {full['created']:,}; changed by the hourly run: {changed:,} ({changed / full['created']:.2%})")
    print(f"full rebuild / INSERT … SELECT: {full['seconds']:.1f} s / {insert_select:.1f} s "
          f"= {full['seconds'] / insert_select:.2f}x (target <= 2)")  # fmt: skip
    print(f"hourly run / full rebuild: {hourly['seconds']:.1f} s / {full['seconds']:.1f} s "
          f"= {hourly['seconds'] / full['seconds']:.1%} (target <= 5%)")  # fmt: skip
    peak = max(run["maxrss_mb"] for run in (full, reconcile, hourly, check))
    print(f"peak RSS of a sync process: {peak:.0f} MB (target < 300 MB)")
    missed = check["created"] + check["updated"] + check["deleted"]
    print(f"rows the hourly run missed (found by the full run after it): {missed}")


if __name__ == "__main__":
    main()
