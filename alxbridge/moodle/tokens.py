"""Permanent web service tokens, issued the way Moodle's "Manage tokens" page issues them.

Used by ``flask --app wsgi alx create-token`` (and later the admin pages). The token is 32 hex
characters like Moodle's, bound to the user, the service and the system context.
"""

import secrets

import sqlalchemy as sa

from ..operations.errors import BridgeError
from .siteconfig import core_config, site_admin_ids

SERVICE_SHORTNAMES = ("alx_report_api_custom", "alx_report_api")  # the plugin's lookup order
SYSTEM_CONTEXT_ID = 1
PERMANENT_TOKEN = 0
SHOWN_CHARACTERS = 8  # tokens are shown by their first 8 characters only


def mask(token):
    return f"{token[:SHOWN_CHARACTERS]}…"


def plugin_service(connection, tables):
    """The plugin's external service row (``id``, ``shortname``, ``enabled``), or ``None``."""
    try:
        return report_service(connection, tables)
    except TokenError:
        return None


def never_expires(tokens):
    return sa.or_(tokens.c.validuntil.is_(None), tokens.c.validuntil == 0)


def has_expired(tokens, now):
    return sa.and_(tokens.c.validuntil > 0, tokens.c.validuntil < now)


def permanent_of(tokens, service_id):
    return sa.and_(tokens.c.externalserviceid == service_id, tokens.c.tokentype == PERMANENT_TOKEN)


def count_tokens(connection, tables, service_id, condition):
    tokens = tables.external_tokens
    query = sa.select(sa.func.count()).select_from(tokens).where(permanent_of(tokens, service_id), condition)
    return connection.execute(query).scalar()


def active_token_count(connection, tables, service_id, now):
    """Active permanent tokens of the service ``service_id``."""
    tokens = tables.external_tokens
    return count_tokens(connection, tables, service_id, sa.or_(never_expires(tokens), tokens.c.validuntil >= now))


class TokenError(BridgeError):
    """The token cannot be issued: unknown user or service, or a user Moodle would refuse."""


def report_service(connection, tables, shortname=None):
    """The service a reporting token belongs to: ``shortname``, else the plugin's own names in order."""
    services = tables.external_services
    names = (shortname,) if shortname else SERVICE_SHORTNAMES
    rows = {row.shortname: row for row in connection.execute(
        sa.select(services.c.id, services.c.shortname, services.c.enabled).where(services.c.shortname.in_(names))
    )}  # fmt: skip
    for name in names:
        if name in rows:
            return rows[name]
    raise TokenError(
        f"no external service with shortname {' or '.join(names)}; create it in Moodle "
        "(Site administration > Server > Web services > External services)"
    )


def create_token(connection, tables, username, *, service_shortname=None, valid_until=0, ip_restriction=None,
                 now):  # fmt: skip
    """Insert a permanent token for ``username`` and return it (the caller commits)."""
    user = tables.user
    owner = connection.execute(
        sa.select(user.c.id, user.c.deleted, user.c.suspended).where(user.c.username == username, user.c.deleted == 0)
    ).first()
    if owner is None:
        raise TokenError(f"no Moodle user with username {username!r}")
    if owner.suspended:
        raise TokenError(f"user {username!r} is suspended; Moodle would refuse every call with this token")
    service = report_service(connection, tables, service_shortname)
    if not service.enabled:
        raise TokenError(f"service {service.shortname!r} is disabled; enable it in Moodle first")
    admins = site_admin_ids(core_config(connection, tables, "siteadmins").get("siteadmins"))
    token = secrets.token_hex(16)
    connection.execute(
        tables.external_tokens.insert().values(
            token=token, tokentype=PERMANENT_TOKEN, userid=owner.id, externalserviceid=service.id,
            contextid=SYSTEM_CONTEXT_ID, creatorid=min(admins) if admins else owner.id,
            iprestriction=ip_restriction or None, validuntil=valid_until, timecreated=now,
        )
    )  # fmt: skip
    return token
