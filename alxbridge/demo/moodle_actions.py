"""What learners and teachers do on a Moodle site, written as Moodle writes it: the rows and the log events.

Each action of :data:`ACTIONS` picks its subject at random among the company members and courses
the reporting API covers, then writes, in the caller's transaction and stamped with the caller's
``now``, the rows Moodle changes and the ``logstore_standard_log`` rows of the events Moodle
triggers for it (column values as Moodle 4.1's event classes set them). The sync tick learns of the
change only from those events, so an action that forgot one would leave the reporting table behind
a full recompute; ``tests/test_demo_activity.py`` checks that it never does.

Subjects are found by probing a random ``id`` of an indexed table and taking the next row that fits,
so an action costs a few indexed lookups on a demo of any size, never a scan or ``ORDER BY RANDOM()``.
An action returns ``None`` when its probe found nothing to do (every module of the chosen enrolment
is complete, say); the caller simply tries again later.
"""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from . import catalog

ADMIN = 2  # who enrols, unenrols and overrides: the site admin, as the demo's teachers are not users of their own
CONTEXT_USER, CONTEXT_COURSE, CONTEXT_MODULE = 30, 50, 70
LEVEL_OTHER, LEVEL_PARTICIPATING = 0, 2  # \core\event\base::LEVEL_*
COMPLETE, COMPLETE_PASS = 1, 2  # course_modules_completion.completionstate
PROBES = 6  # random starting points tried before an action gives up for now
SUB_ADDRESS = "+lms"  # the profile edit toggles this sub-address in the learner's e-mail


@dataclass(frozen=True)
class Done:
    """What one action did, for the simulator's counts and debug log (never a secret)."""

    kind: str
    userid: int
    courseid: int | None
    events: int


@dataclass(frozen=True)
class Learner:
    userid: int
    companyid: int


