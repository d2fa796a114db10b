"""Refused calls (``local_alxbridge_refusal``): failed authentications, blocked requests, suspicious sources.

Definitions (each used by every page that shows it):

* a **failed authentication** is a call refused at authentication (invalid or expired token, an IP
  the token does not allow, a refused user): every attempt counts;
* a **blocked request** is a call the abuse shield refused (too many calls or failed logins from
  one IP or token in a minute);
* a **suspicious source** is a client IP with at least :data:`SUSPICIOUS_ATTEMPTS` refused calls of
  either kind in the window;
* a **token violation** is a token (told apart by its hash prefix, never stored) that keeps being
  presented after being refused: its refused attempts, from how many IPs.

Windows are ``since <= timeminute <= until`` on the minute each attempt fell in.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..webservice.refusals import SHIELD

SUSPICIOUS_ATTEMPTS = 5


def _window(table, since, until):
    return sa.and_(table.c.timeminute >= since // 60 * 60, table.c.timeminute <= until)


@dataclass(frozen=True)
class RefusalSummary:
    failed_auth: int = 0
    blocked: int = 0
    sources: int = 0  # distinct client IPs refused


def refusal_summary(connection, tables, since, until):
    table = tables.local_alxbridge_refusal
    shield = table.c.reason == SHIELD
    row = connection.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((shield, 0), else_=table.c.attempts)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((shield, table.c.attempts), else_=0)), 0),
            sa.func.count(sa.distinct(table.c.ip_address)),
        ).where(_window(table, since, until))
    ).one()
    return RefusalSummary(int(row[0]), int(row[1]), int(row[2]))


@dataclass(frozen=True)
class Source:
    ip_address: str
    attempts: int
    reasons: str  # comma-separated, alphabetical
    last: int


def suspicious_sources(connection, tables, since, until, threshold=SUSPICIOUS_ATTEMPTS):
    """Client IPs with ``threshold`` refused calls or more in the window, most attempts first."""
    table = tables.local_alxbridge_refusal
    attempts = sa.func.sum(table.c.attempts).label("attempts")
    rows = connection.execute(
        sa.select(table.c.ip_address, attempts, sa.func.max(table.c.timelast))
        .where(_window(table, since, until))
        .group_by(table.c.ip_address)
        .having(attempts >= threshold)
        .order_by(attempts.desc(), table.c.ip_address)
    ).all()
    reasons = _reasons_by(connection, table, table.c.ip_address, since, until)
    return [Source(ip, int(count), ", ".join(reasons.get(ip, ())), last) for ip, count, last in rows]


@dataclass(frozen=True)
class TokenViolation:
    token_prefix: str
    attempts: int
    sources: int
    reasons: str
    last: int


def token_violations(connection, tables, since, until):
    """Refused tokens of the window (by hash prefix), most attempts first; the shield's blocks aside."""
    table = tables.local_alxbridge_refusal
    attempts = sa.func.sum(table.c.attempts).label("attempts")
    refused = sa.and_(_window(table, since, until), table.c.token_prefix != "", table.c.reason != SHIELD)
    rows = connection.execute(
        sa.select(table.c.token_prefix, attempts, sa.func.count(sa.distinct(table.c.ip_address)),
                  sa.func.max(table.c.timelast))
        .where(refused)
        .group_by(table.c.token_prefix)
        .order_by(attempts.desc(), table.c.token_prefix)
    ).all()  # fmt: skip
    reasons = _reasons_by(connection, table, table.c.token_prefix, since, until, table.c.reason != SHIELD)
    return [TokenViolation(prefix, int(count), ips, ", ".join(reasons.get(prefix, ())), last)
            for prefix, count, ips, last in rows]  # fmt: skip


def refusals_by_reason(connection, tables, since, until):
    """``[(reason, attempts)]`` of the window, most attempts first."""
    table = tables.local_alxbridge_refusal
    attempts = sa.func.sum(table.c.attempts).label("attempts")
    rows = connection.execute(
        sa.select(table.c.reason, attempts)
        .where(_window(table, since, until))
        .group_by(table.c.reason)
        .order_by(attempts.desc(), table.c.reason)
    )
    return [(reason, int(count)) for reason, count in rows]


def _reasons_by(connection, table, column, since, until, *conditions):
    rows = connection.execute(
        sa.select(column, table.c.reason).distinct().where(_window(table, since, until), *conditions)
    )
    found = {}
    for key, reason in rows:
        found.setdefault(key, []).append(reason)
    return {key: sorted(reasons) for key, reasons in found.items()}


@dataclass(frozen=True)
class RefusalReport:
    """What the Security tab and the rate-limit monitor show of the window's refused calls."""

    summary: RefusalSummary
    suspicious: list  # Source
    tokens: list  # TokenViolation
    by_reason: list  # (reason, attempts)


def refusal_report(connection, tables, since, until):
    return RefusalReport(
        refusal_summary(connection, tables, since, until),
        suspicious_sources(connection, tables, since, until),
        token_violations(connection, tables, since, until),
        refusals_by_reason(connection, tables, since, until),
    )
