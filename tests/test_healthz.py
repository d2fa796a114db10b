"""``/healthz``: what the proxy and an orchestrator see."""

import sqlalchemy as sa

from alxbridge.sync.runs import run_sync

from .conftest import make_app
from .sitebuilder import SiteBuilder


def test_a_fresh_site_is_up_but_degraded_until_its_first_sync(app, database):
    site = SiteBuilder(database).create_tables()
    site.company("Acme")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    report = response.get_json()
    assert report["database"]["ok"] is True
    assert report["sync"]["stale"] is True and report["sync"]["last_success"] is None
    assert report["scheduler"] == {"mode": "off"}
    assert report["status"] == "degraded"

    run_sync(database)
    report = app.test_client().get("/healthz").get_json()
    assert report["status"] == "ok"
    assert report["sync"]["stale"] is False and 0 <= report["sync"]["age_seconds"] < 60


def test_an_unreachable_database_answers_503_without_the_password():
    app = make_app("mysql+mysqldb://root:s3cret-pw@127.0.0.1:1/moodle")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "down" and report["database"]["ok"] is False
    assert "s3cret-pw" not in response.get_data(as_text=True)


def test_missing_bridge_tables_are_reported_not_fatal(database_url):
    app = make_app(database_url)
    database = app.extensions["alx_database"]
    with database.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE {database.tables.local_alxbridge_sync_run.name}"))
    try:
        report = app.test_client().get("/healthz").get_json()
        assert report["database"]["ok"] is True
        assert report["status"] == "degraded" and "error" in report["sync"]
    finally:
        database.tables.local_alxbridge_sync_run.create(database.engine)
