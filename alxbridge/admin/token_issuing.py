"""Issuing reporting tokens from the admin pages: who may own one, checking the request, listing issued tokens.

The web service answers for the caller's company, so a token is issued for a company by picking
one of its active members: a user Moodle's web service accepts (not deleted, suspended, unconfirmed
or set to "No login") whose company it is by :mod:`alxbridge.reporting.company`'s rule (their first
active membership of an active company) — a token of a user who joined another company first would
report on that one. The token itself is shown once by the page that issues it; listings show only
its first 8 characters. Revoking deletes the token's row, as Moodle's "Manage tokens" page does.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from ..metrics.tokens import service_tokens
from ..reporting.company import caller_company
from .settings_forms.values import InvalidValue, submitted

_SUBNET_ENTRY = re.compile(r"[0-9A-Fa-f.:/-]+")


@dataclass(frozen=True)
class Member:
    id: int
    username: str
    firstname: str
    lastname: str
    email: str

    @property
    def fullname(self):
        return f"{self.firstname} {self.lastname}".strip() or self.username


def _first_membership_id(tables, user):
    """The id of ``user``'s membership the API answers for: the lowest active one of an active company."""
    memberships, company = tables.company_users.alias("first_membership"), tables.company
    return (
        sa.select(sa.func.min(memberships.c.id))
        .join(company, company.c.id == memberships.c.companyid)
        .where(memberships.c.userid == user.c.id, memberships.c.suspended == 0, company.c.suspended == 0)
        .scalar_subquery()
    )


def company_members(connection, tables, companyid):
    """The company's users a token may be issued to (see the module docstring), by name."""
    user, members = tables.user, tables.company_users
    rows = connection.execute(
        sa.select(user.c.id, user.c.username, user.c.firstname, user.c.lastname, user.c.email)
        .join(members, members.c.userid == user.c.id)
        .where(
            members.c.companyid == companyid,
            members.c.id == _first_membership_id(tables, user),
            user.c.deleted == 0, user.c.suspended == 0, user.c.confirmed == 1, user.c.auth != "nologin",
        )
        .order_by(user.c.lastname, user.c.firstname, user.c.id)
    )  # fmt: skip
    return [Member(*row) for row in rows]


@dataclass(frozen=True)
class TokenRequest:
    owner: Member
    valid_until: int  # 0: never expires
    ip_restriction: str | None


def _valid_until(text, timezone, now):
    """``YYYY-MM-DD`` → the start of the next day in the site timezone: the token works through that date."""
    if not text:
        return 0
    try:
        last_day = date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"Valid until: {text!r} is not a date; use YYYY-MM-DD, or leave it empty.") from None
    until = int(datetime.combine(last_day + timedelta(days=1), time(), timezone).timestamp())
    if until <= now:
        raise InvalidValue(f"Valid until: {last_day.isoformat()} has passed; pick today or a later date.")
    return until


def _ip_restriction(text):
    """Moodle's IP list (``10.0.0.0/8, 192.168.1.``): entries made of address characters, comma-separated."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    invalid = [entry for entry in entries if not _SUBNET_ENTRY.fullmatch(entry)]
    if invalid:
        listed = ", ".join(f'"{entry}"' for entry in invalid)
        raise InvalidValue(
            f"IP restriction: {listed} is not an address, range or subnet (e.g. 10.0.0.0/8, 192.168.1.10-20, 172.16.)."
        )
    return ",".join(entries) or None


def parse_token_request(form, members, timezone, now):
    """``(request, errors)`` for the issue form; ``request`` is ``None`` when anything is wrong."""
    errors = []
    userid = submitted(form, "userid") or ""
    owner = next((member for member in members if str(member.id) == userid), None)
    if owner is None:
        errors.append("User: choose one of the company's active users.")
    valid_until = ip_restriction = None
    try:
        valid_until = _valid_until(submitted(form, "validuntil") or "", timezone, now)
    except InvalidValue as error:
        errors.append(str(error))
    try:
        ip_restriction = _ip_restriction(submitted(form, "iprestriction") or "")
    except InvalidValue as error:
        errors.append(str(error))
    if errors:
        return None, errors
    return TokenRequest(owner, valid_until, ip_restriction), []


def token_problem(token, company):
    """Why calls with ``token`` (a :class:`~alxbridge.metrics.tokens.ServiceToken`) fail whatever they ask, or
    ``None``; ``company`` is the owner's company (:func:`token_companies`)."""
    if not token.active:
        return "expired: Moodle deletes it on its next use"
    if token.owner_refused:
        return f"{token.owner_refused}: every call is refused"
    if company is None:
        return "owner in no active company: every call is refused (nocompanyassociation)"
    return None


def token_companies(connection, tables, tokens):
    """``{userid: Company or None}`` for the owners of ``tokens``: the company each token reports on."""
    return {userid: caller_company(connection, tables, userid) for userid in {token.userid for token in tokens}}


def revoke_token(connection, tables, tokenid, now):
    """Delete the reporting service's permanent token ``tokenid``, so the next call with it is refused as
    ``invalidtoken``; return the :class:`~alxbridge.metrics.tokens.ServiceToken` revoked, or ``None`` when
    ``tokenid`` is not (any more) one of them."""
    token = next(iter(service_tokens(connection, tables, now, tokenid)), None)
    if token is not None:
        external_tokens = tables.external_tokens
        connection.execute(sa.delete(external_tokens).where(external_tokens.c.id == tokenid))
    return token
