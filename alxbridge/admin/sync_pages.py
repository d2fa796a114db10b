"""The sync pages: ``sync_reporting_data.php``, ``manual_sync_trigger.php``, ``auto_sync_status.php``, and the
status of a sync job started from them (``sync_job.php``, polled as ``sync_job.json``).

Every action starts a background job (:mod:`alxbridge.jobs.background`) and redirects to its status page;
none waits for the sync. The plugin's ``hours_back`` is gone: the bridge's incremental sync already
reads every change since each company's last successful sync.
"""

from flask import abort, current_app, flash, jsonify, request, url_for
from werkzeug.utils import redirect

from ..extensions import get_database
from ..jobs.background import JobSpec, latest_job, read_job, start_sync_job, sync_lock_held
from ..jobs.scheduler import scheduler_enabled
from ..metrics.freshness import read_freshness
from ..metrics.limits import all_companies
from ..metrics.reporting_data import company_data, orphaned_rows, reporting_status
from ..metrics.sync import (
    api_configured_companies,
    average_run_seconds,
    last_sync_stats,
    recent_runs,
    running_run,
    scheduler_health,
    sync_run,
    trend_summary,
)
from ..metrics.sync_activity import company_syncs, sync_days
from ..metrics.sync_intelligence import data_efficiency, sync_mode_distribution
from ..sync.maintenance import request_membership_recheck
from . import bp
from .layout import monitoring_reads, render_page, site_moment

# Where each kind of job was started, for the status page's way back.
JOB_PAGES = {
    "populate": "admin.populate_reporting_table",
    "sync_changes": "admin.sync_reporting_data",
    "sync_full": "admin.sync_reporting_data",
    "cleanup": "admin.sync_reporting_data",
    "trigger": "admin.auto_sync_status",
}
SYNC_ACTIONS = ("sync_changes", "sync_full", "cleanup")


def company_names(connection, tables):
    """``{companyid: name}`` of every IOMAD company."""
    return {company.id: company.name for company in all_companies(connection, tables)}


def chosen_company(value, companies, *, required):
    """The company id a form field names: ``None`` for "all" (0 or empty, unless ``required``), else an id.

    Raises ``ValueError`` with the message for the admin when the choice is missing or unknown.
    """
    text = (value or "").strip()
    if text in ("", "0"):
        if required:
            raise ValueError("Choose a company.")
        return None
    if not text.isdigit() or int(text) not in companies:
        raise ValueError("The chosen company does not exist (any more). Reload the page and choose again.")
    return int(text)


def running_sync(connection, database):
    """What the pages say about a sync in progress: the latest admin job if it runs, else the running run.

    A run whose process died stays marked running until the next run: only a held lock counts.
    """
    now = database.now()
    job = latest_job(connection, database, now)
    if job is not None and job.running:
        return {"job": job, "run": None}
    run = running_run(connection, database.tables)
    if run is not None and sync_lock_held(connection, database, now):
        return {"job": None, "run": run}
    return None


def finished_job(connection, database, now, page):
    """The latest admin job if it has finished and was started from ``page`` (an endpoint of
    :data:`JOB_PAGES`), for the page's link to its results; else ``None``."""
    job = latest_job(connection, database, now)
    if job is None or job.running or JOB_PAGES.get(job.kind) != page:
        return None
    return job


def start_job(spec, back):
    """Start ``spec`` in the background: redirect to its status page, or back with the reason it did not start."""
    database = get_database()
    started = start_sync_job(database, spec)
    if started.refused:
        flash(started.refused, "error")
        return redirect(url_for(back))
    return redirect(url_for("admin.sync_job", job=started.token))


def _sync_spec(action, companyid, name):
    where = "all companies" if companyid is None else f"company {name}"
    only = None if companyid is None else (companyid,)
    if action == "sync_changes":
        return JobSpec("sync_changes", f"Sync recent changes of {where}", full=False, companyids=only)
    if action == "sync_full":
        return JobSpec("sync_full", f"Full sync of {where}", full=True, companyids=only)

    def recheck(connection, tables, now):
        request_membership_recheck(connection, tables, companyid, now)

    return JobSpec("cleanup", f"Cleanup of orphaned records of {where}", full=False, companyids=only, prepare=recheck)


def _sync_form(database, errors=(), form=None, status=200):
    with database.connect() as connection:
        tables = database.tables
        moment = site_moment(connection)
        context = {
            "summary": reporting_status(connection, tables),
            "companies": company_data(connection, tables),
            "orphans": orphaned_rows(connection, tables),
            "running": running_sync(connection, database),
            "last_job": finished_job(connection, database, moment.now, "admin.sync_reporting_data"),
            "freshness": read_freshness(
                connection, tables, moment.now, current_app.config.get("ALX_SYNC_TICK_SECONDS") or 0
            ),
        }
    return render_page(
        "admin/sync_reporting_data.html", title="Manual Data Sync", active="admin.sync_reporting_data",
        status=status, moment=moment, errors=errors, form=form or {}, **context,
    )  # fmt: skip


