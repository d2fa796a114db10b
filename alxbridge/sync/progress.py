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


def _enrolment_start(user_enrolments):
    return sa.case((user_enrolments.c.timestart > 0, user_enrolments.c.timestart), else_=user_enrolments.c.timecreated)


def _active_enrolment(user_enrolments, enrol, now):
    return (
        enrol.c.status == 0,
        user_enrolments.c.status == 0,
        user_enrolments.c.timestart <= now,
        sa.or_(user_enrolments.c.timeend == 0, user_enrolments.c.timeend > now),
    )


def _trackable(course_modules):
    return sa.and_(course_modules.c.completion > 0, course_modules.c.deletioninprogress == 0)


def _progress(tables, enrolled, trackable, complete, *columns):
    """The :data:`PROGRESS_COLUMNS` (then ``columns``) of the ``enrolled`` (userid, courseid, enrolstart) rows.

    ``trackable`` and ``complete`` count the course's trackable modules and the user's complete ones
    (NULL counts as none).
    """
    user, course, course_completions = tables.user, tables.course, tables.course_completions
    completed = course_completions.c.timecompleted > 0
    complete_modules = sa.func.coalesce(complete, 0)
    # A decimal hundred: MySQL computes in decimals as before (the driver writes 100.0), PostgreSQL in NUMERIC,
    # which its round(…, 2) needs (it has none for double precision); SQLite gets a float.
    hundred = sa.literal(Decimal("100.0"), sa.Numeric(4, 1))
    percentage = sa.case(
        (completed, 100),
        (trackable > 0, sa.func.round(complete_modules * hundred / trackable, 2)),
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
            *columns,
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
        .where(user.c.deleted == 0, user.c.suspended == 0)
    )


def progress_query(tables, companyid, course_ids, now, user_ids=None):
    """SELECT of :data:`PROGRESS_COLUMNS` for the company's exposed rows among ``course_ids``.

    ``user_ids`` narrows the query to those users (the incremental sync and single-user lookups).
    The statement is unordered so it can feed ``INSERT … SELECT``; add ``order_by`` to page it.
    """
    company_users, user_enrolments, enrol = tables.company_users, tables.user_enrolments, tables.enrol
    course_modules, module_completion = tables.course_modules, tables.course_modules_completion
    course_ids = sorted(course_ids)

    members = sa.select(company_users.c.userid).where(
        company_users.c.companyid == companyid, company_users.c.suspended == 0
    )
    if user_ids is not None:
        members = members.where(company_users.c.userid.in_(sorted(user_ids)))
    enrolled = (
        sa.select(
            user_enrolments.c.userid,
            enrol.c.courseid,
            sa.func.min(_enrolment_start(user_enrolments)).label("enrolstart"),
        )
        .join(enrol, enrol.c.id == user_enrolments.c.enrolid)
        .where(
            enrol.c.courseid.in_(course_ids),
            *_active_enrolment(user_enrolments, enrol, now),
            user_enrolments.c.userid.in_(members),
        )
        .group_by(user_enrolments.c.userid, enrol.c.courseid)
        .subquery("enrolled")
    )
    trackable = sa.and_(course_modules.c.course.in_(course_ids), _trackable(course_modules))
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
    return (
        _progress(tables, enrolled, modules.c.trackable, done.c.complete)
        .outerjoin(modules, modules.c.course == enrolled.c.courseid)
        .outerjoin(done, sa.and_(done.c.userid == enrolled.c.userid, done.c.course == enrolled.c.courseid))
    )


def shortlist_progress_query(tables, users, courses, now):
    """SELECT of :data:`PROGRESS_COLUMNS` and ``companyid`` for many companies' shortlisted users at once.

    ``users`` holds (companyid, userid) pairs, ``courses`` the (companyid, courseid) pairs to compute:
    the rows are those of :func:`progress_query` for each company, its users and its courses. With
    ``courses=None``, ``users`` holds (companyid, userid, courseid) rows and only those are computed.
    Each table is read once (MySQL cannot open a temporary table twice in one statement), so module
    counts are correlated subqueries, evaluated once per (company, user, course).
    """
    company_users, user_enrolments, enrol = tables.company_users, tables.user_enrolments, tables.enrol
    course_modules, module_completion = tables.course_modules, tables.course_modules_completion
    is_member = sa.exists().where(
        company_users.c.companyid == users.c.companyid,
        company_users.c.userid == users.c.userid,
        company_users.c.suspended == 0,
    )
    trackable = (
        sa.select(sa.func.count())
        .where(course_modules.c.course == enrol.c.courseid, _trackable(course_modules))
        .scalar_subquery()
    )
    complete = (
        sa.select(sa.func.count())
        .select_from(module_completion.join(course_modules, course_modules.c.id == module_completion.c.coursemoduleid))
        .where(
            module_completion.c.userid == user_enrolments.c.userid,
            course_modules.c.course == enrol.c.courseid,
            _trackable(course_modules),
            module_completion.c.completionstate.in_(COMPLETE_STATES),
        )
        .scalar_subquery()
    )
    if courses is None:
        rows = (
            users.join(user_enrolments, user_enrolments.c.userid == users.c.userid)
            .join(enrol, sa.and_(enrol.c.id == user_enrolments.c.enrolid, enrol.c.courseid == users.c.courseid))
        )  # fmt: skip
    else:
        rows = (
            users.join(user_enrolments, user_enrolments.c.userid == users.c.userid)
            .join(enrol, enrol.c.id == user_enrolments.c.enrolid)
            .join(courses, sa.and_(courses.c.companyid == users.c.companyid, courses.c.courseid == enrol.c.courseid))
        )
    enrolled = (
        sa.select(
            users.c.companyid,
            user_enrolments.c.userid,
            enrol.c.courseid,
            sa.func.min(_enrolment_start(user_enrolments)).label("enrolstart"),
            trackable.label("trackable"),
            complete.label("complete"),
        )
        .select_from(rows)
        .where(is_member, *_active_enrolment(user_enrolments, enrol, now))
        .group_by(users.c.companyid, user_enrolments.c.userid, enrol.c.courseid)
        # Without statistics on the temporary tables MariaDB would pair every course with every user first.
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
        .subquery("enrolled")
    )
    companyid = enrolled.c.companyid.label("companyid")
    return _progress(tables, enrolled, enrolled.c.trackable, enrolled.c.complete, companyid)


def compute_company_progress(connection, tables, companyid, now, course_ids=None, user_ids=None):
    """Yield the company's exposed progress rows (reporting-table columns), ordered by user and course.

    ``course_ids`` narrows the company's exposed courses (ids outside them are ignored, never
    exposed); ``user_ids`` narrows the users. Rows are dicts with ``companyid`` included and
    ``percentage`` as a ``Decimal`` with 2 places, as read from the reporting table.
    """
    exposed = exposed_course_ids(connection, tables, companyid)
    if course_ids is not None:
        exposed &= frozenset(course_ids)
    query = progress_query(tables, companyid, exposed, now, user_ids)
    for row in connection.execute(query.order_by("userid", "courseid")).mappings():
        yield {**row, "companyid": companyid, "percentage": Decimal(row["percentage"]).quantize(Decimal("0.01"))}
