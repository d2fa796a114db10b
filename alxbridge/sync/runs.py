"""One sync run: plan every company, write the changes, record what happened.

A run takes one version (a unix time above every committed version). Companies recomputed in
full are written one by one; the shortlists of all the others (the hourly case) are written
together, in one transaction of a handful of statements, so a run costs little per company. Each
company's rows, its committed version, its watermark and its ``cron_task`` status row commit
together or not at all, so a run killed in the middle leaves every company it was writing exactly
as it was. A company that fails is recorded as failed, keeps its version and is recomputed in full
by the next run; the other companies still sync (when the shortlists fail together, they are
rolled back and written one by one to find the culprit). The caller holds the job lock (see
:mod:`alxbridge.jobs.runner`).
"""

import logging
import os
import socket
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from .changes import encode_courses, plan_companies
from .state import Synced, next_version, read_all_company_states, record_companies_synced, record_company_failed
from .status import clear_company_cache, record_cron_successes, record_cron_sync, record_run_stats
from .writer import WriteCounts, write_company, write_shortlists

log = logging.getLogger(__name__)
DIGEST_BATCH = 1000


@dataclass
class CompanyResult:
    companyid: int
    reason: str
    full: bool
    counts: WriteCounts = field(default_factory=WriteCounts)
    users_changed: int = 0
    seconds: float = 0.0  # a company written with others gets an equal share of their time
    error: str | None = None


@dataclass
class RunResult:
    runid: int
    version: int
    companies: list = field(default_factory=list)

    @property
    def failed(self):
        return [c for c in self.companies if c.error]

    @property
    def created(self):
        return sum(c.counts.created for c in self.companies)

    @property
    def updated(self):
        return sum(c.counts.updated for c in self.companies)

    @property
    def deleted(self):
        return sum(c.counts.deleted for c in self.companies)

    @property
    def status(self):
        return "failed" if self.failed else "success"

    def summary(self):
        text = (
            f"version {self.version}: {len(self.companies)} companies, {self.created} created, "
            f"{self.updated} updated, {self.deleted} deleted"
        )
        if self.failed:
            text += f"; failed: {', '.join(f'{c.companyid} ({c.error})' for c in self.failed)}"
        return text


def error_text(error):
    """A one-line reason without SQL or bound values (they may hold personal data)."""
    original = getattr(error, "orig", None) if isinstance(error, DBAPIError) else None
    return " ".join(str(original or error).split()) or type(error).__name__


def _companies(connection, tables, only):
    """Every IOMAD company, plus companies the bridge synced before that IOMAD has since deleted."""
    if only is not None:
        return [only]
    ids = {cid for (cid,) in connection.execute(sa.select(tables.company.c.id))}
    ids |= {cid for (cid,) in connection.execute(sa.select(tables.local_alxbridge_company.c.companyid))}
    return sorted(ids)


def _start_run(connection, tables, mode, origin, companyid, now):
    runs = tables.local_alxbridge_sync_run
    with connection.begin():
        # The caller holds the lock, so a run still marked running was killed.
        connection.execute(sa.update(runs).where(runs.c.status == "running").values(status="aborted", timefinished=now))
        return connection.execute(
            sa.insert(runs).values(
                mode=mode,
                origin=origin,
                companyid=companyid or 0,
                status="running",
                host=f"{socket.gethostname()}:{os.getpid()}"[:255],
                timestarted=now,
            )
        ).inserted_primary_key[0]


def _finish_run(connection, tables, result, now):
    runs = tables.local_alxbridge_sync_run
    with connection.begin():
        connection.execute(
            sa.update(runs)
            .where(runs.c.id == result.runid)
            .values(
                version=result.version,
                status=result.status,
                timefinished=now,
                companies=len(result.companies),
                companies_full=sum(1 for c in result.companies if c.full),
                companies_failed=len(result.failed),
                records_created=result.created,
                records_updated=result.updated,
                records_deleted=result.deleted,
                message=result.summary()[:2000],
            )
        )


def _store_course_digests(connection, tables, digests, now):
    """Replace the stored digests of the courses that changed, a few statements per thousand courses."""
    table = tables.local_alxbridge_course
    courseids = sorted(digests)
    with connection.begin():
        for start in range(0, len(courseids), DIGEST_BATCH):
            batch = courseids[start : start + DIGEST_BATCH]
            connection.execute(sa.delete(table).where(table.c.courseid.in_(batch)))
            connection.execute(sa.insert(table), [{"courseid": c, **digests[c], "timemodified": now} for c in batch])


def _users_changed(connection, tables, plan, version):
    """Distinct users among the company's rows stamped with ``version``.

    Only the plan's users are counted when it names users alone (the unique index then serves the
    query); otherwise the company's rows are read through the ``companyid`` index — filtering on
    ``last_updated`` would walk every row a full run stamped with the same version.
    """
    reporting = tables.local_alx_api_reporting
    stamped = sa.case((reporting.c.last_updated == version, reporting.c.userid))
    query = sa.select(sa.func.count(sa.distinct(stamped))).where(reporting.c.companyid == plan.companyid)
    if plan.scopes and all(scope.course_ids is None and scope.user_ids for scope in plan.scopes):
        users = sorted(set().union(*(scope.user_ids for scope in plan.scopes)))
        query = query.where(reporting.c.userid.in_(users))
    return connection.execute(query).scalar()


