"""``flask --app wsgi alx …``: the operator's commands.

Every command turns a :class:`~alxbridge.operations.errors.BridgeError` into a one-line ``Error: …`` and a
non-zero exit code, so a cron wrapper can trust the exit status and nobody reads a traceback.
"""

import functools
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from .extensions import get_database
from .operations.errors import BridgeError
from .schema.repair import repair_tables


class CouldNotRun(click.ClickException):
    """Exit 2: the command could not run at all (configuration, database, tables), as opposed to 1 for a result."""

    exit_code = 2


def operator_command(function, failure=click.ClickException):
    """Run ``function`` in the app context with bridge errors shown as one line (exit code of ``failure``)."""

    @functools.wraps(function)
    @with_appcontext
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BridgeError as error:
            raise failure(str(error)) from None

    return wrapper


def could_not_run_is_2(function):
    """:func:`operator_command` for commands whose exit 1 means a result (differences left, part failed)."""
    return operator_command(function, failure=CouldNotRun)


@click.group(help="ALX Bridge commands.")
def alx():
    pass


@alx.command("repair-tables")
@click.option("--check", is_flag=True, help="Only report; change nothing.")
@could_not_run_is_2
def repair_tables_command(check):
    """Create the plugin's and the bridge's missing tables, columns and indexes; report differences.

    Exit 0 when every table matches, 1 when differences are left (--check, or a type change to make by hand),
    2 when it could not run (configuration, database, not a Moodle site).
    """
    database = get_database()
    with database.connect() as connection:
        database.require_moodle_site(connection)
        findings = repair_tables(connection, database.schema.owned, apply=not check)
    for finding in findings:
        click.echo(("fixed   " if finding.repaired else "differs ") + str(finding))
    left = [f for f in findings if not f.repaired]
    fixed = len(findings) - len(left)
    click.echo(
        f"{len(database.schema.owned)} tables checked: {fixed} change(s) made, "
        f"{len(left)} difference(s) left" + ("" if left else ", all tables match install.xml")
    )
    if left:
        raise SystemExit(1)


@alx.command("create-token")
@click.option("--user", "username", required=True, help="Moodle username of the token's owner.")
@click.option("--service", "service_shortname", help="Service shortname.  [default: alx_report_api_custom]")
@click.option("--valid-until", type=int, default=0, show_default=True, help="Unix time it expires; 0 never.")
@click.option("--ip-restriction", help="Moodle IP list, e.g. 10.0.0.0/8,192.168.1.")
@operator_command
def create_token_command(username, service_shortname, valid_until, ip_restriction):
    """Issue a permanent web service token for a Moodle user (as Moodle's Manage tokens page does)."""
    from .moodle.tokens import create_token

    database = get_database()
    with database.begin() as connection:
        database.require_moodle_site(connection)
        token = create_token(
            connection, database.tables, username, service_shortname=service_shortname,
            valid_until=valid_until, ip_restriction=ip_restriction, now=database.now(),
        )  # fmt: skip
    click.echo(token)


@alx.command("demo")
@click.option("--companies", default=3, show_default=True, help="IOMAD companies.")
@click.option("--users", default=200, show_default=True, help="People besides the guest and admin accounts.")
@click.option("--courses", default=12, show_default=True, help="Courses besides the site course.")
@click.option("--seed", default=42, show_default=True, help="Same seed and --now, same site.")
@click.option("--now", type=int, help="Unix time the data is relative to.  [default: today 00:00 UTC]")
@click.option("--if-missing", is_flag=True, help="Keep an existing demo site; just print its logins.")
@click.option("--replace", is_flag=True, help="Drop an existing demo site and build it again.")
@operator_command
def demo_command(companies, users, courses, seed, now, if_missing, replace):
    """Build a demo Moodle/IOMAD site in the configured database (never in a real site's)."""
    if if_missing and replace:
        raise click.UsageError("--if-missing and --replace exclude each other")
    logins = _demo_site(
        if_missing=if_missing, companies=companies, users=users, courses=courses, seed=seed, now=now, replace=replace
    )
    click.echo("\n".join(logins.lines()))


def _demo_site(if_missing, **build):
    """The logins of the configured database's demo site: kept with ``if_missing``, else built (``build``)."""
    from .demo import build_demo_site, demo_site_present, read_demo_logins
    from .demo.credentials import credentials_key

    database = get_database()
    key = credentials_key(current_app.secret_key)  # this install's: the source alone opens no demo
    if if_missing and demo_site_present(database):
        return read_demo_logins(database, key)
    return build_demo_site(database, credentials_key=key, **build)


@alx.command("demo-serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--quiet-site", is_flag=True, help="No simulated learners: the site changes only when you change it.")
@click.option("--tick-seconds", type=click.IntRange(min=1), help="Sync tick interval.  [default: ALX_SYNC_TICK_SECONDS "
              "when set, else 10]")  # fmt: skip
@operator_command
def demo_serve_command(host, port, quiet_site, tick_seconds):
    """Build the demo site if missing, sync it, and serve it with learners at work (what ./run demo runs)."""
    from .demo.server import serve_demo

    logins = _demo_site(if_missing=True)
    app = current_app._get_current_object()
    serve_demo(app, get_database(), logins, host, port, quiet_site=quiet_site, tick_seconds=tick_seconds)


# Jobs: sync, check-alerts, cleanup, scheduler. Exit codes a cron wrapper can trust:
# 0 done (or skipped because another process holds the job's lock: it is doing the work),
# 1 done but part of it failed (a company, an e-mail), 2 could not run (configuration, database, tables).
EXIT_PARTLY_FAILED = 1


