"""The caller's IOMAD company.

IOMAD lets a user belong to several companies (one ``company_users`` row per company and
department). The plugin takes whichever row the database returns first, so a token could switch
companies between calls. The bridge's rule is deterministic: among the user's active memberships
(``company_users.suspended = 0``) of active companies (``company.suspended = 0``), the one with the
lowest ``company_users.id`` — the company the user joined first.

IOMAD indexes ``company_users`` by ``(companyid, userid, departmentid)`` only, so finding a user's
first membership probes that index once per company: its cost grows with the site's companies
(0.8 ms at 200, 3.4 ms at 2 000 on MariaDB). A progress call therefore remembers, per process, the
membership it found (:class:`MembershipHints`) and reads that one row by its primary key next time,
under the rule's own conditions. The hint is only kept when that membership is the user's first row of
all, active or not: a new row gets a higher id, so as long as the hinted row stays active no other row
can come before it, and the hinted read returns exactly what the rule returns. When the first row is
inactive (a suspended membership or company that may come back), no hint is kept and the rule runs.
"""

import threading
from dataclasses import dataclass

import sqlalchemy as sa

from ..db.prebuilt import prebuilt


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    shortname: str


RULE = "rule"  # the first active membership of an active company
FIRST_ROW = "first_row"  # the user's first membership row of all, and whether it is active
HINTED = "hinted"  # the membership bound as ``membership``, if still active: one primary-key read


def _membership(tables, kind):
    """The derived table of one narrow row (``id``, ``companyid``, ``active``) that ``kind`` picks for the user
    bound as ``user``. Choosing it apart, before the callers' joins, keeps MariaDB from sorting their wide
    columns (texts among them) in a temporary table."""
    cu, company = tables.company_users, tables.company
    active = sa.and_(cu.c.suspended == 0, company.c.suspended == 0)
    query = (
        sa.select(cu.c.id, cu.c.companyid, sa.case((active, 1), else_=0).label("active"))
        .join(company, company.c.id == cu.c.companyid)
        .where(cu.c.userid == sa.bindparam("user"))
    )
    if kind == HINTED:
        query = query.where(cu.c.id == sa.bindparam("membership"), active)
    elif kind == RULE:
        query = query.where(active)
    return query.order_by(cu.c.id).limit(1).subquery("membership")


def first_membership(tables, *columns, kind=RULE):
    """SELECT of the company's ``id``, ``name``, ``shortname``, the membership's ``membership_id`` and
    ``membership_active`` (and ``columns``) for the user bound as ``user``, picked by ``kind``; callers may join
    more tables onto it."""
    company, membership = tables.company, _membership(tables, kind)
    return sa.select(
        company.c.id, company.c.name, company.c.shortname,
        membership.c.id.label("membership_id"), membership.c.active.label("membership_active"), *columns,
    ).select_from(membership.join(company, company.c.id == membership.c.companyid))  # fmt: skip


HINT_SECONDS = 60  # a hint is re-checked against the rule at least this often (ids written by hand, restores)
MAX_HINTS = 50_000  # users remembered per process; past that the memory starts over


class MembershipHints:
    """Per process and database: the user's membership a progress call found, when it may be read by its id."""

    def __init__(self):
        self._hints = {}  # user id -> (membership id or RULE, unix time found)
        self._lock = threading.Lock()

    def get(self, user_id, now):
        """The membership id to read, :data:`RULE` when the user's first row is inactive, or ``None``."""
        found = self._hints.get(user_id)
        return found[0] if found and now - found[1] < HINT_SECONDS else None

    def remember(self, user_id, membership_id, now):
        with self._lock:
            if len(self._hints) >= MAX_HINTS:
                self._hints.clear()
            self._hints[user_id] = (membership_id, now)

    def forget(self, user_id):
        self._hints.pop(user_id, None)

    def clear(self):
        """Forget every user (a test that rebuilds the site between calls at one frozen time)."""
        self._hints.clear()


def membership_hints(tables):
    """The :class:`MembershipHints` of the database whose table namespace is ``tables`` (one per schema, as
    :func:`~alxbridge.db.prebuilt.prebuilt` statements are)."""
    return tables.__dict__.setdefault("_membership_hints", MembershipHints())


def read_first_membership(connection, query_of, parameters, user_id, now, hints):
    """The row of ``query_of(kind)`` (a :func:`first_membership` query) for the rule's membership of ``user_id``,
    or ``None``: by the hinted membership's id when there is a hint and the row is still active, else by the
    user's first row, else by the rule."""
    hint = hints.get(user_id, now)
    if hint == RULE:
        return connection.execute(query_of(RULE), parameters).first()
    if hint is not None:
        row = connection.execute(query_of(HINTED), {**parameters, "membership": hint}).first()
        if row is not None:
            return row
        hints.forget(user_id)
    row = connection.execute(query_of(FIRST_ROW), parameters).first()
    if row is None:  # no membership yet: nothing to remember
        return None
    if row.membership_active:
        hints.remember(user_id, row.membership_id, now)
        return row
    hints.remember(user_id, RULE, now)
    return connection.execute(query_of(RULE), parameters).first()


@prebuilt
def _caller_company_query(tables):
    return first_membership(tables)


def caller_company(connection, tables, user_id):
    """The :class:`Company` of ``user_id``, or ``None`` when the user belongs to none."""
    row = connection.execute(_caller_company_query(tables), {"user": user_id}).first()
    return Company(row.id, row.name, row.shortname) if row else None
