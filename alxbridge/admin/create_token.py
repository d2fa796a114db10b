"""``create_token.php``: issue a reporting token to one of a company's users (the plugin's docs promised it),
and revoke one.

The new token is rendered once, in the answer to the POST that created it: it is never put in a
redirect, the session or a log; afterwards the list shows its first 8 characters only. Revoking
asks first, like Moodle's "Manage tokens" page: ``?revoke=<id>`` shows the confirmation, whose
POST deletes the token.
"""

import logging

from flask import flash, g, redirect, request, url_for

from ..extensions import get_database
from ..metrics.limits import all_companies
from ..metrics.tokens import service_tokens
from ..moodle.tokens import TokenError, report_service
from ..moodle.tokens import create_token as issue_token
from . import bp
from .layout import render_page, site_moment
from .token_issuing import company_members, parse_token_request, revoke_token, token_companies, token_problem

log = logging.getLogger(__name__)


def _page(companyid, *, form=None, errors=(), issued=None, revoking=None, status=200):
    """The page; ``issued`` is ``(token, request)`` right after a token was created; ``revoking`` the id of the
    token whose revocation is to be confirmed."""
    database = get_database()
    with database.connect() as connection:
        moment = site_moment(connection)
        companies = all_companies(connection, database.tables)
        company = next((c for c in companies if c.id == companyid), None)
        members = company_members(connection, database.tables, company.id) if company else []
        try:
            service, service_problem = report_service(connection, database.tables), None
        except TokenError as error:
            service, service_problem = None, str(error)
        tokens = service_tokens(connection, database.tables, moment.now)
        owners = token_companies(connection, database.tables, tokens)
    problems = {token.id: token_problem(token, owners[token.userid]) for token in tokens}
    confirming = next((token for token in tokens if token.id == revoking), None)
    revoke_gone = revoking is not None and confirming is None
    return render_page(
        "admin/create_token.html", title="Create API Token", active="admin.create_token", companies=companies,
        company=company, members=members, service=service, service_problem=service_problem, tokens=tokens,
        owners=owners, problems=problems, form=form or {}, errors=errors, issued=issued, confirming=confirming,
        revoke_gone=revoke_gone, timezone=moment.timezone, status=404 if revoke_gone else status,
    )  # fmt: skip


@bp.route("/create_token.php", methods=["GET", "POST"])
def create_token():
    if request.method == "GET":
        return _page(request.args.get("companyid", 0, type=int), revoking=request.args.get("revoke", type=int))
    companyid = request.form.get("companyid", 0, type=int)
    if request.form.get("action") == "revoke":
        return _revoke(companyid, request.form.get("tokenid", type=int))
    form = request.form.to_dict(flat=False)
    database = get_database()
    with database.begin() as connection:
        moment = site_moment(connection)
        members = company_members(connection, database.tables, companyid)
        token_request, errors = parse_token_request(form, members, moment.timezone, moment.now)
        token = None
        if token_request is not None:
            try:
                token = issue_token(
                    connection, database.tables, token_request.owner.username, valid_until=token_request.valid_until,
                    ip_restriction=token_request.ip_restriction, now=moment.now,
                )  # fmt: skip
            except TokenError as error:
                errors = [str(error)]
    if token is None:
        return _page(companyid, form=request.form, errors=errors, status=400)
    return _page(companyid, issued=(token, token_request))


def _revoke(companyid, tokenid):
    """Delete the token (POST/redirect/GET); the flash names it by its first characters and owner only."""
    database = get_database()
    with database.begin() as connection:
        revoked = revoke_token(connection, database.tables, tokenid, database.now()) if tokenid else None
    if revoked is None:
        flash("No token was revoked: it does not exist any more (revoked already, or expired).", "error")
    else:
        log.info("admin %s (id %s) revoked token id %s of user id %s", g.admin.username, g.admin.id, tokenid,
                 revoked.userid)  # fmt: skip
        flash(f"Token {revoked.masked} of {revoked.name} revoked: calls with it are refused from now on.", "success")
    return redirect(url_for("admin.create_token", companyid=companyid or None))
