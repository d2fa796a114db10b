"""The demo's site simulator: its actions are written as Moodle writes them, so the sync tick alone keeps up.

On a small synced demo (SQLite and MariaDB), the simulator acts step by step at the tests' clock; after
each round a sync tick runs, and every company's live reporting rows must then equal a full recompute
from Moodle's tables: an action that changed a row without logging the event that names it fails here.
The simulator's report readers go through a real HTTP server with tokens of their own; and it refuses
any database that is not a demo site, before its first write and before every action.
"""

import random

import pytest
import sqlalchemy as sa

from alxbridge.alerts import check_alerts
from alxbridge.demo import NotADemoSite, build_demo_site, catalog, read_demo_logins
from alxbridge.demo.moodle_actions import ACTIONS
from alxbridge.demo.reporting_client import ACCOUNT_PREFIX, DRAFT_TRIES, POWER_QUERY_AGENT, PowerBiRefresh
from alxbridge.demo.simulator import SiteSimulator
from alxbridge.reporting.sessions import token_hash
from alxbridge.sync.events import standard_log_in_use
from alxbridge.sync.runs import run_sync
from alxbridge.sync.tick import run_tick

from .conftest import make_app
from .live_server import live_server
from .sitebuilder import NOW, Clock, SiteBuilder
from .test_sync_properties import live_rows, recomputed

KINDS = {"activity completion", "course completion", "activity reopened", "enrolment", "unenrolment", "profile edit"}


@pytest.fixture(scope="module")
def demo(database):
    site = SiteBuilder(database, Clock(NOW))  # the tests' clock, on the bridge's database too
    build_demo_site(database, companies=3, users=90, courses=6, seed=5, now=NOW)
    run_sync(database, full=True)
    run_tick(database)  # the tail starts at the end of the log: what follows is the simulator's
    return site


def company_ids(site):
    with site.database.connect() as connection:
        return connection.execute(sa.select(site.tables.company.c.id)).scalars().all()


def test_after_every_tick_the_rows_equal_a_full_recompute_and_every_kind_of_action_happened(demo):
    simulator = SiteSimulator(demo.database, rng=random.Random(8))
    simulator.prepare()
    events_before = event_count(demo)
    for _ in range(12):
        for _ in range(15):
            demo.clock.advance(3)
            simulator.step()
        demo.clock.advance(5)
        tick = run_tick(demo.database)
        assert tick.skipped_because is None
        for company in company_ids(demo):
            assert live_rows(demo, company) == recomputed(demo, company)
        if set(simulator.stats.actions) >= KINDS:
            break
    assert set(simulator.stats.actions) == KINDS, simulator.stats.actions
    assert event_count(demo) - events_before == simulator.stats.events > sum(simulator.stats.actions.values())
    assert len(ACTIONS) == 5


def event_count(site):
    with site.database.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(site.tables.logstore_standard_log)).scalar()


def test_the_report_readers_use_accounts_of_their_own_through_the_served_api(demo, app):
    refresh = PowerBiRefresh("http://unused").prepare(demo.database)
    assert [a.username.startswith(ACCOUNT_PREFIX) for a in refresh.accounts] == [True] * 3
    assert all(a.token not in repr(refresh.accounts) for a in refresh.accounts)  # no token in a log line
    again = PowerBiRefresh("http://unused").prepare(demo.database)  # a restart finds the same accounts and tokens
    assert [a.token for a in again.accounts] == [a.token for a in refresh.accounts]
    printed = {t.token for t in read_demo_logins(demo.database).tokens if t.token}
    assert printed.isdisjoint(a.token for a in refresh.accounts)

    logs = demo.tables.local_alx_api_logs
    with live_server(app) as url:
        reader = PowerBiRefresh(url).prepare(demo.database)
        calls = [reader.run(demo.database) for _ in reader.accounts]
    assert all(count >= 1 for count in calls), calls
    with demo.database.connect() as connection:
        rows = connection.execute(sa.select(logs.c.userid, logs.c.user_agent, logs.c.error_message)).all()
    by_user = {a.userid: a for a in reader.accounts}
    assert len(rows) == sum(calls) and {row.userid for row in rows} == set(by_user)
    assert all(row.error_message in (None, "") for row in rows), rows
    assert {row.user_agent for row in rows if by_user[row.userid].companyid == reader.accounts[0].companyid} == {
        POWER_QUERY_AGENT
    }
    # The tokens ./run demo prints keep their read sessions to the visitor: the readers open only their own.
    sessions = demo.tables.local_alxbridge_read_session
    with demo.database.connect() as connection:
        opened = set(connection.execute(sa.select(sessions.c.token_hash)).scalars())
    assert opened == {token_hash(a.token) for a in reader.accounts}


