"""The sync tick: a change made in Moodle reaches the reporting table within seconds, not at the next hour.

Every ``ALX_SYNC_TICK_SECONDS`` the tick reads the events Moodle's standard log received since the
last one it read, recomputes exactly the users, rows and courses they name (:mod:`.events`), and
commits what changed with a new version, through the same writer and under the same one-writer lock
as the hourly run. A tick that finds the lock held skips: a run or another tick is writing.

The tick follows the log by event id. Ids are handed out at insert, but transactions commit out of
order, so an event with a lower id can become visible after a higher one was read. Every id below
the newest read that was not seen is remembered as missing and looked up again by every tick for
:data:`MISSING_SECONDS` (an open transaction); a missing id still absent after that is given up (a
rolled-back insert, or an id the server skipped), and should its event commit later still, the
hourly run, which re-reads an hour of the log before its watermark, recomputes what it names.

What the tick leaves to the hourly and daily runs: companies that need a full recompute, changes
Moodle does not log (enrolments reaching their start or end time, direct database edits), and
companies no event touches (their rows wait for the hourly run, whatever else changed there). It never
moves a company's watermark or baselines, so the hourly run still looks at everything since its
own last run. Its rows, versions, cache clears and its place in the log commit in one transaction:
a tick killed half-way leaves every company and the log position as they were.
"""

import json
import logging
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db.upsert import upsert
from ..jobs.locks import SYNC_JOB, job_lock
from .changes import OVERLAP, decode_courses, memberships
from .events import PROGRESS_EVENTS, STANDARD_STORE, changes_named, event_columns, standard_store_enabled
from .runs import error_text
from .scope import exposed_courses_of_all_companies
from .state import next_version, read_all_company_states
from .status import clear_company_cache
from .writer import Shortlist, write_shortlists

log = logging.getLogger(__name__)
EVENT_BATCH = 20_000  # events read per tick at most: a burst is worked off over the next ticks
MISSING_SECONDS = 300  # how long an id missing below the newest read is waited for
MAX_MISSING = 5_000  # missing ids remembered at most (the newest): a server's id gaps never grow the row unbounded


@dataclass
class TickResult:
    skipped_because: str | None = None
    events_read: int = 0
    progress_events: int = 0
    version: int | None = None  # the version committed, when rows changed
    companies: dict = field(default_factory=dict)  # {companyid: writer.WriteCounts} of the companies whose rows changed

    @property
    def rows_changed(self):
        return sum(counts.changed for counts in self.companies.values())

    def summary(self):
        if self.skipped_because:
            return f"skipped: {self.skipped_because}"
        changed = f", version {self.version}: {self.rows_changed} row(s) in {len(self.companies)} company(ies)"
        return f"{self.events_read} event(s), {self.progress_events} moving progress" + (
            changed if self.version else ", nothing changed"
        )


@dataclass(frozen=True)
class TailPosition:
    """Where the tick stands in the log: every id up to ``last_logid`` read, but ``missing`` ({id: first missed})."""

    last_logid: int
    missing: dict
    last_slot: int
    newest_event: int


def read_tail(connection, tables):
    """The :class:`TailPosition`, or ``None`` before the first tick."""
    tail = tables.local_alxbridge_log_tail
    row = connection.execute(sa.select(tail).where(tail.c.store == STANDARD_STORE)).first()
    if row is None:
        return None
    missing = {int(k): v for k, v in json.loads(row.missing_ids or "{}").items()}
    return TailPosition(row.last_logid, missing, row.last_slot, row.newest_event)


@dataclass(frozen=True)
class TailFigures:
    """The last tick's figures, for the pages and ``/healthz``."""

    timeticked: int
    newest_event: int
    duration_ms: int
    events_read: int
    rows_changed: int
    missing_count: int
    last_error: str | None


def read_tail_figures(connection, tables):
    """The :class:`TailFigures`, or ``None`` before the first tick."""
    tail = tables.local_alxbridge_log_tail
    row = connection.execute(sa.select(tail).where(tail.c.store == STANDARD_STORE)).first()
    if row is None:
        return None
    missing = len(json.loads(row.missing_ids or "{}"))
    return TailFigures(row.timeticked, row.newest_event, row.duration_ms, row.events_read, row.rows_changed,
                       missing, row.last_error)  # fmt: skip


