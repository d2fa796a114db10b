"""Sync jobs started from the admin pages: run in a daemon thread of this process, seen from every worker.

A job is one or more :func:`~alxbridge.sync.runs.run_sync` runs under the sync job's database lock
(:func:`~alxbridge.jobs.runner.run_job`), so it never overlaps the scheduler's, the CLI's or another
admin's sync, on any worker or host. The request that starts it waits only until the thread has
taken the lock (or found it busy), then answers; the sync itself goes on in the thread.

Progress lives in the database, where any worker can read it. Each run's totals are its row in
``local_alxbridge_sync_run``, but that row only gets them when the run finishes, and a run over
all companies keeps no per-company results. So the job also keeps the row ``admin-sync`` of
``local_alxbridge_job`` (the table of the bridge's jobs and their last run): its ``last_status``,
``timestarted`` and ``timefinished`` are the latest admin job's, and ``last_message`` holds that
job's progress as JSON (its token, companies done of how many, each company's outcome, its runs,
and once it has finished the courses and users its runs changed, :mod:`alxbridge.sync.affected`).
Only the latest admin job is kept there; every run stays in the run history.
"""

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db.upsert import upsert
from ..sync.affected import Affected, job_changes, next_row_id
from ..sync.runs import error_text, run_sync
from .locks import SYNC_JOB, NamedLock, has_named_locks
from .runner import run_job

log = logging.getLogger(__name__)

PROGRESS_ROW = "admin-sync"
START_WAIT = 30  # seconds the starting request waits for the thread to take (or be refused) the lock
PROGRESS_INTERVAL = 1.0  # seconds between progress writes while companies sync (the last one is always written)
ORIGIN = "admin"


@dataclass(frozen=True)
class JobSpec:
    """What a job does: a sync of ``companyids`` (``None``: one run over every company).

    ``prepare(connection, tables, now)`` runs under the lock, in its own transaction, before the first run.
    """

    kind: str  # populate | sync_changes | sync_full | cleanup | trigger
    title: str
    full: bool
    companyids: tuple | None = None
    prepare: object = None

    @property
    def targets(self):
        return (None,) if self.companyids is None else self.companyids


@dataclass(frozen=True)
class Start:
    """The answer to a start: the job's token, or why it did not start."""

    token: str
    refused: str | None = None


@dataclass(frozen=True)
class CompanyOutcome:
    companyid: int
    reason: str
    full: bool
    created: int
    updated: int
    deleted: int
    seconds: float
    error: str | None

    def as_data(self):
        return {
            "companyid": self.companyid, "reason": self.reason, "full": self.full, "created": self.created,
            "updated": self.updated, "deleted": self.deleted, "seconds": self.seconds, "error": self.error,
        }  # fmt: skip


@dataclass
class Job:
    """One admin job as its progress row keeps it."""

    token: str
    kind: str
    title: str
    full: bool
    companyids: list | None
    status: str  # running | success | failed | interrupted
    timestarted: int
    timefinished: int = 0
    total: int | None = None  # companies to sync; None until the run over every company has planned them
    companies: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    error: str | None = None
    affected: Affected | None = None  # set when the runs have finished

    @property
    def running(self):
        return self.status == "running"

    @property
    def done(self):
        return len(self.companies)

    @property
    def percent(self):
        if self.total:
            return round(100 * self.done / self.total)
        return 0 if self.running else 100

    @property
    def failed(self):
        return [c for c in self.companies if c.error]

    @property
    def created(self):
        return sum(c.created for c in self.companies)

    @property
    def updated(self):
        return sum(c.updated for c in self.companies)

    @property
    def deleted(self):
        return sum(c.deleted for c in self.companies)

    def summary(self):
        text = (
            f"{len(self.runs)} run(s), {self.done} company(ies): {self.created} created, {self.updated} updated, "
            f"{self.deleted} deleted"
        )
        if self.failed:
            text += f"; failed: {', '.join(f'{c.companyid} ({c.error})' for c in self.failed)}"
        return text

    def stored(self):
        """What the progress row's ``last_message`` keeps (status and times have columns of their own)."""
        return {
            "token": self.token, "kind": self.kind, "title": self.title, "full": self.full,
            "companyids": self.companyids, "total": self.total, "runs": list(self.runs), "error": self.error,
            "companies": [c.as_data() for c in self.companies],
            "affected": None if self.affected is None else self.affected.as_data(),
        }  # fmt: skip

    def as_data(self):
        """The job for the JSON endpoint: what is stored plus status, times and totals."""
        return {
            **self.stored(), "status": self.status, "running": self.running, "timestarted": self.timestarted,
            "timefinished": self.timefinished, "done": self.done, "percent": self.percent, "created": self.created,
            "updated": self.updated, "deleted": self.deleted, "failed": len(self.failed),
        }  # fmt: skip


def _job_from_row(row):
    data = json.loads(row.last_message)
    companies = [CompanyOutcome(**company) for company in data.pop("companies")]
    affected = data.pop("affected", None)
    return Job(
        **data, companies=companies, status=row.last_status, timestarted=row.timestarted,
        timefinished=row.timefinished, affected=None if affected is None else Affected.from_data(affected),
    )  # fmt: skip


class _Handoff:
    """Tells the starting request, once, that the job began or why it did not."""

    def __init__(self):
        self._event = threading.Event()
        self.refused = None

    def begin(self):
        self._event.set()

    def refuse(self, reason):
        if not self._event.is_set():
            self.refused = reason
            self._event.set()

    def wait(self, timeout):
        return self._event.wait(timeout)