def test_refuses_a_database_that_is_not_a_demo_site_before_writing_anything(new_database):
    with new_database("sqlite") as url:
        app = make_app(url)
        database = app.extensions["alx_database"]
        real = SiteBuilder(database)
        real.create_tables()
        real.user("Real", "Learner")
        with pytest.raises(NotADemoSite) as refused:
            SiteSimulator(database).prepare()
        assert "\n" not in str(refused.value) and "not a demo site" in str(refused.value)
        assert event_count(real) == 0
        config = database.tables.config_plugins
        with database.connect() as connection:
            assert connection.execute(sa.select(config).where(config.c.plugin == "tool_log")).first() is None
        database.engine.dispose()


def test_stops_before_the_next_action_when_the_marker_is_gone(new_database):
    with new_database("sqlite") as url:
        app = make_app(url)
        database = app.extensions["alx_database"]
        site = SiteBuilder(database, Clock(NOW))
        build_demo_site(database, companies=2, users=30, courses=4, seed=2, now=NOW)
        simulator = SiteSimulator(database, rng=random.Random(1))
        simulator.prepare()
        config = database.tables.config
        with database.begin() as connection:
            connection.execute(sa.delete(config).where(config.c.name == catalog.MARKER))
        before = event_count(site)
        with pytest.raises(NotADemoSite):
            simulator.step()
        assert event_count(site) == before
        database.engine.dispose()


def test_a_refused_draft_query_is_an_alert_at_the_next_check(demo, app):
    logs = demo.tables.local_alx_api_logs
    with demo.database.connect() as connection:
        first_new = (connection.execute(sa.select(sa.func.max(logs.c.id))).scalar() or 0) + 1
    with live_server(app) as url:
        reader = PowerBiRefresh(url).prepare(demo.database)
        assert reader.draft_query(demo.database) == DRAFT_TRIES
    author = reader.accounts[0]
    with demo.database.connect() as connection:
        refused = connection.execute(sa.select(logs.c.userid, logs.c.error_message).where(logs.c.id >= first_new)).all()
    assert [row.userid for row in refused] == [author.userid] * DRAFT_TRIES
    assert all("Requested limit is too large" in row.error_message for row in refused), refused
    result = check_alerts(demo.database, site_url="http://demo.example")
    assert any(
        condition.alert_type == "performance" and condition.subject.startswith(f"user:{author.userid}:")
        for _, condition in result.raised
    ), result.raised


def test_a_demo_built_before_the_log_store_gets_moodles_default_before_the_first_action(new_database):
    with new_database("sqlite") as url:
        database = make_app(url).extensions["alx_database"]
        build_demo_site(database, companies=2, users=30, courses=4, seed=2, now=NOW)
        config, log = database.tables.config_plugins, database.tables.logstore_standard_log
        with database.begin() as connection:
            connection.execute(sa.delete(config).where(config.c.plugin == "tool_log"))
            log.drop(connection)
        SiteSimulator(database).prepare()
        with database.connect() as connection:
            assert standard_log_in_use(connection, database.tables)
        database.engine.dispose()
