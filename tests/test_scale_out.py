"""Scale-out: two gunicorn servers (two workers each) behind nginx, on one database (MariaDB, then PostgreSQL)
and one Redis.

Each server is ``gunicorn -c gunicorn.conf.py --bind 127.0.0.1:<port> --workers 2`` in its own
process group, configured only through ``ALX_*`` variables; the shield's counters and the page
cache live in Redis database 7 (flushed before and after), and nginx runs the deploy file with
both servers in its ``alxbridge`` upstream. The tests show that the abuse shield and the cache are
shared, that the daily quota stays exact when both servers take calls of one user at once, and
that the schedulers of all workers run each sync slot once. For the last one the servers serve
``tests/scale_out_app.py``: production's ``wsgi:app`` with the sync fired every few seconds.
"""

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import Counter

import pytest
import redis
import sqlalchemy as sa

from alxbridge.db.database import Database
from alxbridge.db.upsert import upsert
from alxbridge.demo import build_demo_site
from alxbridge.sync.runs import run_sync

from .gunicorn_support import ServerDidNotStart, gunicorn_servers
from .nginx_support import free_port, nginx_in_front

REDIS_URL = os.environ.get("ALX_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
PROGRESS = "local_alx_report_api_get_course_progress"
PER_TOKEN = 10  # ALX_RATELIMIT_PER_TOKEN, per minute
SYNC_PERIOD = 5  # seconds per sync slot in tests/scale_out_app.py
DAILY_LIMIT = 4
CALLERS = 10


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def shared_database_url(request, new_database):
    """Moodle's database, which both servers share: the quota and the sync slots are the database's to keep."""
    with new_database(request.param) as url:
        yield url


@pytest.fixture(scope="module")
def shared_redis(shared_database_url):  # one per database: the second set of servers starts on an empty Redis
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is unreachable at {REDIS_URL}: {error}; start redis-server", pytrace=False)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def site(shared_database_url):
    """A small demo site, synced once, and one token per company: {shortname: (token, user id, company id)}."""
    database = Database(shared_database_url)
    logins = build_demo_site(database, companies=3, users=60, courses=4)
    run_sync(database, full=True)
    tables = database.tables
    tokens = {}
    user, company = tables.user, tables.company
    with database.connect() as connection:
        for login in logins.tokens:
            if login.token:
                user_id = connection.execute(sa.select(user.c.id).where(user.c.username == login.username)).scalar()
                query = sa.select(company.c.id).where(company.c.shortname == login.company)
                tokens[login.company] = (login.token, user_id, connection.execute(query).scalar())
    assert len({user for _, user, _ in tokens.values()}) >= 3, logins.tokens
    yield database, list(tokens.values())
    database.engine.dispose()


@pytest.fixture(scope="module")
def servers(site, shared_redis, shared_database_url, tmp_path_factory):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALX_")},
        "ALX_DATABASE_URL": shared_database_url,
        "ALX_SECRET_KEY": "scale-out-test",
        "ALX_RATELIMIT_STORAGE_URI": REDIS_URL,
        "ALX_CACHE_URL": REDIS_URL,
        "ALX_TRUSTED_PROXIES": "1",
        "ALX_RATELIMIT_PER_TOKEN": f"{PER_TOKEN}/minute",
        "ALX_SCHEDULER": "on",
        "ALX_TEST_SYNC_PERIOD": str(SYNC_PERIOD),
    }
    folder = tmp_path_factory.mktemp("scale-out")
    try:
        with gunicorn_servers(2, env, folder, app="tests.scale_out_app:app", workers=2) as ports:
            yield ports, folder, time.time()
    except ServerDidNotStart as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="module")
