"""The repair tools: ``fix_missing_tables.php`` and ``fix_webservice_access.php``.

Both pages only look on GET; every change is a CSRF-protected POST of what the admin chose (the
archived PHP tools changed things on unprotected POSTs and GET links, S3/S4). The archived
``fix_service.php`` and ``service_verification.php`` did the web service part again, each a little
differently; they now lead to ``fix_webservice_access.php``.
"""

from flask import flash, request, url_for
from werkzeug.utils import redirect

from ..extensions import get_database
from ..moodle.webservice_setup import FixError, apply_fixes, check_token, diagnose
from ..schema.repair import repair_tables
from ..schema.status import table_statuses
from . import bp
from .layout import render_page, site_moment


@bp.route("/fix_missing_tables.php", methods=["GET", "POST"])
def fix_missing_tables():
    database = get_database()
    if request.method == "POST":
        if request.form.get("create_tables") != "1":
            flash("Unknown action: nothing was changed.", "error")
            return redirect(url_for("admin.fix_missing_tables"))
        with database.connect() as connection:
            findings = repair_tables(connection, database.schema.owned, apply=True)
        for finding in findings:
            flash(str(finding), "success" if finding.repaired else "warning")
        changed = sum(1 for finding in findings if finding.repaired)
        left = len(findings) - changed
        summary = f"{len(database.schema.owned)} tables checked: {changed} change(s) made, {left} difference(s) left"
        flash(summary + ("" if left else ", all tables match install.xml") + ".", "warning" if left else "success")
        return redirect(url_for("admin.fix_missing_tables"))
    with database.connect() as connection:
        statuses = table_statuses(connection, database)
        webservice = diagnose(connection, database.tables, database.now())
    return render_page(
        "admin/fix_missing_tables.html", title="Fix Missing Tables", active="admin.fix_missing_tables",
        statuses=statuses, webservice=webservice, repairable=any(status.repairable for status in statuses),
    )  # fmt: skip


def _webservice_page(token_check=None):
    database = get_database()
    with database.connect() as connection:
        diagnosis = diagnose(connection, database.tables, database.now())
    return render_page(
        "admin/fix_webservice_access.html", title="Fix Web Service Access", active="admin.fix_webservice_access",
        diagnosis=diagnosis, token_check=token_check,
    )  # fmt: skip


@bp.route("/fix_webservice_access.php", methods=["GET", "POST"])
def fix_webservice_access():
    if request.method == "GET":
        return _webservice_page()
    database = get_database()
    if request.form.get("check_token") == "1":
        # Read-only, so the result is shown directly: a redirect would have to carry the token.
        with database.connect() as connection:
            result = check_token(
                connection, database.tables, request.form.get("token"), site_moment(connection).timezone, database.now()
            )
        return _webservice_page(token_check=result)
    if request.form.get("fix_issues") != "1":
        flash("Unknown action: nothing was changed.", "error")
        return redirect(url_for("admin.fix_webservice_access"))
    try:
        with database.begin() as connection:
            done, already = apply_fixes(connection, database.tables, request.form.getlist("fix"), database.now())
    except FixError as error:
        flash(f"{error} Nothing was changed.", "error")
        return redirect(url_for("admin.fix_webservice_access"))
    for fix in done:
        flash(f"Fixed: {fix}.", "success")
    for fix in already:
        flash(f"Not needed any more: {fix}.", "message")
    if done:
        flash("Moodle's own pages see these changes after a cache purge (Site administration > Development > "
              "Purge caches); the bridge sees them at once.", "message")  # fmt: skip
    return redirect(url_for("admin.fix_webservice_access"))


@bp.route("/fix_service.php")
@bp.route("/service_verification.php")
def retired_service_tools():
    return redirect(url_for("admin.fix_webservice_access"))
