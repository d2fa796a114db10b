"""Learners per course of one company, as its settings form shows them next to each course."""

import sqlalchemy as sa

from ..sync.progress import progress_query


def course_learners(connection, tables, companyid, course_ids, now):
    """``{courseid: users}``: the company's users with an active enrolment in each course, as of ``now``.

    Counted over the progress query (one row per exposed user and course), so each number is exactly
    how many rows the web service reports for the course once it is enabled: company members not
    suspended in the company or in Moodle, not deleted, with an enrolment and method active now.
    """
    course_ids = sorted(course_ids)
    if not course_ids:
        return {}
    rows = progress_query(tables, companyid, course_ids, now).subquery("progress")
    counts = dict(connection.execute(sa.select(rows.c.courseid, sa.func.count()).group_by(rows.c.courseid)).all())
    return {courseid: counts.get(courseid, 0) for courseid in course_ids}