def nginx(servers, tmp_path_factory):
    ports = servers[0]
    moodle = f"127.0.0.1:{free_port()}"  # nothing listens: these tests only call the bridge
    with nginx_in_front(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{port}" for port in ports], moodle) as proxy:
        yield proxy


def request(port, method, path, form=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = urllib.parse.urlencode(form) if form else None
        headers = {"Host": "moodle.example.com"}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def progress(port, token, **params):
    form = {"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json", "limit": 5, **params}
    status, body = request(port, "POST", "/webservice/rest/server.php", form)
    assert status == 200, body
    return json.loads(body)


def log_rows(database, user_id):
    logs = database.tables.local_alx_api_logs
    with database.connect() as connection:
        return connection.execute(sa.select(logs).where(logs.c.userid == user_id).order_by(logs.c.id)).mappings().all()


def test_the_abuse_shield_counts_one_tokens_calls_across_both_servers(nginx, servers, site):
    token, _, _ = site[1][0]
    answers = [progress(nginx.port, token) for _ in range(PER_TOKEN + 4)]
    passed = [a for a in answers if isinstance(a, list)]
    refused = [a for a in answers if isinstance(a, dict)]
    assert (len(passed), len(refused)) == (PER_TOKEN, 4)
    assert {(a["errorcode"], a["message"]) for a in refused} == {
        ("ratelimitexceeded", "Too many requests in a short time; please retry later")
    }
    served_by = Counter(nginx.upstreams()[-len(answers) :])
    assert set(served_by) == {f"127.0.0.1:{port}" for port in servers[0]}  # nginx spread them over both servers


def test_a_page_cached_by_one_server_is_a_cache_hit_on_the_other(servers, site):
    database, tokens = site
    token, user_id, _ = tokens[1]
    first, second = servers[0]
    page = progress(first, token)
    assert progress(second, token) == page  # Power BI's second evaluation of offset 0, on the other server
    details = [json.loads(row["additional_data"]) for row in log_rows(database, user_id)]
    assert [(d["offset"], d["cache_hit"]) for d in details] == [(0, False), (0, True)]
    assert details[0]["session_id"] == details[1]["session_id"]


def test_the_daily_quota_is_exact_when_both_servers_take_one_users_calls_at_once(servers, site):
    database, tokens = site
    token, user_id, company_id = tokens[2]
    with database.begin() as connection:
        key = {"companyid": company_id, "setting_name": "rate_limit"}
        values = {"setting_value": DAILY_LIMIT, "timecreated": 0, "timemodified": 0}
        upsert(connection, database.tables.local_alx_api_settings, key, values)
    ports = servers[0]
    barrier = threading.Barrier(CALLERS)
    answers = [None] * CALLERS

    def caller(index):
        barrier.wait()
        answers[index] = progress(ports[index % 2], token, limit=10)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    passed = [a for a in answers if isinstance(a, list)]
    refused = [a for a in answers if isinstance(a, dict)]
    assert (len(passed), len(refused)) == (DAILY_LIMIT, CALLERS - DAILY_LIMIT), answers
    assert {(a["errorcode"], a["message"]) for a in refused} == {("ratelimitexceeded", "Daily rate limit exceeded")}
    rows = log_rows(database, user_id)
    assert [r["error_message"] for r in rows].count(None) == DAILY_LIMIT
    assert [r["error_message"] for r in rows if r["error_message"]] == [
        f"Rate limit exceeded: {DAILY_LIMIT}/{DAILY_LIMIT} requests"
    ]


def test_the_schedulers_of_all_workers_run_each_sync_slot_once(servers, site):
    database, _ = site
    _, folder, started = servers
    # Let at least three slots pass while every server's schedulers are running.
    first_slot = (int(started) // SYNC_PERIOD + 1) * SYNC_PERIOD
    time.sleep(max(0.0, first_slot + 3 * SYNC_PERIOD + 2 - time.time()))
    runs, jobs = database.tables.local_alxbridge_sync_run, database.tables.local_alxbridge_job
    with database.connect() as connection:
        scheduled = connection.execute(
            sa.select(runs.c.timestarted, runs.c.status, runs.c.host).where(runs.c.origin == "scheduler")
        ).all()
        job = connection.execute(sa.select(jobs).where(jobs.c.name == "sync")).mappings().one()
    per_slot = Counter(run.timestarted // SYNC_PERIOD * SYNC_PERIOD for run in scheduled)
    assert len(per_slot) >= 3, scheduled
    assert set(per_slot.values()) == {1}, per_slot  # never two runs of one slot
    assert {run.status for run in scheduled} == {"success"}
    assert job["last_slot"] == max(per_slot) and job["last_status"] == "success"
    # Every server's schedulers fired for those slots: one ran each, the others saw it taken.
    logs = [(folder / f"gunicorn-{index}.log").read_text() for index in range(2)]
    assert sum(log.count("scheduled job sync success") for log in logs) == len(scheduled)
    assert all(log.count("scheduled job sync ") >= 3 for log in logs)  # both servers fired in the last 3 slots
    assert sum(log.count("scheduled job sync skipped") for log in logs) >= 3  # and all but one stood down
