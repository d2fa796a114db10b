"""The caller's IOMAD company.

IOMAD lets a user belong to several companies (one ``company_users`` row per company and
department). The plugin takes whichever row the database returns first, so a token could switch
companies between calls. The bridge's rule is deterministic: among the user's active memberships
(``company_users.suspended = 0``) of active companies (``company.suspended = 0``), the one with the
lowest ``company_users.id`` — the company the user joined first.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..db.prebuilt import prebuilt


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    shortname: str


def first_membership(tables, *columns):
    """SELECT of the company's ``id``, ``name``, ``shortname`` (and ``columns``) for the user bound as ``user``,
    by the rule above; callers may join more tables onto it."""
    cu, company = tables.company_users, tables.company
    return (
        sa.select(company.c.id, company.c.name, company.c.shortname, *columns)
        .join(cu, cu.c.companyid == company.c.id)
        .where(cu.c.userid == sa.bindparam("user"), cu.c.suspended == 0, company.c.suspended == 0)
        .order_by(cu.c.id)
        .limit(1)
    )


@prebuilt
def _caller_company_query(tables):
    return first_membership(tables)


def caller_company(connection, tables, user_id):
    """The :class:`Company` of ``user_id``, or ``None`` when the user belongs to none."""
    row = connection.execute(_caller_company_query(tables), {"user": user_id}).first()
    return Company(*row) if row else None