class Site:
    """The tables, the transaction and the time one action works with."""

    def __init__(self, connection, tables, now, rng):
        self.connection, self.tables, self.now, self.rng = connection, tables, now, rng

    def one(self, query):
        return self.connection.execute(query).first()

    def insert(self, table, **values):
        return self.connection.execute(sa.insert(table).values(**values)).inserted_primary_key[0]

    def context_id(self, level, instanceid):
        context = self.tables.context
        return self.connection.execute(
            sa.select(context.c.id).where(context.c.contextlevel == level, context.c.instanceid == instanceid)
        ).scalar()

    def log(self, name, *, crud, context, userid, courseid=0, relateduserid=None, objecttable=None, objectid=None,
            edulevel=LEVEL_OTHER, other=None, origin="web"):  # fmt: skip
        """One ``logstore_standard_log`` row of ``\\core\\event\\<name>`` (or of ``name``, a full event name), as the
        standard store writes it."""
        level, instanceid = context
        eventname = name if name.startswith("\\") else f"\\core\\event\\{name}"
        target, _, action = eventname.rpartition("\\")[2].rpartition("_")
        self.insert(
            self.tables.logstore_standard_log, eventname=eventname, component=eventname.split("\\")[1], action=action,
            target=target, objecttable=objecttable, objectid=objectid, crud=crud, edulevel=edulevel,
            contextid=self.context_id(level, instanceid) or 0, contextlevel=level, contextinstanceid=instanceid,
            userid=userid, courseid=courseid, relateduserid=relateduserid, anonymous=0,
            other=json.dumps(other) if other is not None else "null", timecreated=self.now, origin=origin,
            ip="" if origin == "cli" else f"192.0.2.{userid % 250 + 1}", realuserid=None,
        )  # fmt: skip

    def probe(self, table, *conditions, joins=()):
        """The first row of ``table`` (with ``joins``) at or after a random id that meets ``conditions``."""
        bounds = self.one(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id)))
        if bounds is None or bounds[0] is None:
            return None
        query = sa.select(table)
        for joined, on in joins:
            query = query.join(joined, on)
        start = self.rng.randint(bounds[0], bounds[1])
        return self.one(query.where(table.c.id >= start, *conditions).order_by(table.c.id).limit(1)) or self.one(
            query.where(table.c.id < start, *conditions).order_by(table.c.id).limit(1)
        )

    def learner(self):
        """A random active learner of a company (not a manager, not suspended or deleted)."""
        members, user = self.tables.company_users, self.tables.user
        row = self.probe(
            members, members.c.suspended == 0, members.c.managertype == 0, user.c.deleted == 0,
            user.c.suspended == 0, joins=((user, user.c.id == members.c.userid),),
        )  # fmt: skip
        return Learner(row.userid, row.companyid) if row else None

    def company_courses(self, companyid):
        """The visible courses of the company, completion tracked: those whose rows the API serves."""
        cc, course = self.tables.company_course, self.tables.course
        return self.connection.execute(
            sa.select(course.c.id)
            .join(cc, cc.c.courseid == course.c.id)
            .where(cc.c.companyid == companyid, course.c.visible == 1, course.c.enablecompletion == 1, course.c.id > 1)
        ).scalars().all()  # fmt: skip

    def enrolments(self, userid, courseids, active=True):
        """``[(user_enrolments.id, courseid, enrol method)]`` of the learner in ``courseids``; active ones only
        unless ``active`` is false."""
        ue, enrol = self.tables.user_enrolments, self.tables.enrol
        conditions = [ue.c.userid == userid, enrol.c.courseid.in_(courseids)]
        if active:
            conditions += [
                ue.c.status == 0, enrol.c.status == 0, ue.c.timestart <= self.now,
                sa.or_(ue.c.timeend == 0, ue.c.timeend > self.now),
            ]  # fmt: skip
        query = sa.select(ue.c.id, enrol.c.courseid, enrol.c.enrol).join(enrol, enrol.c.id == ue.c.enrolid)
        return self.connection.execute(query.where(*conditions).order_by(ue.c.id)).all()

    def trackable_modules(self, courseid):
        """``{cmid: completionpassgrade}`` of the course's modules that count for completion."""
        modules = self.tables.course_modules
        rows = self.connection.execute(
            sa.select(modules.c.id, modules.c.completionpassgrade).where(
                modules.c.course == courseid, modules.c.completion > 0, modules.c.deletioninprogress == 0
            )
        )
        return dict(rows.all())

    def module_states(self, userid, cmids):
        """``{cmid: (course_modules_completion row id, completionstate)}`` of the learner."""
        done = self.tables.course_modules_completion
        rows = self.connection.execute(
            sa.select(done.c.coursemoduleid, done.c.id, done.c.completionstate).where(
                done.c.userid == userid, done.c.coursemoduleid.in_(cmids)
            )
        )
        return {cmid: (row_id, state) for cmid, row_id, state in rows}


def _enrolled_course(site):
    """``(learner, courseid)`` of a random active enrolment in a course the API serves, or ``None``."""
    for _ in range(PROBES):
        learner = site.learner()
        if learner is None:
            return None
        enrolments = site.enrolments(learner.userid, site.company_courses(learner.companyid))
        if enrolments:
            return learner, site.rng.choice(enrolments).courseid
    return None


def _set_module_state(site, userid, courseid, cmid, state, existing, actor):
    """Write the module's completion row and log ``course_module_completion_updated`` (module context)."""
    done = site.tables.course_modules_completion
    overrideby = actor if actor != userid else None
    if existing is None:
        row_id = site.insert(
            done, coursemoduleid=cmid, userid=userid, completionstate=state, overrideby=overrideby,
            timemodified=site.now,
        )  # fmt: skip
    else:
        row_id = existing
        site.connection.execute(
            sa.update(done)
            .where(done.c.id == row_id)
            .values(completionstate=state, overrideby=overrideby, timemodified=site.now)
        )
    site.log(
        "course_module_completion_updated", crud="u", context=(CONTEXT_MODULE, cmid), userid=actor, courseid=courseid,
        relateduserid=userid, objecttable="course_modules_completion", objectid=row_id, edulevel=LEVEL_PARTICIPATING,
        other={"relateduserid": userid, "overrideby": overrideby, "completionstate": state},
    )  # fmt: skip


