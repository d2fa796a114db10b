"""Course progress of a company's users, computed from Moodle's tables in one set-based query.

This is the only definition of progress in the bridge: the sync stages its rows into the
reporting table, and the web service's live fallback serves them directly. Semantics are Moodle
core's (design §2), not the plugin's formula (B11), and every (user, course) pair is a row (B1):

* exposed: the user is a member of the company, not deleted or suspended (in Moodle or in the
  company), with an active enrolment in one of the company's exposed courses: ``user_enrolments``
  and ``enrol`` both enabled and now inside ``timestart``/``timeend`` (``timeend = 0`` is open);
* ``status``: ``completed`` iff ``course_completions.timecompleted > 0``; else ``in_progress`` iff a
  trackable module is complete or ``timestarted > 0``; else ``not_started``;
* ``percentage``: 100 when completed; else complete ÷ trackable modules × 100 to 2 decimals, 0 when
  the course tracks nothing (trackable: ``completion > 0`` and not being deleted; complete:
  ``completionstate`` 1 or 2 — pass counts, fail (3) does not);
* ``timecompleted``: the course completion time or 0; ``timestarted``: the course's
  ``timestarted`` when set, else the earliest active enrolment's ``timestart`` (or its
  ``timecreated`` when the enrolment has no start).
"""

import time
from decimal import Decimal

import sqlalchemy as sa

from .scope import exposed_course_ids

COMPLETE_STATES = (1, 2)  # COMPLETION_COMPLETE, COMPLETION_COMPLETE_PASS
PERCENTAGE_TYPE = sa.Numeric(5, 2, asdecimal=True)
PROGRESS_COLUMNS = (
    "userid",
    "courseid",
    "firstname",
    "lastname",
    "email",
    "coursename",
    "timecompleted",
    "timestarted",
    "percentage",
    "status",
)


def progress_query(tables, companyid, course_ids, now, user_ids=None):
    """SELECT of :data:`PROGRESS_COLUMNS` for the company's exposed rows among ``course_ids``.

    ``user_ids`` narrows the query to those users (the incremental sync and single-user lookups).
    The statement is unordered so it can feed ``INSERT … SELECT``; add ``order_by`` to page it.
    """
    user, course, company_users = tables.user, tables.course, tables.company_users
    user_enrolments, enrol = tables.user_enrolments, tables.enrol
    course_completions, course_modules = tables.course_completions, tables.course_modules
    module_completion = tables.course_modules_completion
    course_ids = sorted(course_ids)

    members = sa.select(company_users.c.userid).where(
        company_users.c.companyid == companyid, company_users.c.suspended == 0
    )
    if user_ids is not None:
        members = members.where(company_users.c.userid.in_(sorted(user_ids)))

    enrolment_start = sa.case(
        (user_enrolments.c.timestart > 0, user_enrolments.c.timestart), else_=user_enrolments.c.timecreated
    )
    enrolled = (
        sa.select(user_enrolments.c.userid, enrol.c.courseid, sa.func.min(enrolment_start).label("enrolstart"))
        .join(enrol, enrol.c.id == user_enrolments.c.enrolid)
        .where(
            enrol.c.courseid.in_(course_ids),
            enrol.c.status == 0,
            user_enrolments.c.status == 0,
            user_enrolments.c.timestart <= now,
            sa.or_(user_enrolments.c.timeend == 0, user_enrolments.c.timeend > now),
            user_enrolments.c.userid.in_(members),
        )
        .group_by(user_enrolments.c.userid, enrol.c.courseid)
        .subquery("enrolled")
    )

    trackable = sa.and_(
        course_modules.c.course.in_(course_ids),
        course_modules.c.completion > 0,
        course_modules.c.deletioninprogress == 0,
    )
    modules = (
        sa.select(course_modules.c.course, sa.func.count().label("trackable"))
        .where(trackable)
        .group_by(course_modules.c.course)
        .subquery("modules")
    )
    done = (
        sa.select(module_completion.c.userid, course_modules.c.course, sa.func.count().label("complete"))
        .join(course_modules, course_modules.c.id == module_completion.c.coursemoduleid)
        .where(
            trackable,
            module_completion.c.completionstate.in_(COMPLETE_STATES),
            module_completion.c.userid.in_(members),
        )
        .group_by(module_completion.c.userid, course_modules.c.course)
        .subquery("done")
    )

    completed = course_completions.c.timecompleted > 0
    complete_modules = sa.func.coalesce(done.c.complete, 0)
    percentage = sa.case(
        (completed, 100),
        (modules.c.trackable > 0, sa.func.round(complete_modules * 100.0 / modules.c.trackable, 2)),
        else_=0,
    )
    status = sa.case(
        (completed, "completed"),
        (sa.or_(complete_modules > 0, course_completions.c.timestarted > 0), "in_progress"),
        else_="not_started",
    )
    timestarted = sa.case(
        (course_completions.c.timestarted > 0, course_completions.c.timestarted), else_=enrolled.c.enrolstart
    )
    return (
        sa.select(
            enrolled.c.userid.label("userid"),
            enrolled.c.courseid.label("courseid"),
            user.c.firstname,
            user.c.lastname,
            user.c.email,
            course.c.fullname.label("coursename"),
            sa.func.coalesce(course_completions.c.timecompleted, 0).label("timecompleted"),
            timestarted.label("timestarted"),
            sa.type_coerce(percentage, PERCENTAGE_TYPE).label("percentage"),
            status.label("status"),
        )
        .select_from(enrolled)
        .join(user, user.c.id == enrolled.c.userid)
        .join(course, course.c.id == enrolled.c.courseid)
        .outerjoin(
            course_completions,
            sa.and_(
                course_completions.c.userid == enrolled.c.userid, course_completions.c.course == enrolled.c.courseid
            ),
        )
        .outerjoin(modules, modules.c.course == enrolled.c.courseid)
        .outerjoin(done, sa.and_(done.c.userid == enrolled.c.userid, done.c.course == enrolled.c.courseid))
        .where(user.c.deleted == 0, user.c.suspended == 0)
    )


def compute_company_progress(connection, tables, companyid, course_ids=None, user_ids=None, now=None):
    """Yield the company's exposed progress rows (reporting-table columns), ordered by user and course.

    ``course_ids`` narrows the company's exposed courses (ids outside them are ignored, never
    exposed); ``user_ids`` narrows the users. Rows are dicts with ``companyid`` included and
    ``percentage`` as a ``Decimal`` with 2 places, as read from the reporting table.
    """
    exposed = exposed_course_ids(connection, tables, companyid)
    if course_ids is not None:
        exposed &= frozenset(course_ids)
    now = int(time.time()) if now is None else now
    query = progress_query(tables, companyid, exposed, now, user_ids)
    for row in connection.execute(query.order_by("userid", "courseid")).mappings():
        yield {**row, "companyid": companyid, "percentage": Decimal(row["percentage"]).quantize(Decimal("0.01"))}
