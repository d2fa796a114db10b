"""What each company's sync must recompute: everything, some users, rows and courses, or nothing.

Source timestamps only shortlist; correctness comes from recomputing and comparing (design §2).
A company is recomputed in full when it was never synced, failed last time, is due for its daily
reconciliation, was asked to, or has too many changes. Otherwise its shortlist collects:

* users whose ``user`` row was stamped since the company's watermark minus :data:`OVERLAP` (all
  their rows), and members who joined or left a company whose membership digest moved;
* single (user, course) rows whose enrolment, module completions or course completion were stamped
  since, or whose enrolment started or ended since;
* whole courses whose ``course`` or ``enrol`` rows were modified, whose trackable modules changed
  (``course_modules`` has no timestamp: a per-course digest shows it), or that the company started
  or stopped exposing;
* rows found by comparing Moodle with the reporting table where Moodle leaves no timestamp, only
  where a digest says something changed: deleted enrolments and back-dated or reset course
  completions among the users of a (course, user bucket) whose enrolment or completion digest moved.

The digests cost one grouped scan of ``user_enrolments``, ``course_completions`` and
``company_users`` per run; :data:`USER_BUCKETS` trades their size against how many reporting rows
a changed digest makes the run look at. When the site logs to Moodle's standard log store, the
stamps and the enrolment and completion digests are replaced by the events logged since
(:mod:`.events`), which name the same users, rows and courses without scanning Moodle's tables.
"""

import hashlib
import itertools
from dataclasses import dataclass

import sqlalchemy as sa

from .events import logged_changes, standard_log_in_use
from .scope import exposed_courses_of_all_companies
from .writer import FULL, Scope, Shortlist, live

OVERLAP = 3600  # re-read a whole hour before the watermark: late commits and clock skew are seconds
RECONCILE_EVERY = 24 * 3600
MAX_SHORTLIST_USERS = 5000  # beyond this a company is cheaper to recompute in full
MAX_SHORTLIST_ROWS = 10000
MAX_SHORTLIST_COURSES = 500
COURSE_DIGESTS = ("enrolments", "completions", "modules")
USER_BUCKETS = 16  # users per course are split by userid % 16 for the digests
# User ids per membership query: each query scans company_users (it has no index on userid alone), so
# MySQL gets them all at once; SQLite (demo and test sites) and PostgreSQL (65535) stay under their limits on
# bound values.
MEMBERSHIP_BATCH = {"mysql": 1_000_000, "mariadb": 1_000_000}
SQLITE_MEMBERSHIP_BATCH = 30_000


@dataclass(frozen=True)
class CompanyPlan:
    companyid: int
    course_ids: frozenset  # the company's exposed courses
    shortlist: Shortlist | None  # None recomputes everything; an empty shortlist, nothing
    reason: str
    members_digest: str

    @property
    def is_full(self):
        return self.shortlist is None

    @property
    def scopes(self):
        """The plan as :func:`~.writer.write_company` scopes, for writing the company on its own."""
        if self.shortlist is None:
            return (FULL,)
        scopes = []
        if self.shortlist.user_ids:
            scopes.append(Scope(user_ids=self.shortlist.user_ids))
        if self.shortlist.changed_courses:
            scopes.append(Scope(course_ids=self.shortlist.changed_courses))
        if self.shortlist.rows:  # every pair of these users and courses: a superset of the rows, still exact
            users, courses = (frozenset(part) for part in zip(*self.shortlist.rows, strict=True))
            scopes.append(Scope(user_ids=users, course_ids=courses))
        return tuple(scopes)


def _digest(*parts):
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


def encode_courses(course_ids):
    return ",".join(str(courseid) for courseid in sorted(course_ids))


def decode_courses(text):
    return frozenset(int(part) for part in (text or "").split(",") if part)


def _scan(column):
    """Group on ``column + 0``: MariaDB then reads the table once instead of walking the column's index
    with a row lookup per entry, which is 5-10x slower on a table the buffer pool does not hold."""
    return column + 0


def members_digests(connection, tables):
    """``{companyid: digest}`` of each company's ``company_users`` rows."""
    members = tables.company_users
    company = _scan(members.c.companyid)
    rows = connection.execute(
        sa.select(
            company,
            sa.func.count(),
            sa.func.sum(members.c.userid),
            sa.func.sum(members.c.userid * members.c.suspended),
        ).group_by(company)
    )
    return {companyid: _digest(*(int(value) for value in values)) for companyid, *values in rows}


