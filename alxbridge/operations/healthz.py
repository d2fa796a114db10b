"""``/healthz`` for the reverse proxy and orchestrators: database, scheduler, age of the last sync, tick lag.

HTTP 503 only when the database cannot answer (the bridge can serve nothing then); a stale sync, a
sync tick that has not caught up with Moodle's log for a while, or a stopped scheduler still answer
200 with ``"status": "degraded"``, because restarting the process would not fix the data.
"""

import time

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from ..extensions import get_database
from ..jobs.scheduler import scheduler_enabled
from ..metrics.freshness import read_freshness
from ..moodle.plugin_settings import read_plugin_settings
from .errors import BridgeError

bp = Blueprint("ops", __name__)
STALE_AFTER_PERIODS = 2  # a sync is stale when older than twice the sync interval


def _scheduler_state(app):
    if not scheduler_enabled(app):
        return {"mode": "off"}  # disabled here: a dedicated `alx scheduler` process may run the jobs
    process = app.extensions.get("alx_scheduler")
    running = bool(process and process.scheduler and process.scheduler.running)
    return {"mode": "in-process", "running": running}


def _last_sync(connection, tables, now):
    runs = tables.local_alxbridge_sync_run
    finished = connection.execute(
        sa.select(sa.func.max(runs.c.timefinished)).where(runs.c.status == "success")
    ).scalar()
    settings = read_plugin_settings(connection, tables)
    last = max(finished or 0, settings.last_auto_sync)
    limit = STALE_AFTER_PERIODS * settings.auto_sync_hours * 3600
    return {
        "last_success": last or None,
        "age_seconds": now - last if last else None,
        "stale": not last or now - last > limit,
    }


def _reason(error):
    return str(error) if isinstance(error, BridgeError) else " ".join(str(error.orig).split())[:200]


@bp.route("/healthz")
def healthz():
    database = get_database()
    now = database.now()
    report = {"scheduler": _scheduler_state(current_app)}
    started = time.perf_counter()
    try:
        with database.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            report["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
            try:
                report["sync"] = _last_sync(connection, database.tables, now)
                tick_seconds = current_app.config.get("ALX_SYNC_TICK_SECONDS") or 0
                report["tick"] = read_freshness(connection, database.tables, now, tick_seconds).as_data()
            except sa.exc.DBAPIError as error:  # e.g. the bridge's tables are not created yet
                report["sync"] = {"stale": True, "error": _reason(error)}
    except (BridgeError, sa.exc.DBAPIError) as error:
        report["database"] = {"ok": False, "error": _reason(error)}
        report["status"] = "down"
        return jsonify(report), 503
    lagging = report.get("tick", {}).get("lagging", False)
    degraded = report["sync"]["stale"] or lagging or report["scheduler"].get("running") is False
    report["status"] = "degraded" if degraded else "ok"
    return jsonify(report), 200
