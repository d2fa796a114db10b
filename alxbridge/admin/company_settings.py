"""``company_settings.php``: one company's API settings (fields, courses, sync, cache, daily limit).

The Control Center's Company Management tab shows the same panel (:func:`company_panel`) and saves
through :func:`save_company_form`; the form's rules are in :mod:`alxbridge.admin.settings_forms.company`.
"""

from dataclasses import dataclass
from typing import ClassVar

from flask import abort, flash, redirect, request, url_for

from ..extensions import get_database
from ..metrics.api_usage import CompanyUsage, company_usage, user_usage_today
from ..metrics.client_kinds import CLIENT_DAYS, CompanyClients, clients_by_company
from ..metrics.company_usage import course_learners
from ..metrics.limits import DailyLimits, all_companies
from ..metrics.overview import active_reporting_rows
from ..moodle.plugin_settings import read_company_settings, read_plugin_config, read_plugin_settings
from ..reporting.company import Company
from ..reporting.sessions import SYNC_MODE_INCREMENTAL
from . import bp
from .layout import render_page, site_moment
from .settings_forms.company import (
    CACHE_TTL,
    FIELD_LABELS,
    FIRST_SYNC,
    RATE_LIMIT,
    SYNC_MODE_LABELS,
    SYNC_WINDOW,
    CompanyCourse,
    company_courses,
    form_state,
    parse_company_form,
    save_company_settings,
    template_update,
)
from .settings_forms.values import FormState

ACTIONS = ("save", "copy_template")


@dataclass(frozen=True)
class CompanyPanel:
    """Everything the company form partial shows; ``company`` is ``None`` until one is picked."""

    companies: list
    company: Company | None = None
    courses: tuple[CompanyCourse, ...] = ()
    learners: dict | None = None
    state: FormState | None = None
    reporting_rows: int = 0
    usage: CompanyUsage | None = None
    global_limit: int | None = None
    clients: CompanyClients | None = None  # calls of the last CLIENT_DAYS days by kind of client
    # "Always incremental" while Power Query reads the company: its reports would show only the changed rows.
    power_query_reads_increments: bool = False
    errors: tuple[str, ...] = ()
    missing_id: int | None = None  # a company id was asked for that no company has
    client_days: ClassVar[int] = CLIENT_DAYS
    field_labels: ClassVar[dict] = FIELD_LABELS
    sync_modes: ClassVar[dict] = SYNC_MODE_LABELS
    numbers: ClassVar[dict] = {
        "sync_window": SYNC_WINDOW,
        "first_sync": FIRST_SYNC,
        "cache_ttl": CACHE_TTL,
        "rate_limit": RATE_LIMIT,
    }


def company_panel(connection, tables, companyid, moment, form=None, errors=()):
    """The panel for ``companyid`` (none picked when 0 or unknown); ``form``: a refused submission to show again."""
    companies = all_companies(connection, tables)
    company = next((company for company in companies if company.id == companyid), None)
    if company is None:
        return CompanyPanel(companies, missing_id=companyid if companyid else None)
    settings = read_company_settings(connection, tables, company.id)
    plugin = read_plugin_settings(connection, tables)
    courses = company_courses(connection, tables, company.id)
    limits = DailyLimits(connection, tables, plugin)
    [usage] = company_usage([company], limits, user_usage_today(connection, tables, limits, moment))
    clients = clients_by_company(connection, tables, limits, moment.now).get(company.id, CompanyClients(company, {}))
    return CompanyPanel(
        companies, company, tuple(courses),
        learners=course_learners(connection, tables, company.id, [course.id for course in courses], moment.now),
        state=form_state(settings, courses, form), reporting_rows=active_reporting_rows(connection, tables, company.id),
        usage=usage, global_limit=plugin.rate_limit, clients=clients,
        power_query_reads_increments=settings.sync_mode == SYNC_MODE_INCREMENTAL and clients.power_query_calls > 0,
        errors=tuple(errors),
    )  # fmt: skip


def changes_message(subject, changes):
    if not changes:
        return f"{subject}: nothing changed."
    listed = "; ".join(map(str, changes))
    return f"{subject}: {len(changes)} change{'s' if len(changes) != 1 else ''} saved. {listed}."


def save_company_form(form, companyid, action):
    """Save (``save``) or copy the global template (``copy_template``) in one transaction and flash what changed.

    Returns the validation errors; when there are any nothing was written.
    """
    database = get_database()
    with database.begin() as connection:
        company = next((c for c in all_companies(connection, database.tables) if c.id == companyid), None)
        if company is None:
            abort(404, f"There is no company with id {companyid}.")
        settings = read_company_settings(connection, database.tables, company.id)
        courses = company_courses(connection, database.tables, company.id)
        if action == "copy_template":
            update, errors = template_update(settings, courses, read_plugin_config(connection, database.tables)), []
        else:
            update, errors = parse_company_form(form, settings, courses)
        if errors:
            return errors
        save_company_settings(connection, database.tables, company.id, update, database.now())
    copied = action == "copy_template"
    subject = f"Global template copied to {company.name}" if copied else f"Settings of {company.name}"
    flash(changes_message(subject, update.changes), "success")
    return []


def _page(companyid, form=None, errors=(), status=200):
    database = get_database()
    with database.connect() as connection:
        panel = company_panel(connection, database.tables, companyid, site_moment(connection), form, errors)
    if panel.missing_id is not None:
        status = 404
    return render_page(
        "admin/company_settings.html", title="Company Settings", active="admin.company_settings", panel=panel,
        status=status,
    )  # fmt: skip


@bp.route("/company_settings.php", methods=["GET", "POST"])
def company_settings():
    if request.method == "GET":
        return _page(request.args.get("companyid", 0, type=int))
    companyid = request.form.get("companyid", 0, type=int)
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400, f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}.")
    form = request.form.to_dict(flat=False)
    errors = save_company_form(form, companyid, action)
    if errors:
        return _page(companyid, form, errors, status=400)
    return redirect(url_for("admin.company_settings", companyid=companyid))
