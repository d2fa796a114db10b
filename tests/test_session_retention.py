"""Retention of read sessions: abandoned and superseded sessions go, each token's acknowledgement stays."""

import sqlalchemy as sa

from alxbridge.jobs.retention import run_retention
from alxbridge.reporting.sessions import IDLE_SECONDS

from .conftest import make_app
from .sitebuilder import NOW, Clock


def session_row(token_hash, status, age, companyid=1, now=NOW):
    return dict(
        token_hash=token_hash, companyid=companyid, mode="full", low_version=0, high_version=5, max_id=9,
        page_limit=100, settings_digest="d", settings="{}", bookmarks="{}", status=status,
        timeopened=now - age, timeused=now - age, timeclosed=now - age if status == "completed" else 0,
    )  # fmt: skip


def test_abandoned_and_superseded_sessions_are_purged_the_acknowledgement_kept(database_url):
    app = make_app(database_url, CLOCK=Clock(NOW))
    database = app.extensions["alx_database"]
    database.schema.metadata.create_all(database.engine)
    sessions = database.tables.local_alxbridge_read_session
    rows = [
        session_row("a", "completed", 9000),  # superseded by the next one: purged
        session_row("a", "completed", 8000),  # token a's acknowledgement: kept
        session_row("a", "open", IDLE_SECONDS + 60),  # abandoned: purged
        session_row("a", "open", 10),  # being read: kept
        session_row("b", "completed", 9000),  # token b's only acknowledgement: kept
        session_row("a", "completed", 9500, companyid=2),  # same token, other company: kept
    ]
    with database.begin() as connection:
        connection.execute(sessions.insert(), rows)
    counts = run_retention(database)
    assert counts["finished read sessions"] == 2
    with database.connect() as connection:
        left = connection.execute(
            sa.select(sessions.c.token_hash, sessions.c.companyid, sessions.c.status).order_by(sessions.c.id)
        ).all()
    assert left == [("a", 1, "completed"), ("a", 1, "open"), ("b", 1, "completed"), ("a", 2, "completed")]
    database.engine.dispose()
