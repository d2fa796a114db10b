"""Sync runs as a whole: versions, idempotence, the plugin's status rows, failures, the CLI.

A failure is injected the way a real database fails: a trigger that rejects one company's rows.
"""

import hashlib
import json

import pytest
import sqlalchemy as sa

from alxbridge.db.database import Database
from alxbridge.jobs.locks import job_lock
from alxbridge.sync.runs import run_sync
from alxbridge.sync.state import read_all_company_states, read_company_state

from .sitebuilder import Clock, SiteBuilder


@pytest.fixture(scope="module")
def site(database):
    site = SiteBuilder(database, Clock()).create_tables()
    site.companies = [site.company(name) for name in ("Alpha", "Beta", "Gamma")]
    for company in site.companies:
        courses = [site.course(f"{company}-{n}", [company], modules=(1, 1)) for n in range(2)]
        for name in ("Ana", "Ben"):
            user = site.user(f"{name}{company}", companies=[company])
            for course in courses:
                site.enrol(user, course)
            site.complete_module(user, courses[0].modules[0])
    return site


def sync(site, **options):
    site.clock.advance(3600)
    return run_sync(site.database, **options)


def snapshot(site):
    """Everything the sync may write: reporting rows and company versions."""
    with site.database.connect() as connection:
        reporting = site.tables.local_alx_api_reporting
        rows = connection.execute(sa.select(reporting).order_by(reporting.c.id)).all()
        states = read_all_company_states(connection, site.tables)
    return rows, {cid: (s.committed_version, s.tombstone_horizon) for cid, s in states.items()}


