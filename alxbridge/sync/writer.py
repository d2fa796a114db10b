"""The single writer of ``local_alx_api_reporting``: computed progress in, only real changes out.

Computed rows are staged into a temporary table with ``INSERT … SELECT``; three set-based
statements then bring the reporting table in line: update rows whose content differs (or that
were tombstones: re-enrolment revives them, B12), insert rows that are new, and tombstone
(``is_deleted = 1``) rows of the scope that were not computed. Changed rows get
``last_updated = version``; unchanged rows are not touched (B36). Nothing crosses the wire per
row, and a rollback leaves every company exactly as it was.

:func:`write_company` writes one company (a full recompute, or a retry on its own);
:func:`write_shortlists` writes the shortlists of any number of companies with the same handful
of statements, so an hourly run does not pay per company.
"""

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from ..db.database import POSTGRES_DIALECT
from ..schema.xmldb import MYSQL_TABLE_OPTIONS
from .progress import PROGRESS_COLUMNS, progress_query, shortlist_progress_query

KEY_COLUMNS = ("userid", "courseid", "companyid")
STAGE_COLUMNS = (*PROGRESS_COLUMNS, "companyid")
CONTENT_COLUMNS = tuple(column for column in PROGRESS_COLUMNS if column not in KEY_COLUMNS)


@dataclass(frozen=True)
class Scope:
    """Which of a company's rows a write covers: all of them, or those of some users or some courses.

    The progress computed for the scope replaces the scope's rows; rows outside it are left alone.
    """

    user_ids: frozenset | None = None
    course_ids: frozenset | None = None

    @property
    def is_full(self):
        return self.user_ids is None and self.course_ids is None


FULL = Scope()


@dataclass(frozen=True)
class WriteCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    def __add__(self, other):
        return WriteCounts(self.created + other.created, self.updated + other.updated, self.deleted + other.deleted)

    @property
    def changed(self):
        return self.created + self.updated + self.deleted


def _temporary_table(reporting, name, columns, key):
    """A temporary table named after ``reporting``'s prefix, its key declared inline.

    MySQL commits the transaction on ``CREATE INDEX`` even for a temporary table, but not on
    ``CREATE TEMPORARY TABLE`` or ``DROP TEMPORARY TABLE``.
    """
    prefix = reporting.name[: -len("local_alx_api_reporting")]
    return sa.Table(
        f"{prefix}local_alxbridge_{name}",
        sa.MetaData(),
        *(sa.Column(column, reporting.c[column].type, nullable=False) for column in columns),
        sa.PrimaryKeyConstraint(*key),
        prefixes=["TEMPORARY"],
        **MYSQL_TABLE_OPTIONS,
    )


@functools.cache
def staging_table(reporting):
    """The computed rows of one write, keyed like the reporting table's unique index."""
    return _temporary_table(reporting, "stage", STAGE_COLUMNS, KEY_COLUMNS)


@functools.cache
def scope_tables(reporting):
    """``(users, courses, other courses, rows)`` of a batch of shortlists: the (company, user) pairs whose
    rows are recomputed, the (company, course) pairs recomputed whole, the other exposed courses of each
    company, and single (company, user, course) rows recomputed."""
    pairs = (("scope_users", "userid"), ("scope_courses", "courseid"), ("scope_other_courses", "courseid"))
    tables = [_temporary_table(reporting, name, ("companyid", c), ("companyid", c)) for name, c in pairs]
    columns = ("companyid", "userid", "courseid")
    return (*tables, _temporary_table(reporting, "scope_rows", columns, columns))


# Where each server keeps a session's temporary tables; naming it never drops a real table of the same name.
TEMPORARY_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}


def _drop(connection, table):
    name = connection.dialect.identifier_preparer.quote(table.name)
    if connection.dialect.name in ("mysql", "mariadb"):
        connection.execute(sa.text(f"DROP TEMPORARY TABLE IF EXISTS {name}"))
    else:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {TEMPORARY_SCHEMA[connection.dialect.name]}.{name}"))


def _create(connection, table):
    _drop(connection, table)  # left over when an earlier transaction rolled back on MySQL
    table.create(connection)


class _LiveFlag(sa.sql.expression.FunctionElement):
    """The reporting table's ``is_deleted``, spelled for each server's planner (see :func:`live`)."""

    inherit_cache = True
    type = sa.SmallInteger()


@compiles(_LiveFlag)
def _flag_without_index(element, compiler, **kw):
    """``is_deleted + 0``: on that two-valued column MariaDB likes to intersect the ``is_deleted`` index with the
    ``companyid`` index, which reads every live row of every company for each company: 30× slower at 1M rows."""
    return compiler.process(*element.clauses, **kw) + " + 0"