def record_tick_failure(database, error):
    """Keep why the last tick failed (its own transaction was rolled back) for the Auto-Sync page."""
    with database.begin() as connection:
        _write_tail(connection, database.tables, {"last_error": error_text(error)[:1000]})


def _write_tail(connection, tables, values):
    upsert(connection, tables.local_alxbridge_log_tail, {"store": STANDARD_STORE}, values)


def _read_events(connection, tables, position):
    """The events after ``position.last_logid`` (at most :data:`EVENT_BATCH`) and the missing ones now visible,
    as rows ``(id, timecreated, *event_columns)``."""
    log_table = tables.logstore_standard_log
    columns = (log_table.c.id, log_table.c.timecreated, *event_columns(log_table))
    new = connection.execute(
        sa.select(*columns).where(log_table.c.id > position.last_logid).order_by(log_table.c.id).limit(EVENT_BATCH)
    ).all()
    late = []
    if position.missing:
        late = connection.execute(sa.select(*columns).where(log_table.c.id.in_(sorted(position.missing)))).all()
    return new, late


def _next_position(position, new, late, now, slot):
    """The position after reading ``new`` and ``late``: ids skipped inside ``new`` become missing."""
    found = {row.id for row in late}
    missing = {i: since for i, since in position.missing.items() if i not in found and since > now - MISSING_SECONDS}
    last = new[-1].id if new else position.last_logid
    if new:
        read = {row.id for row in new}
        # Only the newest MAX_MISSING ids of the gap are looked at: a jump of the server's counter is no backlog.
        start = max(position.last_logid + 1, last - len(read) - MAX_MISSING)
        missing.update({i: now for i in range(start, last) if i not in read})
    if len(missing) > MAX_MISSING:
        missing = dict(sorted(missing.items())[-MAX_MISSING:])
    newest = max([position.newest_event, *(row.timecreated for row in (*new, *late))])
    return TailPosition(last, missing, slot or position.last_slot, newest)


def _companies_holding(connection, tables, user_ids):
    """``{userid: {companyid}}`` of the companies whose reporting rows hold live rows of ``user_ids``: a user who
    left a company is no longer in ``company_users``, but their rows there must become tombstones."""
    reporting = tables.local_alx_api_reporting
    holding = {}
    ordered = sorted(user_ids)
    for start in range(0, len(ordered), 1000):
        query = (
            sa.select(reporting.c.userid, reporting.c.companyid)
            .where(reporting.c.userid.in_(ordered[start : start + 1000]), reporting.c.is_deleted == 0)
            .distinct()
        )
        for userid, companyid in connection.execute(query):
            holding.setdefault(userid, set()).add(companyid)
    return holding


def _shortlists(connection, tables, changes):
    """One :class:`Shortlist` per company the changes touch, among companies synced incrementally."""
    user_ids = changes.users | {userid for userid, _ in changes.rows}
    companies_of = memberships(connection, tables, user_ids)
    for userid, companyids in _companies_holding(connection, tables, changes.users).items():
        companies_of.setdefault(userid, set()).update(companyids)
    states = read_all_company_states(connection, tables)
    ready = {cid for cid, state in states.items() if state.source_watermark and not state.needs_full}
    touched = {cid for userid in user_ids for cid in companies_of.get(userid, ())} & ready
    exposed_now = exposed_courses_of_all_companies(connection, tables, sorted(ready))
    touched |= {
        cid for cid in ready if changes.courses & (exposed_now[cid] | decode_courses(states[cid].exposed_courses))
    }
    shortlists = []
    for cid in sorted(touched):
        exposed, stored = exposed_now[cid], decode_courses(states[cid].exposed_courses)
        # A company the tick writes is written as it is exposed now: courses the events name, and those whose
        # exposure changed since the hourly run stored it (shown, hidden, enabled in the company's settings:
        # by an earlier tick or with no event), are recomputed whole, or become tombstones.
        changed_courses = frozenset((changes.courses & (exposed | stored)) | (exposed ^ stored))
        course_ids = exposed
        users = frozenset(u for u in changes.users if cid in companies_of.get(u, ()))
        rows = frozenset(
            (u, c)
            for u, c in changes.rows
            if c in course_ids and c not in changed_courses and u not in users and cid in companies_of.get(u, ())
        )
        if users or rows or changed_courses:
            shortlists.append(Shortlist(cid, course_ids, users, changed_courses, rows))
    return shortlists