def _course_completion(site, userid, courseid):
    completions = site.tables.course_completions
    return site.one(sa.select(completions).where(completions.c.userid == userid, completions.c.course == courseid))


def _mark_started(site, userid, courseid):
    """The course completion row the completion API starts at a learner's first progress."""
    completions = site.tables.course_completions
    row = _course_completion(site, userid, courseid)
    if row is None:
        site.insert(completions, userid=userid, course=courseid, timeenrolled=site.now, timestarted=site.now,
                    timecompleted=None, reaggregate=site.now)  # fmt: skip
    elif not row.timestarted:
        site.connection.execute(sa.update(completions).where(completions.c.id == row.id).values(timestarted=site.now))


def _complete_course(site, userid, courseid):
    """What the completion cron writes when the last criterion is met: the time, and ``course_completed``."""
    completions = site.tables.course_completions
    row = _course_completion(site, userid, courseid)
    if row is None or row.timecompleted:
        return 0
    site.connection.execute(
        sa.update(completions).where(completions.c.id == row.id).values(timecompleted=site.now, reaggregate=0)
    )
    site.log(
        "course_completed", crud="u", context=(CONTEXT_COURSE, courseid), userid=userid, courseid=courseid,
        relateduserid=userid, objecttable="course_completions", objectid=row.id, edulevel=LEVEL_PARTICIPATING,
        other={"relateduserid": userid}, origin="cli",
    )  # fmt: skip
    return 1


def complete_activity(site):
    """A learner completes (or passes) an activity; completing the last one completes the course."""
    picked = _enrolled_course(site)
    if picked is None:
        return None
    learner, courseid = picked
    modules = site.trackable_modules(courseid)
    states = site.module_states(learner.userid, list(modules))
    open_modules = [cmid for cmid in modules if states.get(cmid, (None, 0))[1] not in (COMPLETE, COMPLETE_PASS)]
    if not open_modules:
        return None
    cmid = site.rng.choice(open_modules)
    state = COMPLETE_PASS if modules[cmid] else COMPLETE
    _mark_started(site, learner.userid, courseid)
    existing = states.get(cmid, (None, 0))[0]
    _set_module_state(site, learner.userid, courseid, cmid, state, existing, actor=learner.userid)
    events = 1
    if len(open_modules) == 1:
        events += _complete_course(site, learner.userid, courseid)
    return Done("course completion" if events > 1 else "activity completion", learner.userid, courseid, events)


def reset_activity(site):
    """A teacher reopens a learner's activity (a resubmission asked for): its completion back to incomplete."""
    picked = _enrolled_course(site)
    if picked is None:
        return None
    learner, courseid = picked
    modules = site.trackable_modules(courseid)
    completed = [(cmid, row_id) for cmid, (row_id, state) in site.module_states(learner.userid, list(modules)).items()
                 if state in (COMPLETE, COMPLETE_PASS)]  # fmt: skip
    if not completed:
        return None
    cmid, row_id = site.rng.choice(completed)
    _set_module_state(site, learner.userid, courseid, cmid, 0, row_id, actor=ADMIN)
    return Done("activity reopened", learner.userid, courseid, 1)


