"""A tiny Moodle/IOMAD site writer for tests that need exact, hand-placed rows.

Every method inserts the rows Moodle (or IOMAD) would write for that action, stamped with the
test's :class:`Clock` as Moodle stamps them with ``time()``, and returns the new id, so a test
reads like a story: ``site.enrol(alice, maths)``, ``site.complete_module(alice, quiz)``.
"""

from dataclasses import dataclass

import sqlalchemy as sa

NOW = 1_750_000_000  # a fixed "now" (2025-06-15) so tests never depend on the clock
DAY = 86400
IOMAD_EVENT = "\\block_iomad_company_admin\\event\\{}"  # IOMAD names the member in the event's userid


class Clock:
    """The tests' time: the site stamps its rows with it and the bridge reads it; move it with :meth:`advance`."""

    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
        return self.now


@dataclass
class Course:
    id: int
    modules: list  # course_modules ids, in creation order


class SiteBuilder:
    """Writes a site into ``database`` at ``clock``'s time, and makes ``clock`` the bridge's clock on it."""

    def __init__(self, database, clock=None):
        self.database = database
        self.tables = database.tables
        self.clock = clock or Clock()
        database.clock = self.clock
        self._enrol_instances = {}
        self.logging = False  # see use_standard_log()

    @property
    def now(self):
        return self.clock()

    def create_tables(self):
        """All tables, and the front page course every Moodle site has as course 1."""
        self.database.schema.metadata.create_all(self.database.engine)
        self._insert(self.tables.course, category=0, fullname="Site", shortname="site", format="site")
        return self

    def _insert(self, table, **values):
        with self.database.begin() as connection:
            return connection.execute(sa.insert(table).values(**values)).inserted_primary_key[0]

    def _update(self, table, where, **values):
        with self.database.begin() as connection:
            connection.execute(sa.update(table).where(where).values(**values))

    def _delete(self, table, where):
        with self.database.begin() as connection:
            connection.execute(sa.delete(table).where(where))

    def empty(self, *tables):
        """Delete every row of ``tables``, in one transaction."""
        with self.database.begin() as connection:
            for table in tables:
                connection.execute(sa.delete(table))

    # IOMAD
    def company(self, name):
        return self._insert(self.tables.company, name=name, shortname=name[:25], city="Town", country="GB", theme="")

    def add_to_company(self, userid, companyid, suspended=0):
        self._insert(self.tables.company_users, companyid=companyid, userid=userid, departmentid=0, suspended=suspended)
        self.log_event(IOMAD_EVENT.format("company_user_assigned"), userid=userid, objectid=companyid)

    def remove_from_company(self, userid, companyid):
        t = self.tables.company_users
        self._delete(t, sa.and_(t.c.userid == userid, t.c.companyid == companyid))
        self.log_event(IOMAD_EVENT.format("company_user_unassigned"), userid=userid, objectid=companyid)

    # Moodle core
    def user(self, firstname, lastname=None, companies=(), **columns):
        lastname = lastname or "Tester"
        defaults = {
            "username": f"{firstname}.{lastname}".lower(),
            "password": "",
            "email": f"{firstname}.{lastname}@example.com".lower(),
        }
        userid = self._insert(
            self.tables.user,
            firstname=firstname,
            lastname=lastname,
            confirmed=1,
            mnethostid=1,
            timecreated=self.now - 90 * 86400,
            timemodified=self.now - 90 * 86400,
            **{**defaults, **columns},
        )
        for companyid in companies:
            self.add_to_company(userid, companyid)
        return userid

    def update_user(self, userid, **columns):
        """Edit the user as Moodle does, stamping ``timemodified``."""
        self._update(self.tables.user, self.tables.user.c.id == userid, **{"timemodified": self.now, **columns})
        self.log_event("user_updated", relateduserid=userid, objectid=userid)

    def course(self, fullname, companies=(), modules=(1, 1, 1), visible=1):
        """A course with one course module per entry of ``modules`` (its ``completion`` setting)."""
        courseid = self._insert(
            self.tables.course,
            category=1,
            fullname=fullname,
            shortname=fullname,
            visible=visible,
            enablecompletion=1,
            timecreated=self.now - 100 * 86400,
            timemodified=self.now - 100 * 86400,
        )
        for companyid in companies:
            self.add_course_to_company(courseid, companyid)
        module_ids = [self.module(courseid, completion) for completion in modules]
        return Course(courseid, module_ids)

    def add_course_to_company(self, courseid, companyid):
        self._insert(self.tables.company_course, companyid=companyid, courseid=courseid, departmentid=0)

    def remove_course_from_company(self, courseid, companyid):
        t = self.tables.company_course
        self._delete(t, sa.and_(t.c.courseid == courseid, t.c.companyid == companyid))

    def update_course(self, course, **columns):
        self._update(self.tables.course, self.tables.course.c.id == course.id, **{"timemodified": self.now, **columns})
        self.log_event("course_updated", courseid=course.id, objectid=course.id)

    def module(self, courseid, completion=1, **columns):
        self.log_event("course_module_created", courseid=courseid)
        return self._insert(
            self.tables.course_modules,
            course=courseid,
            module=1,
            instance=1,
            section=1,
            completion=completion,
            added=self.now - 100 * 86400,
            **columns,
        )

    def enrol_instance(self, course, method="manual"):
        key = (course.id, method)
        if key not in self._enrol_instances:
            self._enrol_instances[key] = self._insert(
                self.tables.enrol, enrol=method, courseid=course.id, status=0, timecreated=self.now - 100 * 86400
            )
        return self._enrol_instances[key]

    def enrol(self, userid, course, method="manual", status=0, timestart=0, timeend=0, timecreated=None):
        timecreated = self.now if timecreated is None else timecreated
        self.log_event("user_enrolment_created", relateduserid=userid, courseid=course.id)
        return self._insert(
            self.tables.user_enrolments,
            enrolid=self.enrol_instance(course, method),
            userid=userid,
            status=status,
            timestart=timestart,
            timeend=timeend,
            timecreated=timecreated,
            timemodified=timecreated,
        )

    def _log_enrolment_event(self, name, enrolmentid):
        if self.logging:
            ue, enrol = self.tables.user_enrolments, self.tables.enrol
            with self.database.connect() as connection:
                userid, courseid = connection.execute(
                    sa.select(ue.c.userid, enrol.c.courseid)
                    .join(enrol, enrol.c.id == ue.c.enrolid)
                    .where(ue.c.id == enrolmentid)
                ).one()
            self.log_event(name, relateduserid=userid, courseid=courseid, objectid=enrolmentid)

    def update_enrolment(self, enrolmentid, **columns):
        t = self.tables.user_enrolments
        self._update(t, t.c.id == enrolmentid, **{"timemodified": self.now, **columns})
        self._log_enrolment_event("user_enrolment_updated", enrolmentid)

    def unenrol(self, enrolmentid):
        self._log_enrolment_event("user_enrolment_deleted", enrolmentid)
        self._delete(self.tables.user_enrolments, self.tables.user_enrolments.c.id == enrolmentid)

    def complete_module(self, userid, cmid, state=1, timemodified=None):
        t = self.tables.course_modules_completion
        timemodified = self.now if timemodified is None else timemodified
        self._delete(t, sa.and_(t.c.userid == userid, t.c.coursemoduleid == cmid))
        self._insert(t, coursemoduleid=cmid, userid=userid, completionstate=state, timemodified=timemodified)
        if self.logging:
            modules = self.tables.course_modules
            with self.database.connect() as connection:
                courseid = connection.execute(sa.select(modules.c.course).where(modules.c.id == cmid)).scalar_one()
            self.log_event("course_module_completion_updated", relateduserid=userid, courseid=courseid)

    def course_completion(self, userid, course, timecompleted=None, timestarted=0):
        """The course completion row as the completion cron writes it: back-dated times, no timestamp of its own
        (with the log on, the ``course_completed`` event is logged now)."""
        t = self.tables.course_completions
        self._delete(t, sa.and_(t.c.userid == userid, t.c.course == course.id))
        self._insert(
            t, userid=userid, course=course.id, timeenrolled=0, timestarted=timestarted, timecompleted=timecompleted
        )
        if timecompleted:
            self.log_event("course_completed", relateduserid=userid, courseid=course.id)

    # Moodle's standard log
    def use_standard_log(self, enabled=True):
        """Turn the standard log store on (Moodle's default) or off; while on, the actions here log their events."""
        t = self.tables.config_plugins
        self._delete(t, sa.and_(t.c.plugin == "tool_log", t.c.name == "enabled_stores"))
        self._insert(t, plugin="tool_log", name="enabled_stores", value="logstore_standard" if enabled else "")
        self.logging = enabled

    def log_event(self, name, relateduserid=None, courseid=0, objectid=None, userid=2):
        """The ``logstore_standard_log`` row of ``\\core\\event\\<name>``, or of ``name`` when it is a full event
        name (only when the log is on); ``userid`` is who acted (the admin, unless IOMAD names the member there)."""
        if self.logging:
            self._insert(self.tables.logstore_standard_log, **self.event_row(name, relateduserid, courseid, objectid,
                                                                              userid))  # fmt: skip

    def event_row(self, name, relateduserid=None, courseid=0, objectid=None, userid=2):
        """The columns of an event's ``logstore_standard_log`` row, logged now."""
        eventname = name if name.startswith("\\") else f"\\core\\event\\{name}"
        return dict(
            eventname=eventname, component=eventname.split("\\")[1], action="updated", target="event",
            objectid=objectid, crud="u", edulevel=0, contextid=1, contextlevel=50, contextinstanceid=courseid,
            userid=userid, courseid=courseid, relateduserid=relateduserid, timecreated=self.now, origin="web",
        )  # fmt: skip

    # The plugin's settings
    def company_setting(self, companyid, name, value):
        t = self.tables.local_alx_api_settings
        self._delete(t, sa.and_(t.c.companyid == companyid, t.c.setting_name == name))
        self._insert(
            t, companyid=companyid, setting_name=name, setting_value=value, timecreated=self.now, timemodified=self.now
        )

    def plugin_config(self, name, value):
        t = self.tables.config_plugins
        self._delete(t, sa.and_(t.c.plugin == "local_alx_report_api", t.c.name == name))
        self._insert(t, plugin="local_alx_report_api", name=name, value=str(value))

    def reporting_rows(self, companyid=None):
        """``{(userid, courseid, companyid): row}`` of the reporting table."""
        t = self.tables.local_alx_api_reporting
        query = sa.select(t)
        if companyid is not None:
            query = query.where(t.c.companyid == companyid)
        with self.database.connect() as connection:
            return {(r.userid, r.courseid, r.companyid): r for r in connection.execute(query)}

    # What the web service writes
    def api_call(self, userid, at=None, error=None, endpoint="get_course_progress", company="acme"):
        return self._insert(
            self.tables.local_alx_api_logs,
            userid=userid,
            company_shortname=company,
            endpoint=endpoint,
            record_count=0 if error else 10,
            error_message=error,
            response_time_ms=12.5,
            timeaccessed=self.now if at is None else at,
            ip_address="127.0.0.1",
            user_agent="test",
        )

    def core_config(self, name, value):
        t = self.tables.config
        self._delete(t, t.c.name == name)
        self._insert(t, name=name, value=str(value))

    def api_service(self, shortname="alx_report_api_custom", enabled=1, tokens=1):
        """The external service clients call, with ``tokens`` tokens that never expire."""
        serviceid = self._insert(
            self.tables.external_services,
            name=shortname,
            shortname=shortname,
            enabled=enabled,
            restrictedusers=0,
            timecreated=self.now,
        )
        for number in range(tokens):
            self._insert(
                self.tables.external_tokens,
                token=f"{serviceid:04d}{number:028d}",
                tokentype=0,
                userid=2,
                externalserviceid=serviceid,
                contextid=1,
                validuntil=0,
                timecreated=self.now,
            )
        return serviceid