@pytest.fixture
def failing_company(site):
    """A trigger that makes every insert of reporting rows for one company fail, removed afterwards."""
    reporting = site.tables.local_alx_api_reporting.name
    company = site.companies[1]
    dialect = site.database.engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        create = [
            f"CREATE TRIGGER alx_test_fail BEFORE INSERT ON {reporting} FOR EACH ROW BEGIN "
            f"IF NEW.companyid = {company} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; "
            "END IF; END"
        ]
        drop = ["DROP TRIGGER IF EXISTS alx_test_fail"]
    elif dialect == "postgresql":
        create = [
            "CREATE FUNCTION alx_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.companyid = {company} THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER alx_test_fail BEFORE INSERT ON {reporting} FOR EACH ROW EXECUTE FUNCTION alx_test_fail()",
        ]
        drop = [f"DROP TRIGGER IF EXISTS alx_test_fail ON {reporting}", "DROP FUNCTION IF EXISTS alx_test_fail()"]
    else:
        create = [
            f"CREATE TRIGGER alx_test_fail BEFORE INSERT ON {reporting} WHEN NEW.companyid = {company} "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS alx_test_fail"]
    with site.database.begin() as connection:
        for statement in create:
            connection.execute(sa.text(statement))
    yield company
    with site.database.begin() as connection:
        for statement in drop:
            connection.execute(sa.text(statement))


def test_first_run_writes_every_row_with_one_version(site):
    result = sync(site)
    rows, versions = snapshot(site)
    assert result.created == len(rows) == 12 and result.updated == result.deleted == 0
    assert {row.last_updated for row in rows} == {result.version}
    assert {row.created_at for row in rows} == {row.updated_at for row in rows} == {site.now}
    assert versions == {company: (result.version, 0) for company in site.companies}


def test_second_run_writes_nothing_and_bumps_no_version(site):
    before = snapshot(site)
    for options in ({}, {"full": True}):
        result = sync(site, **options)
        assert (result.created, result.updated, result.deleted, result.failed) == (0, 0, 0, [])
        assert snapshot(site) == before


def test_a_change_is_stamped_with_a_version_above_the_committed_one(site):
    company = site.companies[0]
    rows_before, versions_before = snapshot(site)
    user = next(row.userid for row in rows_before if row.companyid == company)
    site.update_user(user, lastname="Changed")
    result = sync(site)
    rows_after, versions_after = snapshot(site)
    changed = [row for row in rows_after if row not in rows_before]
    assert {(row.userid, row.lastname, row.last_updated) for row in changed} == {(user, "Changed", result.version)}
    assert result.version > versions_before[company][0]
    assert versions_after == {**versions_before, company: (result.version, 0)}
    assert all(row.created_at < row.updated_at == site.now for row in changed)


def test_plugin_status_rows_carry_real_counts(site):
    company = site.companies[2]
    user = next(row.userid for row in snapshot(site)[0] if row.companyid == company)
    site.update_user(user, firstname="Renamed")
    result = sync(site)
    status = site.tables.local_alx_api_sync_status
    config = site.tables.config_plugins
    with site.database.connect() as connection:
        cron_rows = {
            row.companyid: row
            for row in connection.execute(
                sa.select(status).where(status.c.token_hash.in_([cron_hash(c) for c in site.companies]))
            )
        }
        values = dict(connection.execute(sa.select(config.c.name, config.c.value)).all())
    assert set(cron_rows) == set(site.companies)
    assert cron_rows[company].last_sync_records == 2 and cron_rows[company].last_sync_status == "success"
    assert cron_rows[company].total_syncs == 5 and cron_rows[company].last_sync_timestamp == site.now
    assert cron_rows[site.companies[0]].last_sync_records == 0
    assert int(values["last_auto_sync"]) == site.now
    assert json.loads(values["last_sync_stats"]) == {
        "companies_processed": 3,
        "total_users_updated": 1,
        "total_records_updated": 2,
        "total_records_created": 0,
        "total_records_deleted": 0,
        "total_errors": 0,
        "companies_with_errors": [],
    }
    assert result.updated == 2


def cron_hash(company):
    return hashlib.sha256(f"cron_task_{company}".encode()).hexdigest()


def test_a_failing_company_keeps_its_version_and_the_others_still_sync(site, failing_company):
    """B14: the plugin advanced its watermark even after a failure and never retried."""
    newcomer_course = site.course("Late course", site.companies)
    newcomers = {company: site.user(f"New{company}", companies=[company]) for company in site.companies}
    for user in newcomers.values():
        site.enrol(user, newcomer_course)
    before = snapshot(site)
    result = sync(site)
    assert [c.companyid for c in result.failed] == [failing_company]
    assert "injected failure" in result.failed[0].error and result.status == "failed"
    assert result.created == 2
    rows_after, versions_after = snapshot(site)
    assert versions_after[failing_company] == before[1][failing_company]
    assert [r for r in rows_after if r.companyid == failing_company] == [
        r for r in before[0] if r.companyid == failing_company
    ]
    with site.database.connect() as connection:
        state = read_company_state(connection, site.tables, failing_company)
        status = site.tables.local_alx_api_sync_status
        cron = connection.execute(sa.select(status).where(status.c.token_hash == cron_hash(failing_company))).one()
    assert state.needs_full and state.failures == 1 and "injected failure" in state.last_error
    assert cron.last_sync_status == "failed" and "injected failure" in cron.last_sync_error


def test_the_failed_company_is_recomputed_in_full_by_the_next_run(site):
    result = sync(site)
    retried = next(c for c in result.companies if c.companyid == site.companies[1])
    assert retried.reason == "retry after a failed sync" and retried.counts.created == 1
    with site.database.connect() as connection:
        state = read_company_state(connection, site.tables, site.companies[1])
    assert not state.needs_full and state.failures == 0 and state.committed_version == result.version


def test_cli_sync_reports_each_company_and_exits_zero(site, runner):
    result = runner.invoke(args=["alx", "sync"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [f"company {c}" for c in site.companies]
    assert lines[-1].startswith("sync success: version ")


def test_cli_sync_exits_one_when_a_company_fails(site, runner, failing_company):
    with site.database.begin() as connection:  # make the failing company insert rows again
        reporting = site.tables.local_alx_api_reporting
        connection.execute(sa.delete(reporting).where(reporting.c.companyid == failing_company))
    result = runner.invoke(args=["alx", "sync", "--company", str(failing_company), "--full"])
    assert result.exit_code == 1, result.output
    assert f"company {failing_company}: FAILED" in result.output and "sync failed:" in result.output


def test_cli_sync_skips_while_another_process_holds_the_lock(site, runner):
    with job_lock(site.database, "sync") as lock:
        assert lock is not None
        result = runner.invoke(args=["alx", "sync"])
    assert result.exit_code == 0 and result.output.strip() == "skipped: another sync holds the lock"


def test_cli_sync_exits_two_when_it_cannot_run(runner):
    result = runner.invoke(args=["alx", "sync", "--company", "999999"])
    assert result.exit_code == 2 and "there is no company with id 999999" in result.output


def test_postgres_plans_each_companys_staging_statement_for_its_own_values(postgres_url):
    """psycopg prepares a statement once its text has run 5 times, after which PostgreSQL may keep one generic
    plan for every company (see ``writer._plan_for_these_values``): 16 companies of one course each share their
    staging statement's text, and every one of its runs must still be planned for its company."""
    database = Database(postgres_url)
    site = SiteBuilder(database, Clock()).create_tables()
    for n in range(16):
        company = site.company(f"Company {n}")
        course = site.course(f"Course {n}", [company], modules=(1,))
        site.enrol(site.user(f"Learner{n}", companies=[company]), course)
    used = {}
    sa.event.listen(
        database.engine,
        "checkout",
        lambda dbapi_connection, *_: used.setdefault(id(dbapi_connection), dbapi_connection),
    )
    site.clock.advance(3600)
    assert run_sync(database, full=True).created == 16
    plans = []  # (generic, custom) runs of each prepared staging statement
    for connection in used.values():
        plans += connection.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'INSERT INTO mdl_local_alxbridge_stage %'"
        ).fetchall()
        connection.rollback()
    database.engine.dispose()
    assert sum(generic + custom for generic, custom in plans) == 16 - 5  # prepared from the 6th run on
    assert sum(generic for generic, _ in plans) == 0