def enrol_learner(site):
    """The admin enrols a learner manually in a course of their company they are not in yet."""
    for _ in range(PROBES):
        learner = site.learner()
        if learner is None:
            return None
        courses = site.company_courses(learner.companyid)
        taken = {courseid for _, courseid, _ in site.enrolments(learner.userid, courses, active=False)}
        free = [courseid for courseid in courses if courseid not in taken]
        if free:
            break
    else:
        return None
    courseid = site.rng.choice(free)
    enrol = site.tables.enrol
    instance = site.one(
        sa.select(enrol.c.id).where(enrol.c.courseid == courseid, enrol.c.enrol == "manual", enrol.c.status == 0)
    )
    if instance is None:
        return None
    ue_id = site.insert(
        site.tables.user_enrolments, status=0, enrolid=instance.id, userid=learner.userid, timestart=site.now,
        timeend=0, modifierid=ADMIN, timecreated=site.now, timemodified=site.now,
    )  # fmt: skip
    context = (CONTEXT_COURSE, courseid)
    ra_id = site.insert(
        site.tables.role_assignments, roleid=catalog.STUDENT_ROLE, contextid=site.context_id(*context),
        userid=learner.userid, timemodified=site.now, modifierid=ADMIN,
    )  # fmt: skip
    site.log(
        "user_enrolment_created", crud="c", context=context, userid=ADMIN, courseid=courseid,
        relateduserid=learner.userid, objecttable="user_enrolments", objectid=ue_id, other={"enrol": "manual"},
    )  # fmt: skip
    site.log(
        "role_assigned", crud="c", context=context, userid=ADMIN, courseid=courseid, relateduserid=learner.userid,
        objecttable="role", objectid=catalog.STUDENT_ROLE, other={"id": ra_id, "component": "", "itemid": 0},
    )  # fmt: skip
    return Done("enrolment", learner.userid, courseid, 2)


def unenrol_learner(site):
    """The admin unenrols a learner from one course: the enrolment and the student role go, completions stay."""
    picked = _enrolled_course(site)
    if picked is None:
        return None
    learner, courseid = picked
    ue, assignments = site.tables.user_enrolments, site.tables.role_assignments
    context = (CONTEXT_COURSE, courseid)
    contextid = site.context_id(*context)
    for ue_id, _, method in site.enrolments(learner.userid, [courseid], active=False):
        site.log(
            "user_enrolment_deleted", crud="d", context=context, userid=ADMIN, courseid=courseid,
            relateduserid=learner.userid, objecttable="user_enrolments", objectid=ue_id,
            other={"userenrolment": {"id": ue_id, "userid": learner.userid, "courseid": courseid, "lastenrol": True},
                   "enrol": method},
        )  # fmt: skip
        site.connection.execute(sa.delete(ue).where(ue.c.id == ue_id))
    site.connection.execute(
        sa.delete(assignments).where(
            assignments.c.userid == learner.userid, assignments.c.contextid == contextid,
            assignments.c.roleid == catalog.STUDENT_ROLE,
        )
    )  # fmt: skip
    site.log(
        "role_unassigned", crud="d", context=context, userid=ADMIN, courseid=courseid, relateduserid=learner.userid,
        objecttable="role", objectid=catalog.STUDENT_ROLE, other={"component": "", "itemid": 0},
    )  # fmt: skip
    return Done("unenrolment", learner.userid, courseid, 2)


def edit_profile(site):
    """A learner edits their profile: their e-mail gains or loses a sub-address (``name+lms@…``)."""
    learner = site.learner()
    if learner is None:
        return None
    user = site.tables.user
    email = site.one(sa.select(user.c.email).where(user.c.id == learner.userid)).email or ""
    local, at, domain = email.partition("@")
    if not at:
        return None
    local = local.removesuffix(SUB_ADDRESS) if local.endswith(SUB_ADDRESS) else local + SUB_ADDRESS
    site.connection.execute(
        sa.update(user).where(user.c.id == learner.userid).values(email=f"{local}@{domain}", timemodified=site.now)
    )
    site.log(
        "user_updated", crud="u", context=(CONTEXT_USER, learner.userid), userid=learner.userid,
        relateduserid=learner.userid, objecttable="user", objectid=learner.userid,
    )  # fmt: skip
    return Done("profile edit", learner.userid, None, 1)


# (action, weight): mostly progress, enrolments now and then, an unenrolment rarely.
ACTIONS = (
    (complete_activity, 10),
    (enrol_learner, 3),
    (edit_profile, 2),
    (reset_activity, 2),
    (unenrol_learner, 1),
)