@compiles(_LiveFlag, "postgresql")
def _flag_as_is(element, compiler, **kw):
    """PostgreSQL has no statistics on ``is_deleted + 0`` and guesses ``= 0`` keeps 0.5 % of the rows: the hourly
    run's tombstone UPDATEs then read the whole reporting table and probe the scope table for every row (256 ms
    against 2 ms through the ``userid`` index, 309 000 rows). On the column itself its statistics say nearly every
    row is live, and it does not intersect indexes the way MariaDB does."""
    return compiler.process(*element.clauses, **kw)


def live(reporting):
    """``is_deleted = 0``, written so that MariaDB cannot use the ``is_deleted`` index."""
    return _LiveFlag(reporting.c.is_deleted) == 0


class _Bytes(sa.sql.expression.FunctionElement):
    """A text value compared as its bytes, whatever the column's collation."""

    inherit_cache = True


@compiles(_Bytes)
def _bytes_by_cast(element, compiler, **kw):
    return compiler.process(sa.cast(*element.clauses, sa.LargeBinary), **kw)


@compiles(_Bytes, "postgresql")
def _bytes_as_text(element, compiler, **kw):
    """PostgreSQL's deterministic collations (Moodle's) already tell apart any two different byte strings, and
    its text-to-bytea cast would parse backslashes as escapes."""
    return compiler.process(*element.clauses, **kw)


def _differs(left, right):
    """True when two stored values differ, byte for byte for text.

    MySQL's ``=`` on ``utf8mb4_unicode_ci`` ignores case, accents and trailing spaces, so a renamed
    "jose" → "José" would look unchanged; comparing the bytes catches every edit on every backend.
    """
    if isinstance(left.type, sa.String):
        return _Bytes(left) != _Bytes(right)
    return left != right


def _company_progress(tables, companyid, course_ids, now, user_ids=None):
    """The company's computed rows in the staging table's column order."""
    query = progress_query(tables, companyid, course_ids, now, user_ids)
    return query.add_columns(sa.literal(companyid, sa.Integer).label("companyid"))


def _plan_for_these_values(connection):
    """PostgreSQL: plan every statement of the caller's transaction for its own values (until it ends).

    psycopg prepares a statement on the server once its text has run 5 times (``prepare_threshold``),
    and a company's statements share their text with every company exposing as many courses. After
    five more runs PostgreSQL may keep one generic plan, costed without the values: ``status = $18``,
    ``companyid = $22`` … each guessed selective, so it expects one enrolled row and rescans the
    company's module completions for every row it finds. On a 200 000-person site a company's staging
    INSERT took 1 047 ms with that plan against 152 ms planned for its values, and the full run's
    staging statements 42 s against 27 s (``bench/sync_1m.py``). Planning costs a few ms a company.
    """
    if connection.dialect.name == POSTGRES_DIALECT:
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def _stage(connection, stage, select):
    connection.execute(sa.insert(stage).from_select(STAGE_COLUMNS, select))


def _same_key(reporting, stage):
    return sa.and_(*(reporting.c[key] == stage.c[key] for key in KEY_COLUMNS))


def _update_and_insert(connection, reporting, stage, version, now):
    """Bring staged rows into the reporting table; return ``(updated, created)``."""
    updated = connection.execute(
        sa.update(reporting)
        .where(
            _same_key(reporting, stage),
            sa.or_(reporting.c.is_deleted != 0, *(_differs(reporting.c[c], stage.c[c]) for c in CONTENT_COLUMNS)),
        )
        .values(
            {**{c: stage.c[c] for c in CONTENT_COLUMNS}, "is_deleted": 0, "last_updated": version, "updated_at": now}
        )
    ).rowcount
    existing = reporting.alias("existing")
    created = connection.execute(
        sa.insert(reporting).from_select(
            [*STAGE_COLUMNS, "last_updated", "is_deleted", "created_at", "updated_at"],
            sa.select(
                *(stage.c[c] for c in STAGE_COLUMNS),
                *(sa.literal(value, sa.Integer) for value in (version, 0, now, now)),
            ).where(~sa.exists().where(_same_key(existing, stage))),
        ),
        execution_options={"preserve_rowcount": True},  # an INSERT's count is kept only when asked (psycopg)
    ).rowcount
    return updated, created


def _tombstone(reporting, stage, version, now, *in_scope):
    """Tombstone the live rows in scope that were not computed."""
    return (
        sa.update(reporting)
        .where(*in_scope, live(reporting), ~sa.exists().where(_same_key(reporting, stage)))
        .values(is_deleted=1, last_updated=version, updated_at=now)
    )


