"""What a sync job changed, by course and by user: the plugin's "Affected Courses" and "Affected Users" lists,
recorded with the admin job (:mod:`alxbridge.jobs.background`) and shown on its status page.

The sync stamps every reporting row it changes, and only those, with its run's version
(``last_updated``; versions are unique and increase run by run). So right after a job, under the
sync lock that keeps every other writer out, the rows stamped with the job's versions are exactly
the rows it created, updated or deleted:

* **created**: a stamped row whose ``id`` is at least ``first_new_id`` (one above the highest id
  before the job's first write);
* **deleted**: an older stamped row that is now a tombstone (``is_deleted = 1``);
* **updated**: every other stamped row, a revived tombstone included (the writer counts it so too).

The totals over all courses equal the job's created / updated / deleted counts. The plugin's lists
matched rows by time (``last_updated ≥ start − 1 s``) and so also listed rows written by anything
else in that second; its pages read names from the reporting rows, as these lists do (a
tombstone keeps the names it had).

The sync itself does not change: the lists are read once per admin job, after its runs
(``bench/job_changes.py``: on MariaDB with 52 628 rows, 0.82 s after a first populate that wrote
every row, 0.07× its run; 27 ms after a run that changed 1 %; 8 ms after one that changed none).
"""

from dataclasses import dataclass

import sqlalchemy as sa

TOP_COURSES = 20  # the plugin's populate page: top 20 courses
TOP_USERS = 50  # and top 50 users


@dataclass(frozen=True)
class Changes:
    created: int
    updated: int
    deleted: int

    @property
    def total(self):
        return self.created + self.updated + self.deleted


@dataclass(frozen=True)
class AffectedCourse:
    courseid: int
    coursename: str
    changes: Changes


@dataclass(frozen=True)
class AffectedUser:
    userid: int
    name: str
    email: str
    courses: int  # distinct courses among the user's changed rows
    changes: Changes


@dataclass(frozen=True)
class Affected:
    """The job's changed rows: how many courses and users they touch, and the ones with the most rows."""

    courses: int
    users: int
    top_courses: tuple
    top_users: tuple

    def as_data(self):
        return {
            "courses": self.courses, "users": self.users,
            "top_courses": [[c.courseid, c.coursename, *_counts(c.changes)] for c in self.top_courses],
            "top_users": [[u.userid, u.name, u.email, u.courses, *_counts(u.changes)] for u in self.top_users],
        }  # fmt: skip

    @classmethod
    def from_data(cls, data):
        return cls(
            data["courses"], data["users"],
            tuple(AffectedCourse(c[0], c[1], Changes(*c[2:])) for c in data["top_courses"]),
            tuple(AffectedUser(*u[:4], Changes(*u[4:])) for u in data["top_users"]),
        )  # fmt: skip


def _counts(changes):
    return changes.created, changes.updated, changes.deleted


def _change_columns(reporting, first_new_id):
    """``rows, created, deleted`` of a group of stamped rows."""
    new = reporting.c.id >= first_new_id
    created = sa.func.sum(sa.case((new, 1), else_=0))
    deleted = sa.func.sum(sa.case((sa.and_(~new, reporting.c.is_deleted != 0), 1), else_=0))
    return sa.func.count().label("changed_rows"), created, deleted


def _changes(rows, created, deleted):
    created, deleted = int(created), int(deleted)
    return Changes(created, int(rows) - created - deleted, deleted)


def job_changes(connection, tables, versions, first_new_id, top_courses=TOP_COURSES, top_users=TOP_USERS):
    """The :class:`Affected` of the runs that wrote ``versions``; call it under the sync lock, after the runs.

    Three statements over the ``last_updated`` index: they read the changed rows only.
    """
    if not versions:
        return Affected(0, 0, (), ())
    reporting = tables.local_alx_api_reporting
    stamped = reporting.c.last_updated.in_(sorted(versions))
    courses, users = connection.execute(
        sa.select(sa.func.count(sa.distinct(reporting.c.courseid)), sa.func.count(sa.distinct(reporting.c.userid)))
        .where(stamped)
    ).one()  # fmt: skip
    rows, created, deleted = _change_columns(reporting, first_new_id)
    by_course = connection.execute(
        sa.select(reporting.c.courseid, sa.func.max(reporting.c.coursename), rows, created, deleted)
        .where(stamped)
        .group_by(reporting.c.courseid)
        .order_by(rows.desc(), reporting.c.courseid)
        .limit(top_courses)
    )  # fmt: skip
    by_user = connection.execute(
        sa.select(
            reporting.c.userid, sa.func.max(reporting.c.firstname), sa.func.max(reporting.c.lastname),
            sa.func.max(reporting.c.email), sa.func.count(sa.distinct(reporting.c.courseid)), rows, created, deleted,
        )
        .where(stamped)
        .group_by(reporting.c.userid)
        .order_by(rows.desc(), reporting.c.userid)
        .limit(top_users)
    )  # fmt: skip
    return Affected(
        int(courses), int(users),
        tuple(AffectedCourse(c, name, _changes(*counts)) for c, name, *counts in by_course),
        tuple(
            AffectedUser(u, f"{first} {last}".strip(), email, int(n), _changes(*counts))
            for u, first, last, email, n, *counts in by_user
        ),
    )  # fmt: skip


def next_row_id(connection, tables):
    """One above the highest reporting row id: every row inserted from now on has an id at least this."""
    reporting = tables.local_alx_api_reporting
    return (connection.execute(sa.select(sa.func.max(reporting.c.id))).scalar() or 0) + 1
