"""Rows per second of the demo site generator, as a ratio to a plain executemany in the same run.

    .venv/bin/python bench/demo_generation.py                      # temporary SQLite file
    .venv/bin/python bench/demo_generation.py --url mysql+mysqldb://root@127.0.0.1:3306/benchdb

Absolute numbers say more about the machine than the code, so three things are measured back to back
on the same database and compared:

* generation only: iterating ``SiteGenerator(spec, KEY).rows()`` without a database;
* the demo: the same rows generated and inserted by ``insert_rows`` (one transaction, all tables);
* the baseline: as many rows of ``user_enrolments`` shape, near-constant, inserted with
  ``connection.execute(table.insert(), chunk)`` in chunks of the same size, in one transaction.

The demo's ratio to the baseline shows what generating realistic rows (and wider tables such as
``user``) costs on top of the database's own insert speed. The database must be empty or hold a
demo site; the benchmark drops its tables afterwards.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alxbridge.db.database import Database, redacted
from alxbridge.demo import demo_site_present, today_utc
from alxbridge.demo.credentials import credentials_key
from alxbridge.demo.site import SiteGenerator
from alxbridge.demo.site_model import DemoSpec
from alxbridge.demo.store import CHUNK_ROWS, insert_rows, recreate_tables
from alxbridge.schema import build_schema

KEY = credentials_key()


def generate_only(spec):
    started = time.perf_counter()
    return sum(1 for _ in SiteGenerator(spec, KEY).rows()), time.perf_counter() - started


def demo_inserts(database, spec):
    """Rows written and seconds taken by the demo's inserts (fresh empty tables, not timed)."""
    with database.begin() as connection:
        recreate_tables(connection, database.schema.metadata, drop_first=True)
    started = time.perf_counter()
    with database.begin() as connection:
        written = sum(insert_rows(connection, database.tables, SiteGenerator(spec, KEY).rows()).values())
    return written, time.perf_counter() - started


def baseline_inserts(database, count):
    """``count`` rows into a copy of user_enrolments (same columns, same indexes), chunk by chunk."""
    table = build_schema("alxbench_").tables.user_enrolments
    with database.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
    try:
        started = time.perf_counter()
        with database.begin() as connection:
            for first in range(0, count, CHUNK_ROWS):
                chunk = [
                    {
                        "status": 0,
                        "enrolid": first // CHUNK_ROWS + 1,
                        "userid": userid,  # only the unique (enrolid, userid) key varies
                        "timestart": 1700000000,
                        "timeend": 0,
                        "modifierid": 2,
                        "timecreated": 1700000000,
                        "timemodified": 1700000000,
                    }
                    for userid in range(first, min(first + CHUNK_ROWS, count))
                ]
                connection.execute(table.insert(), chunk)
        return time.perf_counter() - started
    finally:
        with database.begin() as connection:
            table.drop(connection, checkfirst=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--courses", type=int, default=20)
    parser.add_argument("--companies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement N times, keep the fastest")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.url or f"sqlite:///{folder}/bench.db")
        demo_site_present(database)  # refuses a real Moodle site
        spec = DemoSpec(args.companies, args.users, args.courses, 42, today_utc()).check()
        try:
            generated, generate_seconds = min((generate_only(spec) for _ in range(args.repeat)), key=lambda r: r[1])
            written, demo_seconds = min((demo_inserts(database, spec) for _ in range(args.repeat)), key=lambda r: r[1])
            baseline_seconds = min(baseline_inserts(database, written) for _ in range(args.repeat))
        finally:
            with database.begin() as connection:
                database.schema.metadata.drop_all(connection)
            database.engine.dispose()

    rates = {
        "generation only": generated / generate_seconds,
        "demo (generate + insert)": written / demo_seconds,
        "baseline executemany": written / baseline_seconds,
    }
    print(f"{redacted(database.url)}: {args.users} users, {args.courses} courses, {written:,} rows")
    for label, seconds in zip(rates, (generate_seconds, demo_seconds, baseline_seconds), strict=True):
        print(f"  {label:<26} {seconds:8.2f} s  {rates[label]:>10,.0f} rows/s")
    print(f"  demo / baseline ratio      {rates['demo (generate + insert)'] / rates['baseline executemany']:.2f}")


if __name__ == "__main__":
    main()
