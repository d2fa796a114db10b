"""The data pages: ``populate_reporting_table.php`` (full sync of chosen companies, clear a company's data)
and ``view_reporting_data.php`` (the reporting rows of a company, a page at a time).

Populating is the bridge's full sync, run as a background job: the plugin's populate kept one row
per user per batch (B6) and never revived deleted rows, and its batch size has no meaning for the
bridge's set-based writer, so the field is gone.
"""

from flask import abort, flash, request, url_for
from werkzeug.utils import redirect

from ..extensions import get_database
from ..jobs.background import JobSpec
from ..metrics.reporting_data import (
    PER_PAGE_CHOICES,
    STATUSES,
    active_rows_page,
    companies_with_data,
    company_data,
    per_page,
    reporting_status,
)
from ..sync.maintenance import clear_under_lock
from . import bp
from .layout import render_page, site_moment
from .sync_pages import chosen_company, company_names, finished_job, running_sync, start_job

NAMED_COMPANIES = 3  # a populate job's title names up to this many companies, else counts them


def _populate_page(database, errors=(), form=None, status=200):
    with database.connect() as connection:
        tables = database.tables
        context = {
            "summary": reporting_status(connection, tables),
            "companies": company_data(connection, tables),
            "running": running_sync(connection, database),
            "moment": site_moment(connection),
        }
        context["last_job"] = finished_job(
            connection, database, context["moment"].now, "admin.populate_reporting_table"
        )
    return render_page(
        "admin/populate_reporting_table.html", title="Populate Reporting Table",
        active="admin.populate_reporting_table", status=status, errors=errors, form=form or {}, **context,
    )  # fmt: skip


def _chosen_companies(form, names):
    """``None`` for all companies, else the ids ticked; ``ValueError`` when nothing valid is chosen (B14)."""
    if form.get("company_all") == "1":
        return None
    chosen = form.getlist("company_ids")
    if not chosen:
        raise ValueError("Choose the companies to populate, or tick \u201cAll companies\u201d.")
    return tuple(sorted({chosen_company(value, names, required=True) for value in chosen}))


def _populate(database):
    with database.connect() as connection:
        names = company_names(connection, database.tables)
    errors = []
    try:
        companyids = _chosen_companies(request.form, names)
    except ValueError as error:
        errors.append(str(error))
    if request.form.get("confirm") != "1":
        errors.append("Tick \u201cI understand\u201d to start the population.")
    if errors:
        form = {"action": "populate", "company_ids": request.form.getlist("company_ids"),
                "company_all": request.form.get("company_all")}  # fmt: skip
        return _populate_page(database, errors, form, status=400)
    if companyids is None:
        where = "all companies"
    elif len(companyids) <= NAMED_COMPANIES:
        where = ", ".join(names[companyid] for companyid in companyids)
    else:
        where = f"{len(companyids)} companies"
    spec = JobSpec("populate", f"Populate reporting table: full sync of {where}", full=True, companyids=companyids)
    return start_job(spec, "admin.populate_reporting_table")


def _clear(database):
    with database.connect() as connection:
        names = company_names(connection, database.tables)
    errors = []
    try:
        companyid = chosen_company(request.form.get("cleanup_companyid"), names, required=False)
    except ValueError as error:
        errors.append(str(error))
    if request.form.get("cleanup_confirm") != "1":
        errors.append("Tick \u201cI understand this will permanently delete the selected data\u201d to clear it.")
    if errors:
        form = {"cleanup_action": "clear", "cleanup_companyid": request.form.get("cleanup_companyid")}
        return _populate_page(database, errors, form, status=400)
    cleared = clear_under_lock(database, companyid)
    if cleared is None:
        flash("Nothing was cleared: a sync is running, and clearing now would race with it. Try again when it has "
              "finished.", "error")  # fmt: skip
    else:
        what = "all companies" if companyid is None else f"company {names[companyid]}"
        flash(
            f"Cleared {what}: {cleared.reporting} reporting row(s), {cleared.sync_status} sync status row(s) and "
            f"{cleared.cache} cache row(s) deleted. The next sync recomputes it in full, and API clients read it "
            "in full again.",
            "success",
        )
    return redirect(url_for("admin.populate_reporting_table"))


@bp.route("/populate_reporting_table.php", methods=["GET", "POST"])
def populate_reporting_table():
    database = get_database()
    if request.method == "GET":
        return _populate_page(database)
    if request.form.get("action") == "populate":
        return _populate(database)
    if request.form.get("cleanup_action") == "clear":
        return _clear(database)
    return _populate_page(database, ["Unknown action: use the Populate or the Clear form."], status=400)


@bp.route("/view_reporting_data.php")
def view_reporting_data():
    database = get_database()
    tables = database.tables
    companyid = request.args.get("companyid", 0, type=int)
    status = request.args.get("status", "")
    size = per_page(request.args.get("perpage"))
    with database.connect() as connection:
        moment = site_moment(connection)
        if not companyid:
            return render_page("admin/view_reporting_data.html", title="View Reporting Data",
                               active="admin.view_reporting_data", company=None,
                               companies=companies_with_data(connection, tables), moment=moment)  # fmt: skip
        found = company_data(connection, tables, companyid)
        if not found:
            abort(404, "Company not found.")
        if status not in STATUSES:
            status = ""
        page = active_rows_page(connection, tables, companyid, status, request.args.get("page", 1, type=int), size)
    return render_page(
        "admin/view_reporting_data.html", title=f"Reporting Data: {found[0].name}", active="admin.view_reporting_data",
        company=found[0], page=page, chosen_status=status, per_page=size,
        # Only statuses the company has: "not enrolled" is in rows the PHP plugin wrote, never in the bridge's.
        statuses=[value for value in STATUSES if value == status or getattr(found[0], value)],
        per_page_choices=PER_PAGE_CHOICES, moment=moment,
    )  # fmt: skip


@bp.route("/verify_reporting_data.php")
def verify_reporting_data():
    """The archived integrity check: its company counts and sample rows are the data view's, per company."""
    return redirect(url_for("admin.view_reporting_data", companyid=request.args.get("companyid", type=int)))
