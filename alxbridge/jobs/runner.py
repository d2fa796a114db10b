"""Running the bridge's jobs (sync, alerts, retention) once, whoever starts them.

:func:`run_job` takes the job's database lock; a scheduled start also passes its slot (the
hour, quarter or day it belongs to) and is skipped when another worker already ran that slot,
since each worker's scheduler fires its own copy. Each job's last run is kept in
``local_alxbridge_job`` for the admin pages, and so is the last start of a scheduler (the row
:data:`SCHEDULER_ROW`), so the pages can tell "started, first run not yet due" from "not running".
"""

import json
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..db.upsert import upsert
from ..operations.errors import BridgeError
from .locks import job_lock

MESSAGE_LIMIT = 2000
SCHEDULER_ROW = "scheduler"
log = logging.getLogger(__name__)


class BridgeTablesMissing(BridgeError):
    """The bridge's tables have not been created yet."""


@dataclass(frozen=True)
class JobOutcome:
    ran: bool
    skipped_because: str | None = None
    status: str | None = None
    message: str = ""
    result: Any = None


def require_owned_tables(database):
    with database.connect() as connection:
        database.require_moodle_site(connection)
        present = database.existing_table_names(connection)
    missing = [table.name for table in database.schema.owned if table.name not in present]
    if missing:
        raise BridgeTablesMissing(
            f"missing table(s) {', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}; "
            "create them with: flask --app wsgi alx repair-tables"
        )


def _record(database, job, **values):
    with database.begin() as connection:
        upsert(connection, database.tables.local_alxbridge_job, {"name": job}, values)


def record_scheduler_start(database, timezone):
    """Note that a scheduler started now, in ``timezone`` (its cron triggers' zone), on this host and process."""
    details = {"timezone": str(timezone), "host": socket.gethostname(), "pid": os.getpid()}
    _record(database, SCHEDULER_ROW, last_status="started", last_message=json.dumps(details),
            timestarted=database.now(), timefinished=0)  # fmt: skip


def _last_slot(database, job):
    table = database.tables.local_alxbridge_job
    with database.connect() as connection:
        return connection.execute(sa.select(table.c.last_slot).where(table.c.name == job)).scalar() or 0


def run_job(database, job, body, slot=None):
    """Run ``body(lock)`` under ``job``'s lock and record it; ``body`` returns ``(status, message, result)``.

    Returns a :class:`JobOutcome`; ``ran`` is false when the lock was busy or ``slot`` already ran.
    Exceptions from ``body`` are recorded as a failed run and re-raised.
    """
    with job_lock(database, job) as lock:
        if lock is None:
            return JobOutcome(False, "another process holds the lock")
        if slot is not None and _last_slot(database, job) >= slot:
            return JobOutcome(False, "this slot already ran")
        started = database.now()
        _record(database, job, last_status="running", last_message=None, timestarted=started, timefinished=0)
        try:
            status, message, result = body(lock)
        except Exception as error:
            try:
                _record(database, job, last_status="failed", last_message=str(error)[:MESSAGE_LIMIT],
                        timefinished=database.now())  # fmt: skip
            except (BridgeError, sa.exc.DBAPIError):
                log.warning("job %s: could not record its failure (the database is unavailable)", job)
            raise
        finished = {"last_status": status, "last_message": message[:MESSAGE_LIMIT], "timefinished": database.now()}
        if slot is not None:
            finished["last_slot"] = slot
        _record(database, job, **finished)
        return JobOutcome(True, status=status, message=message, result=result)