def _require_tables():
    """The Moodle site and the bridge's tables, or exit 2 saying what is missing."""
    from .jobs.runner import require_owned_tables

    try:
        require_owned_tables(get_database())
    except BridgeError as error:
        raise CouldNotRun(str(error)) from None


def _run_exclusive(job, label, body):
    """Run ``body(lock)`` under the job lock; ``None`` (after saying so) when another process holds it."""
    from .jobs.runner import run_job

    try:
        outcome = run_job(get_database(), job, body)
    except BridgeError as error:
        raise CouldNotRun(str(error)) from None
    except sa.exc.DBAPIError as error:  # e.g. the server went away mid-run; committed companies stay committed
        reason = " ".join(str(error.orig).split())[:300]
        raise CouldNotRun(f"the database failed during the {label}: {reason}") from None
    if not outcome.ran:
        click.echo(f"skipped: another {label} holds the lock")
        return None
    return outcome


class _Progress:
    """A progress bar on a terminal, one plain line per step otherwise (cron, logs, pipes)."""

    def __init__(self, label):
        self.label = label
        self.bar = None
        self.interactive = sys.stdout.isatty()

    def step(self, line, done, total):
        if not self.interactive:
            click.echo(line)
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, show_pos=True)
            self.bar.__enter__()
        self.bar.update(1)
        if done == total:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _company_line(company):
    if company.error:
        return f"company {company.companyid}: FAILED ({company.reason}): {company.error}"
    counts = company.counts
    return (
        f"company {company.companyid}: {company.reason}: {counts.created} created, {counts.updated} updated, "
        f"{counts.deleted} deleted in {company.seconds:.2f} s"
    )


@alx.command("sync")
@click.option("--company", "companyid", type=int, help="Only this company id.")
@click.option("--full", is_flag=True, help="Recompute every row (the plugin's populate), not only changes.")
@operator_command
def sync_command(companyid, full):
    """Bring the reporting table up to date with Moodle (hourly by the scheduler)."""
    from .jobs.scheduler import sync_job

    database = get_database()
    _require_tables()
    if companyid is not None:
        with database.connect() as connection:
            company = database.tables.company
            if connection.execute(sa.select(company.c.id).where(company.c.id == companyid)).first() is None:
                raise CouldNotRun(f"there is no company with id {companyid}")
    progress = _Progress("Syncing companies")
    outcome = _run_exclusive(
        "sync",
        "sync",
        lambda lock: sync_job(
            current_app,
            lock,
            full=full,
            companyid=companyid,
            on_company=lambda company, done, total: progress.step(_company_line(company), done, total),
        ),
    )
    progress.close()
    if outcome is not None:
        click.echo(f"sync {outcome.status}: {outcome.message}")
        if outcome.status != "success":
            raise SystemExit(EXIT_PARTLY_FAILED)


@alx.command("tick")
@operator_command
def tick_command():
    """Apply the changes Moodle's standard log received since the last tick (every ALX_SYNC_TICK_SECONDS)."""
    from .sync.tick import run_tick

    _require_tables()
    result = run_tick(get_database())
    click.echo(f"tick: {result.summary()}")


@alx.command("check-alerts")
@operator_command
def check_alerts_command():
    """Run the alert check now (every 15 minutes by the scheduler)."""
    from .jobs.scheduler import alert_job

    _require_tables()
    outcome = _run_exclusive("alerts", "alert check", lambda lock: alert_job(current_app, lock))
    if outcome is None:
        return
    for alert_id, condition in outcome.result.raised:
        click.echo(f"alert {alert_id}: {condition.severity} {condition.alert_type}: {condition.message}")
    click.echo(f"check-alerts: {outcome.message}")
    if outcome.status != "success":
        raise SystemExit(EXIT_PARTLY_FAILED)


@alx.command("cleanup")
@operator_command
def cleanup_command():
    """Delete old logs, alerts, run records, expired cache rows and old tombstones (daily by the scheduler)."""
    from .jobs.scheduler import retention_job

    _require_tables()
    progress = _Progress("Cleaning up")
    outcome = _run_exclusive(
        "retention",
        "cleanup",
        lambda lock: retention_job(
            current_app,
            lock,
            on_purge=lambda name, deleted, done, total: progress.step(f"{name}: {deleted} deleted", done, total),
        ),
    )
    progress.close()
    if outcome is not None:
        click.echo(f"cleanup: {outcome.message}")


@alx.command("scheduler")
@operator_command
def scheduler_command():
    """Run the scheduler in the foreground (for a dedicated process; set ALX_SCHEDULER=off on web workers)."""
    import logging
    import signal
    import threading

    from .jobs.scheduler import JOBS, build_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # SIGINT and SIGTERM only set an event: an interrupt raised inside APScheduler's start() could leave
    # one of its locks held and the process hanging instead of stopping.
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    scheduler = build_scheduler(current_app._get_current_object())
    scheduler.start()
    try:
        jobs = [f"{job.name} {job.cron}" for job in JOBS]
        if current_app.config.get("ALX_SYNC_TICK_SECONDS"):
            jobs.append(f"tick every {current_app.config['ALX_SYNC_TICK_SECONDS']} s")
        click.echo("scheduler running: " + ", ".join(jobs) + " (Ctrl-C stops)")
        stop.wait()
    finally:
        scheduler.shutdown(wait=False)


def main():
    """``alxbridge <command>``: the same commands as ``flask --app wsgi alx <command>`` (the console script)."""
    from . import create_app  # not at the top: create_app imports this module

    FlaskGroup(create_app=create_app).main(args=["alx", *sys.argv[1:]], prog_name="alxbridge")