class _Recorder:
    """Writes the progress row: at the start, at most every PROGRESS_INTERVAL while companies sync, at the end."""

    def __init__(self, database, job):
        self.database = database
        self.job = job
        self.written = 0.0

    def write(self, force=True):
        if not force and time.monotonic() - self.written < PROGRESS_INTERVAL:
            return
        job = self.job
        values = {"last_status": job.status, "last_message": json.dumps(job.stored(), separators=(",", ":")),
                  "timestarted": job.timestarted, "timefinished": job.timefinished}  # fmt: skip
        with self.database.begin() as connection:
            upsert(connection, self.database.tables.local_alxbridge_job, {"name": PROGRESS_ROW}, values)
        self.written = time.monotonic()

    def company_done(self, company, done, total):
        """``run_sync``'s ``on_company``: a failing progress write is logged, never allowed to stop the sync."""
        job = self.job
        counts = company.counts
        outcome = CompanyOutcome(company.companyid, company.reason, company.full, counts.created, counts.updated,
                                 counts.deleted, round(company.seconds, 3), company.error)  # fmt: skip
        job.companies.append(outcome)
        if job.companyids is None:
            job.total = total
        try:
            self.write(force=False)
        except Exception:  # progress is for display only: never stop the sync for it
            log.exception("admin sync job %s: progress not recorded", job.token)

    def finish(self, status, error=None):
        job = self.job
        job.status, job.error, job.timefinished = status, error, self.database.now()
        if job.total is None:
            job.total = job.done
        self.write()


def _changes_of(database, job, versions, first_new_id):
    """What the job's runs changed, by course and user; ``None`` (logged) when it cannot be read: the lists are
    for display only, and the sync itself has succeeded."""
    try:
        with database.connect() as connection:
            return job_changes(connection, database.tables, versions, first_new_id)
    except Exception:
        log.exception("admin sync job %s: its changed courses and users not read", job.token)
        return None


def _body(database, spec, job, lock, handoff):
    """The job under the lock: announce it, prepare, run the syncs; ``run_job``'s ``(status, message, result)``."""
    recorder = _Recorder(database, job)
    job.timestarted = database.now()
    recorder.write()
    handoff.begin()
    versions = []
    try:
        with database.begin() as connection:
            if spec.prepare is not None:
                spec.prepare(connection, database.tables, database.now())
            first_new_id = next_row_id(connection, database.tables)
        for companyid in spec.targets:
            result = run_sync(database, full=spec.full, companyid=companyid, origin=ORIGIN, lock=lock,
                              on_company=recorder.company_done)  # fmt: skip
            job.runs.append(result.runid)
            versions.append(result.version)
    except Exception as error:
        recorder.finish("failed", error_text(error))
        raise
    job.affected = _changes_of(database, job, versions, first_new_id)
    recorder.finish("failed" if job.failed else "success")
    return job.status, job.summary(), job


def start_sync_job(database, spec, wait=START_WAIT):
    """Start ``spec`` in a daemon thread; return once it holds the sync lock (or cannot start).

    Returns a :class:`Start`: its ``token`` names the job for :func:`read_job`; ``refused`` tells the
    admin why the job did not start (another sync holds the lock, or the database failed before it began).
    """
    token = secrets.token_hex(8)
    companyids = None if spec.companyids is None else list(spec.companyids)
    job = Job(token, spec.kind, spec.title, spec.full, companyids, "running", database.now(),
              total=None if companyids is None else len(companyids))  # fmt: skip
    handoff = _Handoff()

    def run():
        try:
            outcome = run_job(database, SYNC_JOB, lambda lock: _body(database, spec, job, lock, handoff))
        except Exception as error:  # a daemon thread has nobody to raise to: log it
            log.exception("admin sync job %s failed", token)
            handoff.refuse(f"The sync could not start: {error_text(error)}.")
        else:
            if not outcome.ran:
                handoff.refuse(
                    "The sync was not started: another sync is running. Wait until it has finished, then try again."
                )

    threading.Thread(target=run, name=f"alx-sync-{token}", daemon=True).start()
    if not handoff.wait(wait):
        late = f"The sync had not started after {wait} seconds (is the database busy?). It may still start: "
        return Start(token, late + "check the Auto-Sync page before starting it again.")
    return Start(token, handoff.refused)


def sync_lock_held(connection, database, now):
    """Whether some process holds the sync lock now (read only: the lock is never taken to find out)."""
    if has_named_locks(database):
        return NamedLock(database, SYNC_JOB).in_use(connection)
    jobs = database.tables.local_alxbridge_job
    row = connection.execute(sa.select(jobs.c.lock_owner, jobs.c.lock_expires).where(jobs.c.name == SYNC_JOB)).first()
    return row is not None and row.lock_owner is not None and row.lock_expires >= now


def _stored_job(connection, database):
    jobs = database.tables.local_alxbridge_job
    row = connection.execute(sa.select(jobs).where(jobs.c.name == PROGRESS_ROW)).first()
    return _job_from_row(row) if row is not None and row.last_message else None


def latest_job(connection, database, now):
    """The latest admin job, or ``None``; a job marked running whose process stopped is ``interrupted``.

    The lock says whether the job still runs; when it is free, the row is read again in a new
    transaction, since the job may have finished between the first read and the look at the lock.
    """
    job = _stored_job(connection, database)
    if job is None or not job.running or sync_lock_held(connection, database, now):
        return job
    if connection.in_transaction():
        connection.rollback()
    again = _stored_job(connection, database)
    if again is not None and again.token == job.token and again.running:
        again.status = "interrupted"
    return again


def read_job(connection, database, token, now):
    """The admin job named ``token``, or ``None`` when a later job has replaced it (or it never existed)."""
    job = latest_job(connection, database, now)
    return job if job is not None and job.token == token else None
