"""What changed since a time, read from Moodle's standard log instead of scanning Moodle's tables.

Moodle logs an event for every change that moves a learner's progress: enrolments created,
updated or deleted, module completions (overrides included), course completions (whatever time
the completion cron back-dates them to), profile edits, suspensions and deletions, and course,
module and enrolment-method edits. ``logstore_standard_log`` is indexed by ``timecreated``, so
reading an hour of it costs a range scan, where the timestamp and digest checks of
:mod:`.changes` scan the largest tables of the site every run.

Used when the site's standard log store is enabled (Moodle's default). What Moodle does without an
event (an enrolment reaching its ``timestart``/``timeend``) is still checked in the tables; edits
made straight in the database, or while the log store was off, are caught by the daily
reconciliation, which recomputes everything.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.siteconfig import plugin_config

STANDARD_STORE = "logstore_standard"
ROW_EVENTS = (  # relateduserid's row in courseid
    "\\core\\event\\user_enrolment_created",
    "\\core\\event\\user_enrolment_updated",
    "\\core\\event\\user_enrolment_deleted",
    "\\core\\event\\course_module_completion_updated",
    "\\core\\event\\course_completed",
)
USER_EVENTS = (  # every row of relateduserid (objectid when absent)
    "\\core\\event\\user_updated",
    "\\core\\event\\user_deleted",
)
MEMBERSHIP_EVENTS = (  # every row of the member, in every company: IOMAD names them in relateduserid or userid
    "\\block_iomad_company_admin\\event\\company_user_assigned",
    "\\block_iomad_company_admin\\event\\company_user_unassigned",
)
COURSE_EVENTS = (  # every row of courseid
    "\\core\\event\\course_updated",
    "\\core\\event\\course_deleted",
    "\\core\\event\\course_restored",
    "\\core\\event\\course_reset_ended",
    "\\core\\event\\course_content_deleted",
    "\\core\\event\\course_completion_updated",
    "\\core\\event\\course_module_created",
    "\\core\\event\\course_module_updated",
    "\\core\\event\\course_module_deleted",
    "\\core\\event\\enrol_instance_created",
    "\\core\\event\\enrol_instance_updated",
    "\\core\\event\\enrol_instance_deleted",
)


def standard_store_enabled(connection, tables):
    """Whether the standard log store is among Moodle's enabled stores (``tool_log | enabled_stores``)."""
    stores = plugin_config(connection, tables, "tool_log", "enabled_stores")
    return STANDARD_STORE in (stores or "").split(",")


def standard_log_in_use(connection, tables):
    """Whether the site logs to ``logstore_standard_log`` now: the store is enabled and its table exists."""
    if not standard_store_enabled(connection, tables):
        return False
    return tables.logstore_standard_log.name in sa.inspect(connection).get_table_names()


@dataclass(frozen=True)
class LoggedChanges:
    users: frozenset  # users whose every row may have changed
    rows: frozenset  # (userid, courseid) rows that may have changed
    courses: frozenset  # courses whose every row may have changed


PROGRESS_EVENTS = ROW_EVENTS + USER_EVENTS + MEMBERSHIP_EVENTS + COURSE_EVENTS


def event_columns(log):
    """The columns :func:`changes_named` reads, in its order."""
    return log.c.eventname, log.c.relateduserid, log.c.userid, log.c.objectid, log.c.courseid


def changes_named(events):
    """The users, rows and courses that ``events`` (rows of :func:`event_columns`) name; other events are ignored."""
    users, rows, courses = set(), set(), set()
    for eventname, relateduserid, userid, objectid, courseid in events:
        if eventname in COURSE_EVENTS:
            courses.add(courseid)
        elif eventname in USER_EVENTS:
            users.add(relateduserid or objectid)
        elif eventname in MEMBERSHIP_EVENTS:
            users.add(relateduserid or userid)
        elif eventname in ROW_EVENTS and relateduserid and courseid:
            rows.add((relateduserid, courseid))
    return LoggedChanges(frozenset(users - {None}), frozenset(rows), frozenset(courses - {None}))


def logged_changes(connection, tables, since):
    """The users, rows and courses named by progress-moving events logged at or after ``since``."""
    log = tables.logstore_standard_log
    query = sa.select(*event_columns(log)).where(log.c.timecreated >= since, log.c.eventname.in_(PROGRESS_EVENTS))
    return changes_named(connection.execute(query))
