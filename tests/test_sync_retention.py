"""Daily retention (``alx cleanup``): the plugin's settings honoured, bounded batches, tombstone horizons."""

import pytest
import sqlalchemy as sa

from alxbridge.jobs import retention
from alxbridge.jobs.retention import TOMBSTONE_RETENTION_DAYS, run_retention
from alxbridge.sync.state import read_company_state

from .sitebuilder import DAY, Clock, SiteBuilder


@pytest.fixture(scope="module")
def site(database):
    return SiteBuilder(database, Clock()).create_tables()


@pytest.fixture(autouse=True)
def empty_tables(site):
    tables = site.tables
    site.empty(tables.local_alx_api_logs, tables.local_alx_api_cache, tables.local_alx_api_reporting,
               tables.config_plugins, tables.local_alx_api_alerts)  # fmt: skip


def count(site, table):
    with site.database.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_logs_older_than_the_retention_setting_are_deleted_in_batches(site, monkeypatch):
    """B26: the plugin never applied log_retention_days."""
    monkeypatch.setattr(retention, "BATCH", 3)
    site.plugin_config("log_retention_days", 30)
    for age in range(10):
        site.api_call(2, at=site.now - (31 + age) * DAY)
    site.api_call(2, at=site.now - 29 * DAY)
    counts = run_retention(site.database)
    assert counts["API log rows"] == 10 and count(site, site.tables.local_alx_api_logs) == 1


def test_zero_days_keeps_logs_for_ever(site):
    site.plugin_config("log_retention_days", 0)
    site.api_call(2, at=site.now - 4000 * DAY)
    assert "API log rows" not in run_retention(site.database)
    assert count(site, site.tables.local_alx_api_logs) == 1


def test_expired_cache_rows_are_deleted(site):
    cache = site.tables.local_alx_api_cache
    with site.database.begin() as connection:
        for key, expires in (("old", site.now - 1), ("live", site.now + 60)):
            connection.execute(
                sa.insert(cache).values(
                    cache_key=key, companyid=1, cache_data="[]", cache_timestamp=site.now - 3600,
                    expires_at=expires, last_accessed=site.now,
                )
            )  # fmt: skip
    assert run_retention(site.database)["expired cache rows"] == 1
    with site.database.connect() as connection:
        assert connection.execute(sa.select(cache.c.cache_key)).scalars().all() == ["live"]


def test_quota_days_older_than_two_days_are_deleted(site):
    quota = site.tables.local_alxbridge_quota
    with site.database.begin() as connection:
        for userid, days_back in ((2, 3), (2, 1), (3, 0)):
            day = site.now - days_back * DAY
            connection.execute(sa.insert(quota).values(userid=userid, day=day, calls=5, timemodified=day))
    assert run_retention(site.database)["past quota days"] == 1
    with site.database.connect() as connection:
        assert sorted(connection.execute(sa.select(quota.c.userid, quota.c.calls)).all()) == [(2, 5), (3, 5)]


def test_old_tombstones_are_purged_and_the_company_horizon_moves(site):
    reporting = site.tables.local_alx_api_reporting
    old = site.now - (TOMBSTONE_RETENTION_DAYS + 1) * DAY
    recent = site.now - DAY

    def row(userid, deleted, last_updated):
        return dict(
            userid=userid, companyid=7, courseid=3, firstname="F", lastname="L", email="e@example.com",
            coursename="C", last_updated=last_updated, is_deleted=deleted, created_at=old, updated_at=last_updated,
        )  # fmt: skip

    with site.database.begin() as connection:
        connection.execute(sa.insert(reporting), [row(1, 1, old), row(2, 1, recent), row(3, 0, old)])
    assert run_retention(site.database)["old tombstones"] == 1
    with site.database.connect() as connection:
        assert sorted(connection.execute(sa.select(reporting.c.userid)).scalars()) == [2, 3]
        assert read_company_state(connection, site.tables, 7).tombstone_horizon == old


def test_cleanup_command_prints_a_line_per_purge(site, runner):
    site.plugin_config("log_retention_days", 30)
    site.api_call(2, at=site.now - 400 * DAY)
    result = runner.invoke(args=["alx", "cleanup"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "API log rows: 1 deleted"
    assert result.output.splitlines()[-1] == "cleanup: 1 row(s) deleted"