def _synced(plan, version=None):
    return Synced(plan.companyid, plan.members_digest, encode_courses(plan.course_ids), version)


def _sync_company(connection, tables, plan, version, started, clock):
    """Write one company and its bookkeeping in one transaction; return its :class:`CompanyResult`."""
    result = CompanyResult(plan.companyid, plan.reason, plan.is_full)
    begun = time.perf_counter()
    with connection.begin():
        now = clock()
        for scope in plan.scopes:
            result.counts += write_company(connection, tables, plan.companyid, plan.course_ids, version, now, scope)
        changed = result.counts.changed > 0
        if changed:
            result.users_changed = _users_changed(connection, tables, plan, version)
            clear_company_cache(connection, tables, [plan.companyid])
        synced = _synced(plan, version if changed else None)
        record_companies_synced(connection, tables, [synced], started=started, full=plan.is_full)
        record_cron_sync(connection, tables, plan.companyid, result.counts.changed, None, now)
        log.debug("company %s: %s; committing", plan.companyid, result.counts)
    result.seconds = time.perf_counter() - begun
    return result


def _sync_shortlists(connection, tables, plans, version, started, clock):
    """Write every shortlisted company and its bookkeeping in one transaction; return their results.

    Must come before any company of the run is written on its own (see :func:`write_shortlists`).
    """
    begun = time.perf_counter()
    with connection.begin():
        now = clock()
        stamped = write_shortlists(connection, tables, [plan.shortlist for plan in plans], version, now)
        clear_company_cache(connection, tables, list(stamped))
        synced = [_synced(plan, version if plan.companyid in stamped else None) for plan in plans]
        record_companies_synced(connection, tables, synced, started=started, full=False)
        counts = {plan.companyid: stamped.get(plan.companyid, (WriteCounts(), 0)) for plan in plans}
        record_cron_successes(connection, tables, {cid: c.changed for cid, (c, _) in counts.items()}, now)
        log.debug("%d shortlisted companies written, %d changed; committing", len(plans), len(stamped))
    share = (time.perf_counter() - begun) / len(plans)
    return [CompanyResult(plan.companyid, plan.reason, False, *counts[plan.companyid], seconds=share) for plan in plans]


def _record_failure(connection, tables, plan, error, clock):
    result = CompanyResult(plan.companyid, plan.reason, plan.is_full, error=error_text(error))
    log.error("company %s: sync failed: %s", plan.companyid, result.error)
    now = clock()
    with connection.begin():
        record_company_failed(connection, tables, plan.companyid, result.error, now)
        record_cron_sync(connection, tables, plan.companyid, 0, result.error, now)
    return result


def run_sync(database, *, full=False, companyid=None, origin="cli", lock=None, on_company=None):
    """Sync every company (or ``companyid``); ``full`` recomputes everything. Returns a :class:`RunResult`.

    ``lock`` (from :func:`alxbridge.jobs.locks.job_lock`) is kept alive between companies;
    ``on_company(result, done, total)`` reports progress.
    """
    tables = database.tables
    clock = database.now
    started = clock()
    with database.engine.connect() as connection:
        if database.is_mysql:
            # Moodle's own isolation: consistent reads of Moodle's tables without locking its rows.
            connection = connection.execution_options(isolation_level="READ COMMITTED")
        runid = _start_run(connection, tables, "full" if full else "auto", origin, companyid, started)
        with connection.begin():
            states = read_all_company_states(connection, tables)
            version = next_version(connection, tables, started)
            companyids = _companies(connection, tables, companyid)
            plans, course_digests = plan_companies(connection, tables, companyids, states, started, full)
        result = RunResult(runid, version)
        log.info("sync run %s (version %s): %d companies", runid, version, len(plans))

        def report(company):
            result.companies.append(company)
            if on_company is not None:
                on_company(company, len(result.companies), len(plans))

        shortlisted = [plan for plan in plans if not plan.is_full]
        one_by_one = [plan for plan in plans if plan.is_full]
        if shortlisted:
            if lock is not None:
                lock.keep_alive()
            try:
                companies = _sync_shortlists(connection, tables, shortlisted, version, started, clock)
            except Exception as error:  # noqa: BLE001 - retried one by one below, where it is recorded
                log.warning("shortlisted companies failed together, writing them one by one: %s", error_text(error))
                one_by_one = plans
            else:
                for company in companies:
                    report(company)
        for plan in one_by_one:
            if lock is not None:
                lock.keep_alive()
            try:
                company = _sync_company(connection, tables, plan, version, started, clock)
            except Exception as error:  # noqa: BLE001 - one failing company must not stop the others
                company = _record_failure(connection, tables, plan, error, clock)
            report(company)
        finished = clock()
        if companyid is None:
            # Only a run over every company may move the course baselines the shortlist compares with.
            _store_course_digests(connection, tables, course_digests, finished)
            with connection.begin():
                record_run_stats(connection, tables, result, finished)
        _finish_run(connection, tables, result, finished)
    log.info("sync run %s finished: %s", runid, result.summary())
    return result
