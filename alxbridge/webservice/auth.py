"""Token authentication in the order of Moodle's REST server (``moodle-rest-contract.md`` §2.2).

Every check that fails raises the exception Moodle raises at that point, so a client sees the
same error for the same broken token. Two writes happen here, as in Moodle: an expired token is
deleted, and ``lastaccess`` is refreshed at most once a minute.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..siteconfig import TIMEZONE_SETTINGS, core_config, site_admin_ids
from .capabilities import has_capability
from .exceptions import access_exception, invalid_token, missing_record, refused_user, site_maintenance
from .subnet import address_in_subnet

LASTACCESS_UPDATE_SECONDS = 60
PERMANENT_TOKEN = 0
USER_COLUMNS = (
    "id", "auth", "confirmed", "deleted", "suspended", "username", "firstname", "lastname",
    "email", "lang", "calendartype", "timezone",
)  # fmt: skip


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's user, its service, its context, and whether the user is a site admin."""

    user: dict
    token_id: int
    service_id: int
    context_id: int
    is_site_admin: bool
    context_path: str | None = None  # the context's ``path``, read with the token (``None``: look it up)


def _load_token(connection, tables, token):
    """The token row with its context and user, outer-joined: Moodle's three lookups in one round trip.

    ``context_found`` and ``user_*`` are ``None`` when the token points at a missing record.
    """
    t, context, user = tables.external_tokens, tables.context, tables.user
    if not isinstance(token, str):
        return None
    columns = (
        t.c.id, t.c.userid, t.c.externalserviceid, t.c.contextid, t.c.iprestriction, t.c.validuntil, t.c.lastaccess,
        context.c.id.label("context_found"), context.c.path.label("context_path"),
        *(user.c[name].label(f"user_{name}") for name in USER_COLUMNS),
    )  # fmt: skip
    query = (
        sa.select(*columns)
        .select_from(t.outerjoin(context, context.c.id == t.c.contextid).outerjoin(user, user.c.id == t.c.userid))
        .where(t.c.token == token, t.c.tokentype == PERMANENT_TOKEN)
    )
    return connection.execute(query).mappings().first()


def _require_record(table, found, record_id, errorcode, message):
    if found is None:
        raise missing_record(table.info["xmldb"].name, errorcode, message, "id = ?", [record_id])


SITE_SWITCHES = (
    "enablewebservices", "webserviceprotocols", "maintenance_enabled", "siteadmins", "defaultuserroleid",
    *TIMEZONE_SETTINGS,  # read here too, for the functions: one query for the site settings of a call
)  # fmt: skip


class RestProtocolDisabled(Exception):
    """Web services or the REST protocol are off on the site: Moodle answers 403 with an empty body."""


def site_switches(connection, tables):
    """The site settings that decide whether and for whom the REST server answers."""
    config = core_config(connection, tables, *SITE_SWITCHES)
    protocols = (config.get("webserviceprotocols") or "").split(",")  # untrimmed, as Moodle's in_array() reads it
    if config.get("enablewebservices") in (None, "", "0") or "rest" not in protocols:
        raise RestProtocolDisabled()
    return config


def authenticate(connection, tables, token, client_ip, now, config):
    """Check ``token`` as Moodle does and return the :class:`Caller`; commits Moodle's two writes.

    ``config`` comes from :func:`site_switches`.
    """
    row = _load_token(connection, tables, token)
    if row is None:
        raise invalid_token()
    tokens = tables.external_tokens
    if row["validuntil"] and row["validuntil"] < now:
        connection.execute(sa.delete(tokens).where(tokens.c.id == row["id"]))
        connection.commit()
        raise access_exception("Invalid token - token expired - check validuntil time for the token")
    if row["iprestriction"] and not address_in_subnet(client_ip, row["iprestriction"]):
        raise access_exception(f"Invalid service - IP:{client_ip} is not supported - check this allowed user")
    context_id = row["contextid"]
    _require_record(
        tables.context, row["context_found"], context_id, "invalidrecord",
        "Can't find data record in database table context.",
    )  # fmt: skip
    _require_record(tables.user, row["user_id"], row["userid"], "invaliduser", "Invalid user")
    user = {name: row[f"user_{name}"] for name in USER_COLUMNS}
    if now >= (row["lastaccess"] or 0) + LASTACCESS_UPDATE_SECONDS:
        connection.execute(sa.update(tokens).where(tokens.c.id == row["id"]).values(lastaccess=now))
        connection.commit()

    is_admin = user["id"] in site_admin_ids(config.get("siteadmins"))
    if config.get("maintenance_enabled") not in (None, "", "0") and not is_admin:
        raise site_maintenance()
    for flag, failed, errorcode, reason in (
        ("deleted", True, "wsaccessuserdeleted", "deleted"),
        ("confirmed", False, "wsaccessuserunconfirmed", "unconfirmed"),
        ("suspended", True, "wsaccessusersuspended", "suspended"),
    ):
        if bool(user[flag]) is failed:
            raise refused_user(errorcode, reason, user["username"])
    if user["auth"] == "nologin":
        raise refused_user("wsaccessusernologin", "nologin authentication", user["username"])
    caller = Caller(user, row["id"], row["externalserviceid"], context_id, is_admin, row["context_path"] or "")
    if not has_capability(connection, tables, caller, "webservice/rest:use", config.get("defaultuserroleid")):
        raise access_exception("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)")
    return caller