def write_company(connection, tables, companyid, course_ids, version, now, scope=FULL):
    """Replace the company's reporting rows within ``scope`` by its computed progress; return the counts.

    ``course_ids`` are the company's exposed courses. Runs inside the caller's transaction.
    """
    reporting = tables.local_alx_api_reporting
    stage = staging_table(reporting)
    if scope.course_ids is not None:
        course_ids = frozenset(course_ids) & scope.course_ids

    _plan_for_these_values(connection)
    _create(connection, stage)
    _stage(connection, stage, _company_progress(tables, companyid, course_ids, now, scope.user_ids))
    updated, created = _update_and_insert(connection, reporting, stage, version, now)
    in_scope = [reporting.c.companyid == companyid]
    if scope.user_ids is not None:
        in_scope.append(reporting.c.userid.in_(sorted(scope.user_ids)))
    if scope.course_ids is not None:
        in_scope.append(reporting.c.courseid.in_(sorted(scope.course_ids)))
    deleted = connection.execute(_tombstone(reporting, stage, version, now, *in_scope)).rowcount
    _drop(connection, stage)
    return WriteCounts(created=created, updated=updated, deleted=deleted)


@dataclass(frozen=True)
class Shortlist:
    """What one company's hourly write recomputes: some users' rows, every row of some courses, and single
    (user, course) rows (none of them a row of those users or courses)."""

    companyid: int
    course_ids: frozenset  # the company's exposed courses
    user_ids: frozenset
    changed_courses: frozenset  # may include courses no longer exposed: their rows become tombstones
    rows: frozenset = frozenset()  # (userid, courseid) of exposed courses


def _stamped(connection, reporting, version, first_new_id):
    """``{companyid: (WriteCounts, users changed)}`` from the rows stamped with ``version``.

    Only this write has stamped rows with the run's new version so far (the caller writes
    shortlists before any company of the run is written on its own), so the ``last_updated``
    index finds exactly them; rows with ids from ``first_new_id`` on were inserted by it.
    """
    new = sa.case((reporting.c.id >= first_new_id, 1), else_=0)
    query = (
        sa.select(
            reporting.c.companyid,
            sa.func.count(),
            sa.func.sum(new),
            sa.func.sum(reporting.c.is_deleted),
            sa.func.count(sa.distinct(reporting.c.userid)),
        )
        .where(reporting.c.last_updated == version)
        .group_by(reporting.c.companyid)
    )
    stamped = {}
    for companyid, total, created, deleted, users in connection.execute(query):
        created, deleted = int(created), int(deleted)
        stamped[companyid] = (WriteCounts(created, int(total) - created - deleted, deleted), int(users))
    return stamped


def _fill(connection, table, rows):
    _create(connection, table)
    if rows:
        connection.execute(sa.insert(table), rows)


def write_shortlists(connection, tables, shortlists, version, now):
    """Write many companies' shortlists in one go, inside the caller's transaction.

    The users' rows of every company are computed by one statement; a course recomputed whole
    costs a statement for its company. Returns ``{companyid: (WriteCounts, users changed)}`` for
    the companies whose rows changed. Must run before any other write of the run with
    ``version`` (see :func:`_stamped`).
    """
    reporting = tables.local_alx_api_reporting
    stage = staging_table(reporting)
    users, courses, other_courses, rows = scope_tables(reporting)
    _plan_for_these_values(connection)
    _fill(connection, users, [{"companyid": s.companyid, "userid": u} for s in shortlists for u in s.user_ids])
    _fill(
        connection,
        rows,
        [{"companyid": s.companyid, "userid": u, "courseid": c} for s in shortlists for u, c in s.rows],
    )
    _fill(
        connection, courses, [{"companyid": s.companyid, "courseid": c} for s in shortlists for c in s.changed_courses]
    )
    _fill(
        connection,
        other_courses,
        [
            {"companyid": s.companyid, "courseid": c}
            for s in shortlists
            if s.user_ids
            for c in s.course_ids - s.changed_courses
        ],
    )
    _create(connection, stage)
    for shortlist in shortlists:
        if whole := shortlist.course_ids & shortlist.changed_courses:
            _stage(connection, stage, _company_progress(tables, shortlist.companyid, whole, now))
    if any(shortlist.user_ids for shortlist in shortlists):
        _stage(connection, stage, shortlist_progress_query(tables, users, other_courses, now))
    if any(shortlist.rows for shortlist in shortlists):
        _stage(connection, stage, shortlist_progress_query(tables, rows, None, now))
    first_new_id = (connection.execute(sa.select(sa.func.max(reporting.c.id))).scalar() or 0) + 1
    _update_and_insert(connection, reporting, stage, version, now)
    # A user's rows are found through the (userid, …) index: ``companyid + 0`` keeps MariaDB, which has no
    # statistics on the scope tables, from reading every row of the company through its index instead.
    same_user = (reporting.c.companyid + 0 == users.c.companyid, reporting.c.userid == users.c.userid)
    same_course = (reporting.c.companyid == courses.c.companyid, reporting.c.courseid == courses.c.courseid)
    same_row = (
        reporting.c.companyid + 0 == rows.c.companyid,
        *(reporting.c[c] == rows.c[c] for c in ("userid", "courseid")),
    )
    for in_scope in (same_user, same_course, same_row):
        connection.execute(_tombstone(reporting, stage, version, now, *in_scope))
    for table in (stage, users, courses, other_courses, rows):
        _drop(connection, table)
    return _stamped(connection, reporting, version, first_new_id)