def _bucket(userid):
    return userid % USER_BUCKETS


def _totals(*values):
    """Integer sums: MariaDB's DECIMAL sums would cost a ``Decimal`` each in Python."""
    return (sa.cast(sa.func.sum(value), sa.BigInteger) for value in values)


def _bucket_texts(rows):
    """``{courseid: "bucket:digest,…"}`` from rows ``(courseid * USER_BUCKETS + bucket, totals…)`` in key order."""
    return {
        courseid: ",".join(f"{key % USER_BUCKETS}:{_digest(*totals)[:12]}" for key, *totals in group)
        for courseid, group in itertools.groupby(rows, key=lambda row: row[0] // USER_BUCKETS)
    }


def _decode_buckets(text):
    return dict(part.split(":") for part in (text or "").split(",") if part)


def course_digests(connection, tables, kinds=COURSE_DIGESTS):
    """``{courseid: {"enrolments": text, "completions": text, "modules": digest}}`` as stored.

    Enrolments and course completions are digested per course and bucket of users, so a change
    points at a few dozen rows rather than a whole course. Rows are grouped on computed keys (which
    also keeps MariaDB from walking an index), enrolments first per enrolment method and then per
    course, which spares the database a join over the largest table; Python only hashes the sums.
    Only ``kinds`` are computed; the others are left empty.
    """
    ue, enrol = tables.user_enrolments, tables.enrol
    completions, modules = tables.course_completions, tables.course_modules
    digests = {}
    if "enrolments" in kinds:
        method, bucket = ue.c.enrolid + 0, _bucket(ue.c.userid)
        ids, suspended_ids = _totals(ue.c.id, ue.c.id * ue.c.status)
        per_method = (
            sa.select(
                method.label("method"),
                bucket.label("bucket"),
                sa.func.count().label("rows"),
                ids.label("ids"),
                suspended_ids.label("suspended_ids"),
            )
            .group_by(method, bucket)
            .subquery("per_method")
        )
        enrolment_key = enrol.c.courseid * USER_BUCKETS + per_method.c.bucket
        enrolments = connection.execute(
            sa.select(enrolment_key, *_totals(per_method.c.rows, per_method.c.ids, per_method.c.suspended_ids))
            .join_from(per_method, enrol, enrol.c.id == per_method.c.method)
            .group_by(enrolment_key)
            .order_by(enrolment_key)
        )
        for courseid, text in _bucket_texts(enrolments).items():
            digests.setdefault(courseid, dict.fromkeys(COURSE_DIGESTS, ""))["enrolments"] = text
    if "completions" in kinds:
        completion_key = completions.c.course * USER_BUCKETS + _bucket(completions.c.userid)
        completed = connection.execute(
            sa.select(
                completion_key,
                sa.func.count(),
                *_totals(sa.func.coalesce(completions.c.timecompleted, 0), completions.c.timestarted),
            )
            .group_by(completion_key)
            .order_by(completion_key)
        )
        for courseid, text in _bucket_texts(completed).items():
            digests.setdefault(courseid, dict.fromkeys(COURSE_DIGESTS, ""))["completions"] = text
    if "modules" in kinds:
        for courseid, *values in connection.execute(
            sa.select(
                modules.c.course,
                sa.func.count(),
                sa.func.sum(modules.c.id),
                sa.func.sum(modules.c.id * modules.c.deletioninprogress),
            )
            .where(modules.c.completion > 0)
            .group_by(modules.c.course)
        ):
            digests.setdefault(courseid, dict.fromkeys(COURSE_DIGESTS, ""))["modules"] = _digest(*map(int, values))
    return digests


def changed_buckets(current, stored):
    """The buckets whose digest differs between two texts (most texts are equal: nothing to decode)."""
    if (current or "") == (stored or ""):
        return set()
    now, before = _decode_buckets(current), _decode_buckets(stored)
    return {int(bucket) for bucket in now.keys() | before.keys() if now.get(bucket) != before.get(bucket)}


def stored_course_digests(connection, tables):
    table = tables.local_alxbridge_course
    query = sa.select(table.c.courseid, *(table.c[kind] for kind in COURSE_DIGESTS))
    return {
        courseid: {kind: text or "" for kind, text in zip(COURSE_DIGESTS, texts, strict=True)}
        for courseid, *texts in connection.execute(query)
    }


def stamped_users(connection, tables, since):
    """Users whose ``user`` row was stamped at or after ``since``: all their rows may change (name, e-mail,
    suspension)."""
    user = tables.user
    return set(connection.execute(sa.select(user.c.id).where(user.c.timemodified >= since)).scalars())


def stamped_rows(connection, tables, since, now):
    """``{(userid, courseid), …}`` of enrolments, module completions and course completions stamped at or after
    ``since``, or of enrolments that started or ended since: only that course's row changes.

    Joins run in the order written (``STRAIGHT_JOIN``): a scan of each large table, then primary-key
    lookups of its few stamped rows' course; MariaDB would otherwise walk the large table's index
    once per course (seconds at 1M enrolments).
    """
    ue = tables.user_enrolments
    module_completion, modules, completions = (
        tables.course_modules_completion, tables.course_modules, tables.course_completions
    )  # fmt: skip
    stamped = sa.union(
        _enrolment_rows(
            tables, ue.c.timemodified >= since, ue.c.timecreated >= since, *_started_or_ended(ue, since, now)
        ),
        sa.select(module_completion.c.userid, modules.c.course)
        .select_from(module_completion)
        .join(modules, modules.c.id == module_completion.c.coursemoduleid)
        .where(module_completion.c.timemodified >= since)
        .prefix_with("STRAIGHT_JOIN", dialect="mysql"),
        sa.select(completions.c.userid, completions.c.course).where(
            sa.or_(
                completions.c.timecompleted >= since,
                completions.c.timestarted >= since,
                completions.c.timeenrolled >= since,
            )
        ),
    )
    return set(connection.execute(stamped).all())


def _started_or_ended(user_enrolments, since, now):
    return user_enrolments.c.timestart.between(since, now), user_enrolments.c.timeend.between(since, now)


def _enrolment_rows(tables, *conditions):
    """(userid, courseid) of the enrolments meeting any of ``conditions``: a scan of ``user_enrolments``."""
    ue, enrol = tables.user_enrolments, tables.enrol
    return (
        sa.select(ue.c.userid.label("userid"), enrol.c.courseid.label("courseid"))
        .select_from(ue)
        .join(enrol, enrol.c.id == ue.c.enrolid)
        .where(sa.or_(*conditions))
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
    )


def started_or_ended(connection, tables, since, now):
    """``{(userid, courseid)}`` of enrolments that started or ended since ``since``: Moodle logs no event for that."""
    ue = tables.user_enrolments
    return set(connection.execute(_enrolment_rows(tables, *_started_or_ended(ue, since, now))).all())


def modified_courses(connection, tables, since):
    course, enrol = tables.course, tables.enrol
    query = sa.union(
        sa.select(course.c.id.label("courseid")).where(course.c.timemodified >= since),
        sa.select(enrol.c.courseid).where(enrol.c.timemodified >= since),
    )
    return {courseid for (courseid,) in connection.execute(query)}


def _active_enrolment(tables, userid, course_condition):
    ue, enrol = tables.user_enrolments, tables.enrol
    return (
        sa.exists()
        .where(ue.c.userid == userid, ue.c.status == 0, ue.c.enrolid == enrol.c.id, enrol.c.status == 0)
        .where(course_condition(enrol.c.courseid))
    )


def stale_rows(connection, tables, enrolment_keys, completion_keys):
    """``{companyid: {(userid, courseid)}}`` of live rows that lost their enrolment or disagree with their
    course completion, looking only at rows in the flagged (course, user bucket) keys.

    These are the changes Moodle makes without a timestamp (deleted enrolments, back-dated or reset
    course completions). One pass over the reporting table, with lookups only for flagged rows: the
    course completion (Moodle's unique (userid, course) key) and the active enrolments are outer-joined
    rather than probed by ``NOT EXISTS``, which MariaDB answers by materialising every active enrolment
    or course completion of the site (seconds at 1M rows).
    """
    reporting, completions = tables.local_alx_api_reporting, tables.course_completions
    user_enrolments, enrol = tables.user_enrolments, tables.enrol
    key = reporting.c.courseid * USER_BUCKETS + _bucket(reporting.c.userid)
    same_pair = sa.and_(completions.c.userid == reporting.c.userid, completions.c.course == reporting.c.courseid)
    agrees = sa.and_(
        completions.c.id.is_not(None),
        sa.func.coalesce(completions.c.timecompleted, 0) == reporting.c.timecompleted,
        sa.or_(completions.c.timestarted == 0, completions.c.timestarted == reporting.c.timestarted),
    )
    never_started = sa.and_(
        completions.c.id.is_(None), reporting.c.timecompleted == 0, reporting.c.status == "not_started"
    )
    active_enrolments = user_enrolments.join(
        enrol, sa.and_(enrol.c.id == user_enrolments.c.enrolid, enrol.c.status == 0)
    )
    enrolled = sa.and_(
        user_enrolments.c.userid == reporting.c.userid,
        user_enrolments.c.status == 0,
        enrol.c.courseid == reporting.c.courseid,
    )
    enrolment_lost = user_enrolments.c.id.is_(None)
    rows = connection.execute(
        sa.select(reporting.c.companyid, reporting.c.userid, reporting.c.courseid)
        .distinct()
        .select_from(reporting.outerjoin(completions, same_pair).outerjoin(active_enrolments, enrolled))
        .where(
            live(reporting),
            key.in_(sorted(enrolment_keys | completion_keys)),  # on the scan, before the join
            sa.or_(
                sa.and_(key.in_(sorted(enrolment_keys)), enrolment_lost),
                sa.and_(key.in_(sorted(completion_keys)), ~sa.or_(agrees, never_started)),
            ),
        )
    )
    companies = {}
    for companyid, userid, courseid in rows:
        companies.setdefault(companyid, set()).add((userid, courseid))
    return companies


def users_who_joined_or_left(connection, tables, companyid, course_ids):
    """Users with live rows who are no longer active members, and active members enrolled but without rows."""
    reporting, members = tables.local_alx_api_reporting, tables.company_users
    active_members = sa.select(members.c.userid).where(members.c.companyid == companyid, members.c.suspended == 0)
    left = (
        sa.select(reporting.c.userid.label("userid"))
        .distinct()
        .where(
            reporting.c.companyid == companyid,
            live(reporting),
            reporting.c.userid.not_in(active_members),
        )
    )
    has_rows = sa.exists().where(
        reporting.c.companyid == companyid, reporting.c.userid == members.c.userid, live(reporting)
    )
    joined = (
        sa.select(members.c.userid)
        .distinct()
        .where(
            members.c.companyid == companyid,
            members.c.suspended == 0,
            ~has_rows,
            _active_enrolment(tables, members.c.userid, lambda course: course.in_(sorted(course_ids))),
        )
    )
    return {userid for (userid,) in connection.execute(sa.union(left, joined))}


def _full_reason(state, force, now):
    if force:
        return "full run requested"
    if state is None or state.last_full == 0:
        return "first sync"
    if state.needs_full:
        return "retry after a failed sync"
    if state.last_full <= now - RECONCILE_EVERY:
        return "daily reconciliation"
    return None


@dataclass(frozen=True)
class SourceChanges:
    """What changed on the site since the oldest watermark of the companies that sync incrementally."""

    users_by_company: dict  # {companyid: {userid}} of users whose every row may have changed
    rows_by_company: dict  # {companyid: {(userid, courseid)}} of single rows that may have changed
    courses: set  # courses to recompute whole


def memberships(connection, tables, user_ids):
    """``{userid: {companyid}}`` for ``user_ids`` (suspended members included: their rows become tombstones)."""
    members = tables.company_users
    companies = {}
    ordered = sorted(user_ids)
    size = MEMBERSHIP_BATCH.get(connection.dialect.name, SQLITE_MEMBERSHIP_BATCH)
    for start in range(0, len(ordered), size):
        batch = ordered[start : start + size]
        query = sa.select(members.c.userid, members.c.companyid).where(members.c.userid.in_(batch)).distinct()
        for userid, companyid in connection.execute(query):
            companies.setdefault(userid, set()).add(companyid)
    return companies


def _by_company(connection, tables, users, rows):
    """``({companyid: {userid}}, {companyid: {(userid, courseid)}})``: changed users and rows filed under each
    company their user belongs to (:func:`memberships`)."""
    companies = memberships(connection, tables, users | {userid for userid, _ in rows})
    users_by_company, rows_by_company = {}, {}
    for userid in users:
        for companyid in companies.get(userid, ()):
            users_by_company.setdefault(companyid, set()).add(userid)
    for userid, courseid in rows:
        for companyid in companies.get(userid, ()):
            rows_by_company.setdefault(companyid, set()).add((userid, courseid))
    return users_by_company, rows_by_company


def _source_changes(connection, tables, since, now, digests, stored, from_log):
    def keys(kind):
        return {
            courseid * USER_BUCKETS + bucket
            for courseid in digests.keys() | stored.keys()
            for bucket in changed_buckets(digests.get(courseid, {}).get(kind), stored.get(courseid, {}).get(kind))
        }

    modules_changed = {
        courseid
        for courseid in digests.keys() | stored.keys()
        if digests.get(courseid, {}).get("modules", "") != stored.get(courseid, {}).get("modules", "")
    }
    courses = modified_courses(connection, tables, since) | modules_changed
    if from_log:  # the log names the changes; enrolments starting or ending by the clock are not logged
        logged = logged_changes(connection, tables, since)
        users, rows = _by_company(
            connection, tables, logged.users, logged.rows | started_or_ended(connection, tables, since, now)
        )
        return SourceChanges(users, rows, courses | logged.courses)
    users, rows = _by_company(
        connection, tables, stamped_users(connection, tables, since), stamped_rows(connection, tables, since, now)
    )
    enrolment_keys, completion_keys = keys("enrolments"), keys("completions")
    if enrolment_keys or completion_keys:
        for companyid, stale in stale_rows(connection, tables, enrolment_keys, completion_keys).items():
            rows.setdefault(companyid, set()).update(stale)
    return SourceChanges(users, rows, courses)


def _shortlist(connection, tables, companyid, state, exposed, members_digest, changes):
    """``(Shortlist or None, reason)``: what changed for an incrementally synced company (None: too much)."""
    stored_courses = decode_courses(state.exposed_courses)
    courses = (changes.courses & exposed) | (exposed ^ stored_courses)
    users = set(changes.users_by_company.get(companyid, ()))
    if members_digest != state.members_digest:
        users |= users_who_joined_or_left(connection, tables, companyid, exposed)
    rows = {
        (userid, courseid)
        for userid, courseid in changes.rows_by_company.get(companyid, ())
        if courseid in exposed and courseid not in courses and userid not in users
    }
    if len(users) > MAX_SHORTLIST_USERS or len(rows) > MAX_SHORTLIST_ROWS or len(courses) > MAX_SHORTLIST_COURSES:
        return None, "many changes"
    changed = [f"{len(items)} {name}(s)" for name, items in (("user", users), ("row", rows), ("course", courses))]
    reason = f"{', '.join(changed)} changed" if users or rows or courses else "no changes"
    return Shortlist(companyid, exposed, frozenset(users), frozenset(courses), frozenset(rows)), reason


def plan_companies(connection, tables, companyids, states, now, force_full=False):
    """Plan the sync of ``companyids``; return ``(plans, {courseid: digests}`` to store after the run).

    The digests are those computed now, before any company is read: storing them after the run can
    only make the next run look at a course again, never miss a change.
    """
    exposed = exposed_courses_of_all_companies(connection, tables, companyids)
    members = members_digests(connection, tables)
    stored = stored_course_digests(connection, tables)
    reasons = {cid: _full_reason(states.get(cid), force_full, now) for cid in companyids}
    from_log = standard_log_in_use(connection, tables)
    # With the log, hourly runs compute only the cheap module digests (the others keep their stored
    # values); a run that recomputes every company refreshes them all, so that turning the log store
    # off later compares with a recent baseline.
    all_full = all(reason is not None for reason in reasons.values())
    kinds = ("modules",) if from_log and not all_full else COURSE_DIGESTS
    computed = course_digests(connection, tables, kinds)
    digests = {
        courseid: {
            kind: computed.get(courseid, {}).get(kind, "") if kind in kinds else stored.get(courseid, {}).get(kind, "")
            for kind in COURSE_DIGESTS
        }
        for courseid in computed.keys() | stored.keys()
    }

    incremental = [cid for cid in companyids if reasons[cid] is None]
    if incremental:
        since = min(states[cid].source_watermark for cid in incremental) - OVERLAP
        changes = _source_changes(connection, tables, since, now, digests, stored, from_log)
    plans = []
    for cid in companyids:
        digest = members.get(cid, "")
        if reasons[cid] is None:
            shortlist, reason = _shortlist(connection, tables, cid, states[cid], exposed[cid], digest, changes)
        else:
            shortlist, reason = None, reasons[cid]
        plans.append(CompanyPlan(cid, exposed[cid], shortlist, reason, digest))
    changed_digests = {courseid: kinds for courseid, kinds in digests.items() if kinds != stored.get(courseid)}
    return plans, changed_digests
