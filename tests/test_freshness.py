"""What the operator sees of the sync tick (SQLite and MariaDB): the active path and the lag on ``/healthz``,
an alert when the tick stays behind, and the Auto-Sync page's freshness card."""

import pytest
import sqlalchemy as sa

from alxbridge.alerts import check_alerts
from alxbridge.metrics.freshness import MIN_LAG_ALERT
from alxbridge.sync.tick import run_tick

from .admin.support import AdminSite, sign_in
from .conftest import make_app
from .test_sync_semantics import sync

PAGE = "/local/alx_report_api/auto_sync_status.php"


@pytest.fixture(scope="module")
def app(database_url):
    return make_app(database_url, ALX_SYNC_TICK_SECONDS=30, ALX_ADMIN_LOGIN_LIMIT="1000/minute")


@pytest.fixture(scope="module")
def site(app):
    site = AdminSite(app.extensions["alx_database"])
    site.company("Acme")
    site.core_config("enablewebservices", 1)
    site.api_service()
    yield site
    site.database.engine.dispose()


@pytest.fixture(autouse=True)
def synced_with_the_log_on(site):
    """The standard log store on, an hourly run and a tick just done, no alerts."""
    site.use_standard_log()
    site.empty(site.tables.local_alx_api_alerts)
    site.plugin_config("enable_alerting", 1)
    sync(site)
    run_tick(site.database)


def healthz(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    return response.get_json()


def test_healthz_reports_the_tick_and_is_degraded_while_it_stays_behind(app, site):
    report = healthz(app)
    assert report["tick"]["path"] == "event tail" and report["tick"]["lag_seconds"] == 0
    assert report["tick"]["lagging"] is False and report["status"] == "ok"
    site.clock.advance(MIN_LAG_ALERT + 1)  # no tick ran since: the scheduler is stopped somewhere
    report = healthz(app)
    assert report["tick"]["lagging"] is True and report["status"] == "degraded"
    run_tick(site.database)
    assert healthz(app)["status"] == "ok"


def test_with_the_log_store_off_the_hourly_path_is_reported_and_nothing_lags(app, site):
    site.use_standard_log(False)
    site.clock.advance(MIN_LAG_ALERT + 1)
    report = healthz(app)
    assert report["tick"]["path"] == "hourly table scans" and report["tick"]["lagging"] is False


def lag_alerts(site):
    alerts = site.tables.local_alx_api_alerts
    with site.database.connect() as connection:
        rows = connection.execute(sa.select(alerts).where(alerts.c.alert_type == "sync")).all()
    return [row for row in rows if "sync tick" in row.message]


def test_an_alert_fires_while_the_tick_stays_behind_and_resolves_when_it_catches_up(site):
    assert check_alerts(site.database, tick_seconds=30).raised == [] and lag_alerts(site) == []
    site.clock.advance(MIN_LAG_ALERT + 1)
    check_alerts(site.database, tick_seconds=30)
    (alert,) = lag_alerts(site)
    assert (alert.severity, alert.resolved) == ("medium", 0)
    assert "last caught up 5 min ago" in alert.message
    run_tick(site.database)
    check_alerts(site.database, tick_seconds=30)
    assert [row.resolved for row in lag_alerts(site)] == [1]


def test_no_lag_alert_when_the_tick_is_turned_off(site):
    site.clock.advance(MIN_LAG_ALERT + 1)
    check_alerts(site.database, tick_seconds=0)
    assert lag_alerts(site) == []


def test_the_auto_sync_page_shows_the_path_the_lag_and_the_last_tick(app, site):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    site.update_user(site.teacher, lastname="Edited")  # an event for the next tick to read
    site.clock.advance(12)
    run_tick(site.database)
    html = client.get(PAGE).get_data(as_text=True)
    assert "Active path: <strong>event tail</strong>" in html and "Every 30 s a" in html
    assert 'id="tick-lag">0 s<' in html and "1 event(s), 0 row(s) changed" in html
    site.use_standard_log(False)
    html = client.get(PAGE).get_data(as_text=True)
    assert "Active path: <strong>hourly table scans</strong>" in html and 'id="tick-lag"' not in html
