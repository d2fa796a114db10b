"""Which courses a company exposes: its visible IOMAD courses that are enabled for the API.

Enablement follows the plugin (``course_<id> = 1`` settings; a company without any ``course_*``
setting has every course enabled), but enabled ids are always intersected with the company's own
visible courses, so a stale or copied setting never exposes another company's course (B15).
"""

import sqlalchemy as sa

from ..moodle.plugin_settings import read_company_settings, read_course_flags_of_all_companies

SITE_COURSE_ID = 1  # Moodle's front page is course 1 and never a company course


def visible_company_courses(connection, tables, companyid=None):
    """``{companyid: {courseid, …}}`` of visible courses listed in ``company_course`` (one company, or all)."""
    company_course, course = tables.company_course, tables.course
    query = (
        sa.select(company_course.c.companyid, company_course.c.courseid)
        .distinct()
        .join(course, course.c.id == company_course.c.courseid)
        .where(course.c.visible == 1, course.c.id != SITE_COURSE_ID)
    )
    if companyid is not None:
        query = query.where(company_course.c.companyid == companyid)
    courses = {}
    for company, courseid in connection.execute(query):
        courses.setdefault(company, set()).add(courseid)
    return courses


def exposed_among(company_courses, settings):
    """The ids of ``company_courses`` (visible ones) that ``settings`` enable (all when no ``course_*`` row)."""
    enabled = settings.enabled_course_ids if settings is not None else None
    return frozenset(company_courses if enabled is None else company_courses & enabled)


def exposed_course_ids(connection, tables, companyid):
    """The course ids whose progress the company exposes (an empty set when none)."""
    courses = visible_company_courses(connection, tables, companyid).get(companyid, set())
    return exposed_among(courses, read_company_settings(connection, tables, companyid))


def exposed_courses_of_all_companies(connection, tables, companyids):
    """``{companyid: frozenset(courseids)}`` for ``companyids``, in two queries whatever their number."""
    courses = visible_company_courses(connection, tables)
    settings = read_course_flags_of_all_companies(connection, tables)
    return {
        companyid: exposed_among(courses.get(companyid, set()), settings.get(companyid)) for companyid in companyids
    }
