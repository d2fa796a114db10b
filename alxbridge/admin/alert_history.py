"""``alert_history.php``: every stored alert, filtered and paged, and acknowledging or resolving one.

The plugin linked an "Alert History" it never built. Filters are query arguments (a filtered view
is a link to keep); an unknown filter value falls back to "any" with a message rather than an
error page. Acknowledge and resolve are POSTs with the CSRF token, and redirect back to the same
filtered page (rebuilt from the validated filters, never from a URL the request supplies).
"""

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for

from ..alerts.handling import ACTIONS, handle_alert
from ..extensions import get_database
from ..metrics.alert_history import PERIODS, STATUSES, AlertFilters, alert_history, alert_types, pending_alerts
from ..moodle.plugin_settings import SEVERITIES
from . import bp
from .layout import render_page, site_moment


def _filters(args, known_types):
    """The :class:`AlertFilters` of ``args``, and a message for each value that was not understood."""
    chosen, problems = {}, []
    for name, choices, label in (
        ("alert_type", known_types, "alert type"),
        ("severity", SEVERITIES, "severity"),
        ("status", STATUSES, "status"),
        ("period", tuple(PERIODS), "period"),
    ):
        value = args.get(name, "").strip()
        if value and value not in choices:
            problems.append(f"Unknown {label} {value!r}: showing every {label} instead.")
            value = ""
        if value:
            chosen[name] = value
    if "period" not in chosen:
        chosen["period"] = "all" if "period" in args else AlertFilters.period
    return AlertFilters(**chosen), problems


def _names(connection, tables, ids):
    user = tables.user
    ids = {userid for userid in ids if userid}
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(user.c.id, user.c.firstname, user.c.lastname, user.c.username).where(user.c.id.in_(ids))
    )
    return {userid: f"{first} {last}".strip() or username for userid, first, last, username in rows}


@bp.route("/alert_history.php", methods=["GET", "POST"])
def alert_history_page():
    database = get_database()
    tables = database.tables
    if request.method == "POST":
        action, alertid = request.form.get("action"), request.form.get("alertid", type=int)
        with database.connect() as connection:
            filters, _ = _filters(request.form, alert_types(connection, tables))
        if action not in ACTIONS or not alertid:
            flash("Unknown action: expected acknowledge or resolve and an alert id. Nothing was changed.", "error")
        else:
            with database.begin() as connection:
                outcome = handle_alert(connection, tables, alertid, action, g.admin.id, database.now())
            flash(outcome.message, "success" if outcome.done else "warning")
        return redirect(url_for("admin.alert_history_page", page=request.form.get("page", 1, type=int),
                                **filters.as_args()))  # fmt: skip
    with database.connect() as connection:
        moment = site_moment(connection)
        types = alert_types(connection, tables)
        filters, problems = _filters(request.args, types)
        page = alert_history(connection, tables, filters, moment.now, max(1, request.args.get("page", 1, type=int)))
        names = _names(connection, tables, [id for row in page.rows for id in (row.acknowledgedby, row.resolvedby)])
        pending = pending_alerts(connection, tables)
    for problem in problems:
        flash(problem, "warning")
    return render_page(
        "admin/alert_history.html", title="Alert History", active="admin.alert_history_page", moment=moment,
        filters=filters, page=page, names=names, pending=pending, types=types, severities=SEVERITIES,
        statuses=STATUSES, periods=PERIODS,
    )  # fmt: skip
