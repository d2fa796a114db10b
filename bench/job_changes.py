"""What an admin sync job's "affected courses and users" lists cost, as a share of the job's own runs.

    .venv/bin/python bench/job_changes.py --url mysql+mysqldb://root@127.0.0.1:3306/benchdb --users 150000

Writes a demo site (40 companies, 20 courses, ``--users`` people) into the database, which must be
empty or hold a demo site, then times three full runs, each followed by the lists the job page shows
(:func:`alxbridge.sync.affected.job_changes`, best of three): the first run writes every row, the second
changes nothing, and the third finds 1 % of the rows made stale beforehand. The lists are read after
the runs, so the sync itself pays nothing; the ratio says how much longer an admin job takes for them.
"""

import argparse
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alxbridge.db.database import Database, redacted
from alxbridge.demo import build_demo_site
from alxbridge.sync.affected import job_changes, next_row_id
from alxbridge.sync.runs import run_sync

REPEATS = 3


def timed_job(database, before_run=None):
    """``(run seconds, lists seconds, run result, lists)`` of one full run and its lists."""
    if before_run is not None:
        before_run()
    with database.connect() as connection:
        first_new_id = next_row_id(connection, database.tables)
    started = time.perf_counter()
    result = run_sync(database, full=True)
    run_seconds = time.perf_counter() - started
    best = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        with database.connect() as connection:
            affected = job_changes(connection, database.tables, [result.version], first_new_id)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return run_seconds, best, result, affected


def make_one_percent_stale(database):
    reporting = database.tables.local_alx_api_reporting
    with database.begin() as connection:
        connection.execute(sa.update(reporting).where(reporting.c.id % 100 == 0).values(percentage=-1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="database URL (its demo site is replaced)")
    parser.add_argument("--users", type=int, default=150_000)
    args = parser.parse_args()
    database = Database(args.url)
    print(f"database: {redacted(args.url)}; building the demo site …", flush=True)
    build_demo_site(database, companies=40, users=args.users, courses=20, replace=True)
    for label, before_run in (
        ("first full run (every row written)", None),
        ("full run, nothing changed", None),
        ("full run, 1 % of rows stale", lambda: make_one_percent_stale(database)),
    ):
        run_seconds, list_seconds, result, affected = timed_job(database, before_run)
        changed = result.created + result.updated + result.deleted
        print(
            f"{label}: {changed} rows changed in {run_seconds:.2f} s; lists {list_seconds * 1000:.0f} ms "
            f"({affected.courses} courses, {affected.users} users) = {list_seconds / run_seconds:.3f}× the run"
        )


if __name__ == "__main__":
    main()
