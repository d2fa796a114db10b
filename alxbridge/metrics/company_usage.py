"""One company's numbers on its settings form: learners per course, and today's calls against the daily limit."""

from dataclasses import dataclass

import sqlalchemy as sa

from ..sync.progress import progress_query

NEAR_LIMIT_PERCENT = 80  # the plugin's warning style from 80 % of the limit (cc:2004-2031)


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


@dataclass(frozen=True)
class DailyUsage:
    calls: int
    limit: int | None  # None: unlimited

    @property
    def percent(self):
        return round(self.calls * 100 / self.limit) if self.limit else None

    @property
    def near_limit(self):
        return self.percent is not None and self.percent >= NEAR_LIMIT_PERCENT


def company_usage_today(connection, tables, companyid, limit, moment):
    """Logged calls since local midnight by users of the company (any ``company_users`` row, as cc:2004-2031).

    This is the plugin's "Today's Usage" box. The web service applies ``limit`` to each token owner
    separately, so the company's users together may pass it while each of them stays within it.
    """
    logs, members = tables.local_alx_api_logs, tables.company_users
    company_users = sa.select(members.c.userid).where(members.c.companyid == companyid)
    calls = connection.execute(
        sa.select(sa.func.count())
        .select_from(logs)
        .where(logs.c.timeaccessed >= moment.midnight, logs.c.userid.in_(company_users))
    ).scalar()
    return DailyUsage(calls, limit)