@bp.route("/sync_reporting_data.php", methods=["GET", "POST"])
def sync_reporting_data():
    database = get_database()
    if request.method == "GET":
        return _sync_form(database)
    action = request.form.get("action", "")
    if action not in SYNC_ACTIONS:
        return _sync_form(database, ["Unknown action: choose one of the three forms below."], status=400)
    with database.connect() as connection:
        names = company_names(connection, database.tables)
    errors = []
    try:
        companyid = chosen_company(request.form.get("companyid"), names, required=action == "sync_full")
    except ValueError as error:
        errors.append(str(error))
        companyid = None
    if request.form.get("confirm") != "1":
        errors.append("Tick the confirmation box of the form to go ahead.")
    if errors:
        return _sync_form(database, errors, form={"action": action, **request.form}, status=400)
    return start_job(_sync_spec(action, companyid, names.get(companyid)), "admin.sync_reporting_data")


@bp.route("/manual_sync_trigger.php", methods=["POST"])
def manual_sync_trigger():
    """The hourly sync, now: an incremental run over every company, as the scheduler starts it."""
    spec = JobSpec("trigger", "Manual sync trigger: the hourly sync of all companies", full=False)
    return start_job(spec, "admin.auto_sync_status")


QUICK_LINKS = (
    ("admin.sync_reporting_data", "Manual data sync"),
    ("admin.company_settings", "Company settings"),
    ("admin.monitoring_dashboard_new", "Monitoring dashboard"),
    ("admin.advanced_monitoring", "API performance & security"),
)


@bp.route("/auto_sync_status.php")
def auto_sync_status():
    database = get_database()
    with monitoring_reads() as (connection, tables, moment, _, limits):
        scheduler = scheduler_health(connection, tables, moment.now, moment.timezone)
        days = sync_days(connection, tables, moment)
        week_start = moment.day_buckets(len(days))[0][0]
        context = {
            "stats": last_sync_stats(connection, tables),
            "scheduler": scheduler,
            "sync_health": scheduler.job("sync"),
            "days": days,
            "trend": trend_summary(days),
            "average_seconds": average_run_seconds(connection, tables, week_start, moment.now),
            "modes": sync_mode_distribution(connection, tables, all_companies(connection, tables)),
            "efficiency": data_efficiency(connection, tables, limits, week_start, moment.now),
            "companies": company_syncs(connection, tables, moment),
            "breakdown": {c.companyid: c for c in company_data(connection, tables)},
            "configured": api_configured_companies(connection, tables),
            "runs": recent_runs(connection, tables),
            "names": company_names(connection, tables),
            "running": running_sync(connection, database),
            "freshness": read_freshness(
                connection, tables, moment.now, current_app.config.get("ALX_SYNC_TICK_SECONDS") or 0
            ),
        }
    links = [(endpoint, label) for endpoint, label in QUICK_LINKS if endpoint in current_app.view_functions]
    return render_page(
        "admin/auto_sync_status.html", title="Auto-Sync Intelligence", active="admin.auto_sync_status",
        moment=moment, scheduler_here=scheduler_enabled(current_app), links=links,
        **context,
    )  # fmt: skip


def _requested_job(connection, database, now):
    """The job ``?job=`` names (404 when a later job replaced it), or the latest admin job without ``?job=``."""
    token = request.args.get("job")
    if token is None:
        return latest_job(connection, database, now)
    job = read_job(connection, database, token, now)
    if job is None:
        abort(404, "This sync job is not known, or a later job has replaced its details; its runs are in the "
                   "run history of the Auto-Sync page.")  # fmt: skip
    return job


@bp.route("/sync_job.json")
def sync_job_json():
    database = get_database()
    with database.connect() as connection:
        job = _requested_job(connection, database, database.now())
    return jsonify(job.as_data() if job is not None else {"status": "none", "running": False})


@bp.route("/sync_job.php")
def sync_job():
    """A job's progress and outcome (``?job=``, else the latest job), or one run of the history (``?run=``)."""
    database = get_database()
    tables = database.tables
    with database.connect() as connection:
        moment = site_moment(connection)
        names = company_names(connection, tables)
        if "run" in request.args:
            runid = request.args.get("run", type=int)
            run = sync_run(connection, tables, runid) if runid else None
            if run is None:
                abort(404, "There is no sync run with this id (old runs are deleted after the log retention period).")
            return render_page("admin/sync_run.html", title=f"Sync run {run.id}", active="admin.auto_sync_status",
                               run=run, names=names, moment=moment)  # fmt: skip
        job = _requested_job(connection, database, moment.now)
    back = JOB_PAGES.get(job.kind, "admin.auto_sync_status") if job else "admin.auto_sync_status"
    return render_page(
        "admin/sync_job.html", title=job.title if job else "Sync job", active=back, job=job, names=names,
        moment=moment, back=back,
    )  # fmt: skip
