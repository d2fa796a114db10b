"""The web service tokens clients call the API with, counted and listed without revealing them.

**Active token** (variant (a) of the plugin, its Control Center's): a permanent token
(``tokentype = 0``) of the plugin's service (``alx_report_api_custom``, else ``alx_report_api``)
whose ``validuntil`` is 0/NULL (never expires) or not yet passed (Moodle's own test). The plugin's other formulas missed
never-expiring tokens (``validuntil IS NULL OR > now``) or counted other services' tokens.
An **expired** token is one of those with ``validuntil`` in the past (Moodle deletes it on its next use).
Tokens are shown by their first 8 characters only.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.tokens import (
    active_token_count,
    count_tokens,
    has_expired,
    mask,
    never_expires,
    permanent_of,
    plugin_service,
)


@dataclass(frozen=True)
class TokenCounts:
    active: int = 0
    expired: int = 0


def token_counts(connection, tables, now):
    """Active and expired permanent tokens of the plugin's service (none without the service)."""
    service = plugin_service(connection, tables)
    if service is None:
        return TokenCounts()
    expired = count_tokens(connection, tables, service.id, has_expired(tables.external_tokens, now))
    return TokenCounts(active_token_count(connection, tables, service.id, now), expired)


@dataclass(frozen=True)
class ServiceToken:
    id: int
    masked: str
    userid: int
    name: str
    timecreated: int
    validuntil: int | None
    lastaccess: int | None
    iprestriction: str | None
    active: bool
    owner_refused: str | None  # why the web service refuses every call of the owner (see _owner_refusal)


def _owner_refusal(row):
    """Why Moodle's web service refuses the token's owner whatever the call, in the order it checks
    (:mod:`alxbridge.webservice.auth`), or ``None`` when it accepts them."""
    if row.owner_id is None:
        return "owner no longer exists"
    for refused, reason in (
        (row.deleted, "owner deleted"), (not row.confirmed, "owner unconfirmed"), (row.suspended, "owner suspended"),
        (row.auth == "nologin", "owner set to \"No login\""),
    ):  # fmt: skip
        if refused:
            return reason
    return None


def service_tokens(connection, tables, now, tokenid=None):
    """The plugin service's permanent tokens (or only the one with id ``tokenid``), masked, newest first."""
    service = plugin_service(connection, tables)
    if service is None:
        return []
    tokens, user = tables.external_tokens, tables.user
    query = (
        sa.select(
            tokens.c.id, tokens.c.token, tokens.c.userid, user.c.firstname, user.c.lastname, user.c.username,
            tokens.c.timecreated, tokens.c.validuntil, tokens.c.lastaccess, tokens.c.iprestriction,
            never_expires(tokens).label("never_expires"), user.c.id.label("owner_id"), user.c.deleted,
            user.c.confirmed, user.c.suspended, user.c.auth,
        )
        .select_from(tokens.outerjoin(user, user.c.id == tokens.c.userid))
        .where(permanent_of(tokens, service.id))
        .order_by(tokens.c.timecreated.desc(), tokens.c.id.desc())
    )  # fmt: skip
    if tokenid is not None:
        query = query.where(tokens.c.id == tokenid)
    return [
        ServiceToken(
            row.id, mask(row.token), row.userid,
            f"{row.firstname or ''} {row.lastname or ''}".strip() or row.username or f"User ID {row.userid}",
            row.timecreated, None if row.never_expires else row.validuntil, row.lastaccess, row.iprestriction,
            bool(row.never_expires) or row.validuntil >= now, _owner_refusal(row),
        )
        for row in connection.execute(query)
    ]  # fmt: skip
