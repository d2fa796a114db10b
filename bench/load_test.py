"""Load benchmark (issue 7): many Power BI tokens paging their company at once while the hourly sync runs.

    python bench/load_test.py [--server mysql+mysqldb://root@127.0.0.1:3306/] [--companies 50]
                              [--users 6000] [--courses 80] [--duration 60] [--trivial-duration 15]
                              [--limits 100,150,200] [--workers N] [--direct] [--cache-url URL]
                              [--sync-mode full|auto] [--database NAME]

Loopback only and bounded in time. In a new MariaDB database (dropped afterwards) it builds the demo
site (``--companies`` companies, one token each, several thousand enrolments), syncs it in full, and
starts one gunicorn server (``gunicorn -c gunicorn.conf.py``, the production settings; ``--workers``
overrides their worker count) behind Debian's nginx running the deploy file (``--direct``: no nginx),
with the production scale-out stores: page cache and abuse-shield counters in Redis
(``--cache-url``, database 8 by default, flushed before and after), scheduler off (the benchmark runs
the sync itself, at a known moment).

Every token is one client thread with its own keep-alive connection from its own loopback address
(127.1.x.y, so the per-IP shield sees one client per token, as it would see Power BI tenants), in a
closed loop like Power BI: ``offset=0``, then the next offsets until a short page, then again from
0, for ``--duration`` seconds. Each pass asks for the next page size of ``--limits``, so it is a new
read session and not a replay of the previous one (a real refresh comes an hour later, past the
replay window); companies are set to ``--sync-mode full`` (every pass reads the whole company; the
cache serves pages already read in the same data version). Halfway, 5 % of the learners are renamed
in Moodle's ``user`` table and ``flask --app wsgi alx sync`` (the hourly run) runs in its own process
while the clients keep paging. The daily quota is on (counted under its lock for every call) with a
limit that is never reached.

Before that, the same threads hit a trivial endpoint of the same server the same way (through the
same proxy) for ``--trivial-duration`` seconds: a static admin asset, served by Flask without the
database (``/healthz`` is not routed by the deploy file's nginx, so it cannot be compared on the same
path). Printed: requests, throughput, p50/p95/p99 latency, errors (target 0) and peak database
connections (the benchmark database's connections in ``information_schema.PROCESSLIST``, sampled
every 0.2 s, and the server's ``Threads_connected``) per phase, the paging phase's ratios to the
trivial one, the time the calls spent inside the function (``response_time_ms`` of their audit rows,
so queueing shows apart from work), and checks: one audit row per call, passes, the sync's result.

Client: hand-written threads with ``http.client`` rather than locust. Locust runs its users on
gevent, which would have to monkey-patch this process (the benchmark also drives MariaDB through the
C driver, which blocks a gevent loop), and brings gevent, greenlet and a web UI as test
dependencies; what is needed here — one closed-loop client per token, paging by the previous
answer, from its own source address, with every latency kept — is a few dozen lines.
"""

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alxbridge.db.database import Database  # noqa: E402
from alxbridge.db.upsert import upsert  # noqa: E402
from alxbridge.demo import build_demo_site  # noqa: E402
from alxbridge.demo.catalog import PROGRESS_FUNCTION  # noqa: E402
from alxbridge.moodle.plugin_settings import write_plugin_config  # noqa: E402
from alxbridge.sync.runs import run_sync  # noqa: E402
from tests.gunicorn_support import gunicorn_servers  # noqa: E402
from tests.nginx_support import free_port, nginx_in_front  # noqa: E402

SERVER = "mysql+mysqldb://root@127.0.0.1:3306/"
CACHE_URL = "redis://127.0.0.1:6379/8"
STATIC_PATH = "/local/alx_report_api/static/admin.css"
SERVER_PATH = "/webservice/rest/server.php"
SYNC_MODES = {"auto": 0, "full": 2}
RENAMED_SHARE = 20  # every 20th learner is renamed before the mid-run sync: 5 %


def client_address(index):
    return f"127.1.{index // 250}.{index % 250 + 1}"


@dataclass
class Phase:
    name: str
    started: float = 0.0
    finished: float = 0.0
    latencies: list = field(default_factory=list)  # seconds of every answered request
    times: list = field(default_factory=list)  # (start, seconds) of every request, for sub-windows
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    passes: int = 0

    def record(self, started, seconds, error=None):
        with self.lock:
            self.latencies.append(seconds)
            self.times.append((started, seconds))
            if error:
                self.errors.append(error)


