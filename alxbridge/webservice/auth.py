"""Token authentication in the order of Moodle's REST server (``moodle-rest-contract.md`` §2.2).

Every check that fails raises the exception Moodle raises at that point, so a client sees the
same error for the same broken token. Two writes happen here, as in Moodle: an expired token is
deleted, and ``lastaccess`` is refreshed at most once a minute.
"""

import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from ..db.prebuilt import prebuilt
from ..moodle.siteconfig import TIMEZONE_SETTINGS, site_admin_ids
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
    context_path: str  # the context's ``path`` (``/1/…``), read with the token


def _require_record(table, found, record_id, errorcode, message):
    if found is None:
        raise missing_record(table.info["xmldb"].name, errorcode, message, "id = ?", [record_id])


SITE_SWITCHES = (
    "enablewebservices", "webserviceprotocols", "maintenance_enabled", "siteadmins", "defaultuserroleid",
    *TIMEZONE_SETTINGS,  # read here too, for the functions: one query for the site settings of a call
)  # fmt: skip


class RestProtocolDisabled(Exception):
    """Web services or the REST protocol are off on the site: Moodle answers 403 with an empty body."""


@prebuilt
def _site_and_token_query(tables):
    """The site switches (one scalar subquery each) and the token row with its context and user, outer-joined
    onto a one-row table: Moodle's config read and its three token lookups in one round trip."""
    t, context, user, config = tables.external_tokens, tables.context, tables.user, tables.config
    switches = (
        sa.select(config.c.value).where(config.c.name == name).scalar_subquery().label(f"config_{name}")
        for name in SITE_SWITCHES
    )
    columns = (
        t.c.id, t.c.token, t.c.userid, t.c.externalserviceid, t.c.contextid, t.c.iprestriction, t.c.validuntil,
        t.c.lastaccess,
        context.c.id.label("context_found"), context.c.path.label("context_path"),
        *(user.c[name].label(f"user_{name}") for name in USER_COLUMNS),
    )  # fmt: skip
    site = sa.select(sa.literal(1).label("one")).subquery("site")
    token = sa.and_(t.c.token == sa.bindparam("token"), t.c.tokentype == PERMANENT_TOKEN)
    return sa.select(*switches, *columns).select_from(
        site.outerjoin(t, token)
        .outerjoin(context, context.c.id == t.c.contextid)
        .outerjoin(user, user.c.id == t.c.userid)
    )


def _is_stored_token(row, token):
    """The token as stored, byte for byte: MySQL's collation also matches other cases, trailing spaces and
    accented letters, and each such spelling would otherwise be a working token with a limit of its own."""
    return row["id"] is not None and hmac.compare_digest(row["token"].encode("utf-8"), token.encode("utf-8"))


def read_site_and_token(connection, tables, token):
    """``(config, token_row)``: the site switches present in ``mdl_config`` and the token's row, ``None`` for a
    token that is unknown, not a string, or not spelled exactly as stored. ``context_found`` and ``user_*``
    are ``None`` when the token points at a missing record."""
    token = token if isinstance(token, str) else None
    row = connection.execute(_site_and_token_query(tables), {"token": token}).mappings().one()
    config = {name: row[f"config_{name}"] for name in SITE_SWITCHES if row[f"config_{name}"] is not None}
    return config, (row if token is not None and _is_stored_token(row, token) else None)


def check_site_switches(config):
    """Raise :class:`RestProtocolDisabled` unless web services and the REST protocol are on."""
    protocols = (config.get("webserviceprotocols") or "").split(",")  # untrimmed, as Moodle's in_array() reads it
    if config.get("enablewebservices") in (None, "", "0") or "rest" not in protocols:
        raise RestProtocolDisabled()


def authenticate(connection, tables, row, client_ip, now, config):
    """Check the token ``row`` as Moodle does and return the :class:`Caller`; commits Moodle's two writes.

    ``config`` and ``row`` come from :func:`read_site_and_token`. Moodle's last check, the REST
    capability, follows with the service lookup (:mod:`.grants`).
    """
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
    return Caller(user, row["id"], row["externalserviceid"], context_id, is_admin, row["context_path"] or "")
