"""``alx demo-serve`` (what ``./run demo`` runs): the demo site synced, alive and served, in one process.

A first-time visitor must see a working product at once, not "Total Records 0" until the hour turns:
so the site is built if missing, then synced in full, and a first sync tick places the tick at the
end of Moodle's log before anything else is written. Unless ``--quiet-site``, the site simulator
(:mod:`alxbridge.demo.simulator`) then acts like learners and teachers, and the in-process scheduler
runs the tick every :data:`DEMO_TICK_SECONDS` (unless ``ALX_SYNC_TICK_SECONDS`` is set), so the
Control Center, the monitoring pages and the API move while the visitor watches. werkzeug serves
the app, threaded, as ``flask run`` would; Ctrl-C or SIGTERM stops the server, the simulator and
the scheduler together, and the simulator's totals and own CPU time are printed last.

Only the SQLite demo path is exercised by ``./run demo``; nothing here imports the MySQL driver.
"""

import os
import signal
import threading

import click
import sqlalchemy as sa
from werkzeug.serving import make_server

from ..jobs.locks import SYNC_JOB
from ..jobs.runner import run_job
from ..jobs.scheduler import scheduler_enabled, sync_job
from ..schema.repair import repair_tables
from ..sync.tick import run_tick
from .catalog import PROGRESS_FUNCTION
from .reporting_client import ACCOUNT_PREFIX, PowerBiRefresh
from .simulator import REFRESH_EVERY, SiteSimulator

DEMO_TICK_SECONDS = 10  # a third of the production default: changes show within seconds while one watches
ADMIN_PATH = "/local/alx_report_api"


def demo_tick_seconds(app, asked):
    """The tick interval of the demo: ``asked``, else ``ALX_SYNC_TICK_SECONDS`` when set, else the demo's."""
    if asked is not None:
        return asked
    if os.environ.get("ALX_SYNC_TICK_SECONDS"):
        return app.config["ALX_SYNC_TICK_SECONDS"]
    return DEMO_TICK_SECONDS


def sync_demo(app, database):
    """Add tables a newer bridge has, sync every company in full, then tick once; one line saying what it did."""
    with database.begin() as connection:
        repair_tables(connection, database.schema.owned, apply=True)
    outcome = run_job(database, SYNC_JOB, lambda lock: sync_job(app, lock, full=True, origin="cli"))
    run_tick(database)  # the tick's place in the log is its end: the simulator's first event is the tick's
    reporting = database.tables.local_alx_api_reporting
    with database.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).where(reporting.c.is_deleted == 0)).scalar()
    if not outcome.ran:
        return f"Sync skipped ({outcome.skipped_because}); the reporting table holds {rows:,} rows."
    return f"Full sync {outcome.status}: {rows:,} reporting rows ({outcome.message})."


def banner(base, logins, tick_seconds, quiet_site, ticking):
    """What is going on and how to watch it; the first company's printed token is the curl loop's."""
    token = next((t for t in logins.tokens if t.token), None)
    lines = [
        "",
        f"ALX Bridge demo: {base}/webservice/rest/server.php",
        f"Admin pages:     {base}{ADMIN_PATH}/control_center.php (sign in as {logins.admin_username})",
    ]
    if quiet_site:
        lines.append("Quiet site (--quiet-site): nothing changes unless you change it.")
    else:
        lines += [
            "Learners at work: a change every few seconds (activity and course completions, enrolments, an unenrolment",
            "  now and then, profile edits), each with the rows and the logstore_standard_log events Moodle writes;",
            f"  every {REFRESH_EVERY // 60} minutes a Power BI refresh reads one company through the API with",
            f"  accounts of its own ({ACCOUNT_PREFIX}*), so the tokens above stay yours; once an hour a draft",
            "  query asks for too large a page: an alert at the next 15-minute check. --quiet-site: none of this.",
        ]
    if ticking:
        lines.append(
            f"The sync tick applies Moodle's logged changes every {tick_seconds} s "
            "(ALX_SYNC_TICK_SECONDS; 30 s outside the demo)."
        )
    else:
        lines.append("The scheduler is off here (ALX_SCHEDULER=off): run `flask --app wsgi alx tick` to apply changes.")
    lines += [
        "Watch it move:",
        f"  Freshness card (tick lag, events a minute): {base}{ADMIN_PATH}/auto_sync_status.php",
        f"  Monitoring:                                 {base}{ADMIN_PATH}/monitoring_dashboard_new.php",
    ]
    if token:
        lines += [
            f"  The API as company {token.company} sees it (the first call: every row; later ones: what changed):",
            f"    while true; do curl -s -d wstoken={token.token} -d wsfunction={PROGRESS_FUNCTION} "
            f"-d moodlewsrestformat=json -d limit=1000 {base}/webservice/rest/server.php | head -c 400; echo; "
            "sleep 30; done",
            "  (each token owner may make 100 calls a day: the plugin's rate_limit, per company on Company settings)",
        ]
    lines.append("Ctrl-C stops the server and the simulated site.")
    return lines


def _client_base(host, port):
    """The URL the simulator's readers call: a wildcard bind is reached on loopback."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - compared, not bound
    return f"http://{f'[{reachable}]' if ':' in reachable else reachable}:{port}"


def serve_demo(app, database, logins, host, port, quiet_site=False, tick_seconds=None):
    """Sync, start the scheduler and the simulator, serve until Ctrl-C or SIGTERM; then stop them all."""
    app.config["ALX_SYNC_TICK_SECONDS"] = demo_tick_seconds(app, tick_seconds)
    click.echo("\n".join(logins.lines()))
    click.echo(sync_demo(app, database))
    server = make_server(host, port, app, threaded=True)
    base = _client_base(host, server.server_port)
    simulator = None
    if not quiet_site:
        refresh = PowerBiRefresh(base, timezone=app.config.get("ALX_TIMEZONE"))
        simulator = SiteSimulator(database, refresh=refresh).start()  # NotADemoSite: one line, nothing written
    ticking = scheduler_enabled(app)
    if ticking:
        app.extensions["alx_scheduler"].ensure_started(app)
    click.echo("\n".join(banner(base, logins, app.config["ALX_SYNC_TICK_SECONDS"], quiet_site, ticking)))
    # SIGTERM (a service manager, a test) stops as Ctrl-C does; shutdown() must come from another thread.
    previous = signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        if simulator is not None:
            simulator.stop()
            click.echo(simulator.stats.line())
        if ticking:
            app.extensions["alx_scheduler"].stop()