class Client:
    """One keep-alive connection from one loopback address."""

    def __init__(self, port, address):
        self.port, self.address = port, address
        self.connection = None

    def _send(self, method, path, body=None):
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=120, source_address=(self.address, 0)
            )
        headers = {"Host": "moodle.example.com"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except Exception:
            self.connection.close()
            self.connection = None
            raise

    def timed(self, phase, method, path, body=None, check=None):
        """One request, recorded in ``phase``; returns ``check(status, body)``'s value or None on error."""
        started = time.perf_counter()
        try:
            status, data = self._send(method, path, body)
        except Exception as error:  # noqa: BLE001 - a failed request is a counted error, never a crash
            phase.record(started, time.perf_counter() - started, f"{type(error).__name__}: {error}")
            return None
        seconds = time.perf_counter() - started
        if status != 200:
            phase.record(started, seconds, f"HTTP {status}: {data[:200]!r}")
            return None
        try:
            value = check(data) if check else True
        except ValueError as error:
            phase.record(started, seconds, str(error))
            return None
        phase.record(started, seconds)
        return value

    def close(self):
        if self.connection is not None:
            self.connection.close()


def page_rows(data):
    """The number of items of a page, or ValueError with the Moodle error it is instead."""
    answer = json.loads(data)
    if not isinstance(answer, list):
        raise ValueError(f"{answer.get('errorcode')}: {answer.get('message')}")
    return len(answer)


def run_phase(phase, port, count, seconds, work):
    """``count`` client threads running ``work(client, deadline)`` until ``seconds`` have passed."""
    barrier = threading.Barrier(count + 1)

    def thread_body(index):
        client = Client(port, client_address(index))
        barrier.wait()
        try:
            work(index, client, deadline)
        finally:
            client.close()

    threads = [threading.Thread(target=thread_body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    phase.started = time.perf_counter()
    deadline = phase.started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    phase.finished = time.perf_counter()


def trivial_work(phase, path):
    def work(index, client, deadline):
        while time.perf_counter() < deadline:
            client.timed(phase, "GET", path)

    return work


def paging_work(phase, tokens, limits):
    def work(index, client, deadline):
        token = tokens[index]
        passes = 0
        while time.perf_counter() < deadline:
            limit, offset = limits[passes % len(limits)], 0
            while True:
                body = (f"wstoken={token}&wsfunction={PROGRESS_FUNCTION}&moodlewsrestformat=json"
                        f"&limit={limit}&offset={offset}")  # fmt: skip
                rows = client.timed(phase, "POST", SERVER_PATH, body, page_rows)
                if rows is None:
                    break  # an error: start the pass again, as Power BI retries a refresh
                offset += rows
                if rows < limit:
                    passes += 1
                    break
                if time.perf_counter() >= deadline:
                    break
        with phase.lock:
            phase.passes += passes

    return work


class ConnectionSampler:
    """Samples the benchmark database's connections and the server's Threads_connected every 0.2 s."""

    def __init__(self, server_engine, database_name):
        self.engine, self.name = server_engine, database_name
        self.samples = []  # (perf_counter, connections to the bench database, Threads_connected)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.engine.connect() as connection:
            while not self._stop.is_set():
                ours = connection.execute(
                    sa.text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = :db"), {"db": self.name}
                ).scalar()
                total = connection.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Threads_connected'")).one()[1]
                connection.rollback()
                self.samples.append((time.perf_counter(), ours, int(total)))
                self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, started, finished):
        inside = [s for s in self.samples if started <= s[0] <= finished]
        return (max(s[1] for s in inside), max(s[2] for s in inside)) if inside else (0, 0)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def stats(latencies, seconds):
    return {
        "n": len(latencies),
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
    }


# ---------------------------------------------------------------------------------------------------


def build(database, args):
    started = time.perf_counter()
    logins = build_demo_site(database, companies=args.companies, users=args.users, courses=args.courses)
    result = run_sync(database, full=True)
    tables = database.tables
    with database.begin() as connection:
        write_plugin_config(connection, tables, {"rate_limit": 10_000_000})  # counted on every call, never reached
        for (companyid,) in connection.execute(sa.select(tables.company.c.id)):
            key = {"companyid": companyid, "setting_name": "sync_mode"}
            upsert(connection, tables.local_alx_api_settings, key,
                   {"setting_value": SYNC_MODES[args.sync_mode], "timecreated": 0, "timemodified": 0})  # fmt: skip
        enrolments = connection.execute(sa.select(sa.func.count()).select_from(tables.user_enrolments)).scalar()
        reporting = tables.local_alx_api_reporting
        rows = connection.execute(
            sa.select(sa.func.count()).select_from(reporting).where(reporting.c.is_deleted == 0)
        ).scalar()
    tokens = [t.token for t in logins.tokens if t.token]
    seconds = time.perf_counter() - started
    print(f"site: {args.companies} companies, {enrolments:,} enrolments, {rows:,} reporting rows, "
          f"{len(tokens)} tokens; built and synced in {seconds:.1f} s ({result.summary()})")  # fmt: skip
    return tokens


def mid_run_sync(database, env, at, outcome):
    """At ``at`` (perf_counter): rename 5 % of the learners, then run ``alx sync`` in its own process."""
    time.sleep(max(0.0, at - time.perf_counter()))
    user = database.tables.user
    with database.begin() as connection:
        renamed = connection.execute(
            sa.update(user)
            .where(user.c.id > 2, user.c.deleted == 0, user.c.id % RENAMED_SHARE == 7)
            .values(firstname=sa.func.concat(user.c.firstname, " ~"), timemodified=int(time.time()))
        ).rowcount
    outcome["renamed"] = renamed
    outcome["started"] = time.perf_counter()
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "alx", "sync"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    outcome["finished"] = time.perf_counter()
    outcome["returncode"] = done.returncode
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    outcome["summary"] = lines[-1] if lines else ""


def audit_check(database):
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(logs)).scalar()
        hits = connection.execute(
            sa.select(sa.func.count()).select_from(logs).where(logs.c.additional_data.like('%"cache_hit":true%'))
        ).scalar()
        unfinished = connection.execute(
            sa.select(sa.func.count()).select_from(logs).where(logs.c.response_time_ms == 0)
        ).scalar()
        inside = [float(ms) for (ms,) in connection.execute(sa.select(logs.c.response_time_ms))]
    return rows, hits, unfinished, inside


def report(phases, sampler, sync, audit, args, workers):
    print(f"\n{args.tokens} client threads (one per token), "
          f"{workers} gunicorn workers x 4 threads, {'direct' if args.direct else 'behind nginx'}, "
          f"cache {args.cache_url}, sync mode {args.sync_mode}, limits {args.limits}"
          + (f", GUNICORN_CMD_ARGS={args.gunicorn_args!r}" if args.gunicorn_args else ""))  # fmt: skip
    header = f"{'endpoint':<36} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"
    print(header + f" {'DB conns (ours/all)':>20}")
    rows = {}
    labels = {"static": f"static admin asset ({STATIC_PATH.rsplit('/', 1)[1]})",
              "progress": "get_course_progress, paging"}  # fmt: skip
    for key, phase in phases.items():
        seconds = phase.finished - phase.started
        rows[key] = stats(phase.latencies, seconds)
        ours, total = sampler.peak(phase.started, phase.finished)
        r = rows[key]
        print(f"{labels[key]:<36} {r['n']:>8} {r['rps']:>8.1f} {r['p50'] * 1000:>8.1f} {r['p95'] * 1000:>8.1f} "
              f"{r['p99'] * 1000:>8.1f} {len(phase.errors):>6} {ours:>9}/{total:<10}")  # fmt: skip
    progress = phases["progress"]
    if "started" in sync:
        during = [s for t, s in progress.times if sync["started"] <= t <= sync["finished"]]
        window = sync["finished"] - sync["started"]
        r = stats(during, window)
        ours, total = sampler.peak(sync["started"], sync["finished"])
        print(f"{'  ... while the sync ran':<36} {r['n']:>8} {r['rps']:>8.1f} {r['p50'] * 1000:>8.1f} "
              f"{r['p95'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} {'':>6} {ours:>9}/{total:<10}")  # fmt: skip
    print()
    a, b = rows["progress"], rows["static"]
    print(f"ratio paging / static asset: throughput {a['rps'] / b['rps']:.3f}x, p50 {a['p50'] / b['p50']:.1f}x, "
          f"p95 {a['p95'] / b['p95']:.1f}x, p99 {a['p99'] / b['p99']:.1f}x")  # fmt: skip
    inside = audit[3]
    print(f"inside the function (audit response_time_ms): p50 {percentile(inside, 0.5):.1f} ms, "
          f"p95 {percentile(inside, 0.95):.1f} ms, p99 {percentile(inside, 0.99):.1f} ms")  # fmt: skip
    print()
    if "started" in sync:
        print(f"sync: {sync['renamed']} learners renamed, then `alx sync` exit {sync['returncode']} "
              f"in {sync['finished'] - sync['started']:.1f} s: {sync['summary']}")  # fmt: skip
    else:
        print("sync: did not start before the end of the run")
    rows_logged, hits, unfinished, _ = audit
    calls = len(progress.latencies)
    print(f"audit log: {rows_logged} rows for {calls} calls ({'ok' if rows_logged == calls else 'MISMATCH'}), "
          f"{unfinished} left unfinished; cache hits {hits / max(1, rows_logged):.0%}; "
          f"{progress.passes} passes completed")  # fmt: skip
    errors = [e for phase in phases.values() for e in phase.errors]
    if errors:
        print(f"errors ({len(errors)}), first ones:")
        for error in errors[:5]:
            print(f"  {error}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=SERVER, help="MariaDB server URL without a database")
    parser.add_argument("--database", help="build into this database and keep it (must not exist)")
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--users", type=int, default=6000)
    parser.add_argument("--courses", type=int, default=80)
    parser.add_argument("--duration", type=float, default=60, help="seconds of paging (the sync starts halfway)")
    parser.add_argument("--trivial-duration", type=float, default=15, help="seconds per trivial endpoint")
    parser.add_argument("--limits", default="100,150,200", help="page sizes of successive passes")
    parser.add_argument("--sync-mode", choices=sorted(SYNC_MODES), default="full")
    parser.add_argument("--workers", type=int, help="gunicorn workers  [default: gunicorn.conf.py's]")
    parser.add_argument("--direct", action="store_true", help="clients call gunicorn, no nginx")
    parser.add_argument("--cache-url", default=CACHE_URL, help="Redis URL for cache and shield (flushed)")
    parser.add_argument("--gunicorn-args", help="extra gunicorn settings (GUNICORN_CMD_ARGS), e.g. '--max-requests 0'")
    parser.add_argument("--keep-logs", action="store_true", help="keep the gunicorn and nginx logs (path printed)")
    args = parser.parse_args()
    limits = [int(x) for x in args.limits.split(",")]

    url_base = make_url(args.server).update_query_dict({"charset": "utf8mb4"})
    if url_base.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only: --server must be on 127.0.0.1")
    store = redis.Redis.from_url(args.cache_url)
    if store.connection_pool.connection_kwargs.get("db", 0) == 0:
        parser.error("--cache-url must name a Redis database other than 0 (it is flushed)")
    server = sa.create_engine(url_base)
    name = args.database or f"alxbench_load_{uuid.uuid4().hex[:8]}"
    with server.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = url_base.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    folder = Path(tempfile.mkdtemp(prefix="alx-load-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALX_")},
        "ALX_DATABASE_URL": url,
        "ALX_SECRET_KEY": "load-test",
        "ALX_CACHE_URL": args.cache_url,
        "ALX_RATELIMIT_STORAGE_URI": args.cache_url,
        "ALX_TRUSTED_PROXIES": "0" if args.direct else "1",
        "ALX_SCHEDULER": "off",
    }
    if args.gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = args.gunicorn_args
    try:
        tokens = build(database, args)
        args.tokens = len(tokens)
        store.flushdb()
        with contextlib.ExitStack() as stack:
            (port,) = stack.enter_context(gunicorn_servers(1, env, folder, workers=args.workers))
            workers = (folder / "gunicorn-0.log").read_text().count("Booting worker")
            if not args.direct:
                nginx = stack.enter_context(nginx_in_front(folder, [f"127.0.0.1:{port}"], f"127.0.0.1:{free_port()}"))
                port = nginx.port
            sampler = stack.enter_context(ConnectionSampler(server, name))
            phases = {key: Phase(key) for key in ("static", "progress")}
            print(f"static asset: {len(tokens)} clients for {args.trivial_duration:.0f} s …", flush=True)
            run_phase(
                phases["static"], port, len(tokens), args.trivial_duration, trivial_work(phases["static"], STATIC_PATH)
            )
            sync = {}
            sync_env = {**env, "PYTHONPATH": str(ROOT)}
            print(f"progress: {len(tokens)} tokens paging for {args.duration:.0f} s, sync halfway …", flush=True)
            syncer = threading.Thread(
                target=mid_run_sync,
                args=(database, sync_env, time.perf_counter() + args.duration / 2, sync),
                daemon=True,
            )
            syncer.start()
            work = paging_work(phases["progress"], tokens, limits)
            run_phase(phases["progress"], port, len(tokens), args.duration, work)
            syncer.join()
        report(phases, sampler, sync, audit_check(database), args, workers)
    finally:
        database.engine.dispose()
        store.flushdb()
        if not args.database:
            with server.begin() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
        if args.keep_logs:
            print(f"logs: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
