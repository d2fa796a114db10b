"""What the reporting table holds, for the data pages: totals, per-company counts, pages of rows.

"Active" rows are those that are not tombstones (``is_deleted = 0``), as in
:func:`~alxbridge.metrics.overview.active_reporting_rows`; tombstones are how the sync tells
clients about deletions and retention purges them after a few weeks. "Last updated" is the
latest ``updated_at``, the time a row was last written (``last_updated`` is the sync's version,
which can run ahead of the clock).
"""

from dataclasses import dataclass

import sqlalchemy as sa

from .overview import company_count

STATUSES = ("completed", "in_progress", "not_started", "not_enrolled")  # not_enrolled: written by the PHP plugin only
PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
HEALTHY_ACTIVE_PERCENT = 80  # the plugin's "Needs Cleanup" threshold


@dataclass(frozen=True)
class ReportingStatus:
    companies: int
    records: int  # every row, tombstones included (the plugin's "Reporting Records")
    active: int
    last_updated: int | None


def reporting_status(connection, tables):
    """The populate and sync pages' "Current Status" card."""
    reporting = tables.local_alx_api_reporting
    records, active, last = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((reporting.c.is_deleted == 0, 1), else_=0)), 0),
            sa.func.max(reporting.c.updated_at),
        )
    ).one()
    return ReportingStatus(company_count(connection, tables), records, int(active), last)


@dataclass(frozen=True)
class CompanyData:
    """One company's rows: all of them, and the active ones by status."""

    companyid: int
    name: str
    total: int = 0
    active: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    not_enrolled: int = 0
    users: int = 0  # distinct users among active rows
    courses: int = 0  # distinct courses among active rows
    last_updated: int | None = None
    oldest: int | None = None  # the oldest ``updated_at`` of an active row

    @property
    def deleted(self):
        return self.total - self.active

    @property
    def active_percent(self):
        """Active rows as a percentage of all rows, one decimal; ``None`` without rows."""
        return round(100 * self.active / self.total, 1) if self.total else None

    @property
    def health(self):
        """The plugin's status column: No Data, Needs Cleanup (under 80 % active) or Healthy."""
        if not self.total:
            return "No Data"
        return "Needs Cleanup" if self.active_percent < HEALTHY_ACTIVE_PERCENT else "Healthy"


def company_data(connection, tables, companyid=None):
    """``[CompanyData]`` of every IOMAD company (or the one), ordered by name; companies without rows count zero."""
    reporting, company = tables.local_alx_api_reporting, tables.company
    active = reporting.c.is_deleted == 0

    def active_with(status):
        return sa.func.sum(sa.case((sa.and_(active, reporting.c.status == status), 1), else_=0))

    counts = (
        sa.select(
            reporting.c.companyid,
            sa.func.count().label("total"),
            sa.func.sum(sa.case((active, 1), else_=0)).label("active"),
            *(active_with(status).label(status) for status in STATUSES),
            sa.func.count(sa.distinct(sa.case((active, reporting.c.userid)))).label("users"),
            sa.func.count(sa.distinct(sa.case((active, reporting.c.courseid)))).label("courses"),
            sa.func.max(reporting.c.updated_at).label("last_updated"),
            sa.func.min(sa.case((active, reporting.c.updated_at))).label("oldest"),
        )
        .group_by(reporting.c.companyid)
        .subquery("counts")
    )
    query = (
        sa.select(company.c.id, company.c.name, counts)
        .outerjoin(counts, counts.c.companyid == company.c.id)
        .order_by(company.c.name, company.c.id)
    )
    if companyid is not None:
        query = query.where(company.c.id == companyid)
    numbers = ("total", "active", *STATUSES, "users", "courses")

    def of(row):
        counts = {name: int(row._mapping[name] or 0) for name in numbers}
        return CompanyData(row.id, row.name, **counts, last_updated=row.last_updated, oldest=row.oldest)

    return [of(row) for row in connection.execute(query)]


def companies_with_data(connection, tables):
    """The companies that have active rows, by name: ``[(companyid, name, active rows)]`` (view page's list)."""
    return [(c.companyid, c.name, c.active) for c in company_data(connection, tables) if c.active]


def orphaned_rows(connection, tables):
    """``{companyid: n}`` of active rows whose user is no longer an active member of the row's company.

    An active member has a ``company_users`` row with ``suspended = 0``: the sync's definition, so
    the count is what "Cleanup Orphaned Records" turns into tombstones.
    """
    reporting, members = tables.local_alx_api_reporting, tables.company_users
    member = sa.exists().where(
        members.c.companyid == reporting.c.companyid,
        members.c.userid == reporting.c.userid,
        members.c.suspended == 0,
    )
    rows = connection.execute(
        sa.select(reporting.c.companyid, sa.func.count())
        .where(reporting.c.is_deleted == 0, ~member)
        .group_by(reporting.c.companyid)
    )
    return dict(rows.all())


def per_page(value):
    """The page size asked for, if offered; else the default (larger values are capped at 200)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PER_PAGE
    if number in PER_PAGE_CHOICES:
        return number
    return PER_PAGE_CHOICES[-1] if number > PER_PAGE_CHOICES[-1] else DEFAULT_PER_PAGE


@dataclass(frozen=True)
class RowsPage:
    rows: list
    total: int
    page: int  # 1-based, within 1..pages
    pages: int
    per_page: int

    @property
    def first(self):
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self):
        return min(self.page * self.per_page, self.total)


def active_rows_page(connection, tables, companyid, status, page, size):
    """One page of the company's active rows (of ``status``, when given), latest first."""
    reporting = tables.local_alx_api_reporting
    conditions = [reporting.c.companyid == companyid, reporting.c.is_deleted == 0]
    if status:
        conditions.append(reporting.c.status == status)
    total = connection.execute(sa.select(sa.func.count()).select_from(reporting).where(*conditions)).scalar()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = connection.execute(
        sa.select(reporting)
        .where(*conditions)
        .order_by(reporting.c.last_updated.desc(), reporting.c.userid, reporting.c.courseid)
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return RowsPage(rows, total, page, pages, size)