def _commit_versions(connection, tables, companyids, version, now):
    """Raise the committed version of ``companyids`` to ``version`` (watermarks and baselines stay the hourly run's)."""
    table = tables.local_alxbridge_company
    connection.execute(
        sa.update(table)
        .where(table.c.companyid.in_(sorted(companyids)), table.c.committed_version < version)
        .values(committed_version=version, timemodified=now)
    )


def _first_position(connection, tables):
    """Where the first tick starts: before the events the last hourly run may not have read (those since the
    oldest company watermark, less the run's own overlap), so none logged since that run is skipped; with no
    company synced yet, at the log's end (the first run recomputes everything from Moodle's tables)."""
    log_table, company = tables.logstore_standard_log, tables.local_alxbridge_company
    oldest = connection.execute(
        sa.select(sa.func.min(company.c.source_watermark)).where(company.c.source_watermark > 0)
    ).scalar()
    end = connection.execute(sa.select(sa.func.max(log_table.c.id))).scalar() or 0
    if oldest is None:
        return end
    first = connection.execute(
        sa.select(sa.func.min(log_table.c.id)).where(log_table.c.timecreated >= oldest - OVERLAP)
    ).scalar()
    return end if first is None else first - 1


def _tick(connection, tables, now, slot):
    """Read the log from the tail, write what its events change; ``(TickResult, next position or None)``."""
    position = read_tail(connection, tables)
    if position is None:
        position = TailPosition(_first_position(connection, tables), {}, 0, 0)
    elif slot is not None and position.last_slot >= slot:
        return TickResult(skipped_because="this slot already ran"), None
    new, late = _read_events(connection, tables, position)
    events = [row[2:] for row in (*new, *late) if row.eventname in PROGRESS_EVENTS]
    result = TickResult(events_read=len(new) + len(late), progress_events=len(events))
    shortlists = _shortlists(connection, tables, changes_named(events)) if events else []
    if shortlists:
        version = next_version(connection, tables, now)
        stamped = write_shortlists(connection, tables, shortlists, version, now)
        if stamped:
            _commit_versions(connection, tables, stamped, version, now)
            clear_company_cache(connection, tables, stamped)
            result.version = version
            result.companies = {cid: counts for cid, (counts, _) in stamped.items()}
    return result, _next_position(position, new, late, now, slot)


def _tail_values(position, result, now, seconds):
    return {
        "last_logid": position.last_logid,
        "missing_ids": json.dumps({str(k): v for k, v in sorted(position.missing.items())}),
        "last_slot": position.last_slot,
        "newest_event": position.newest_event,
        "events_read": result.events_read,
        "progress_events": result.progress_events,
        "rows_changed": result.rows_changed,
        "duration_ms": round(seconds * 1000),
        "timeticked": now,
        "last_error": None,
    }


def run_tick(database, slot=None):
    """One tick, under the sync lock; ``slot`` (a scheduled start's) is skipped when another worker ran it.

    Returns a :class:`TickResult`; ``skipped_because`` says why nothing was read.
    """
    tables = database.tables
    with job_lock(database, SYNC_JOB) as lock:
        if lock is None:
            return TickResult(skipped_because="a sync run or another tick holds the sync lock")
        begun = time.perf_counter()
        with database.connect() as connection:
            if database.is_mysql:  # as the hourly run: Moodle's rows are read without locking them
                connection = connection.execution_options(isolation_level="READ COMMITTED")
            with connection.begin():
                if connection.dialect.name == "sqlite":
                    # Take SQLite's write lock first: a transaction that reads and then writes beside another
                    # writer fails at once ("database is locked") where one that starts writing waits its turn.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                if not standard_store_enabled(connection, tables):
                    return TickResult(skipped_because="the standard log store is off: the hourly run finds changes")
                now = database.now()
                result, position = _tick(connection, tables, now, slot)
                if position is not None:
                    _write_tail(connection, tables, _tail_values(position, result, now, time.perf_counter() - begun))
    if result.version:
        log.info("sync tick: %s", result.summary())
    return result
