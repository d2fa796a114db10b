"""The admin's data tools besides syncing: clear a company's reporting data, re-check company memberships.

Both change the sync's per-company state (``local_alxbridge_company``) so the next sync does the
right thing, and both run under the sync job's lock: a run in progress would otherwise overwrite
that state with what it planned before the change.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..jobs.locks import SYNC_JOB, job_lock
from .state import next_version

# Never a members digest (40 hex characters, or "" for a company without members), so the next
# sync finds the membership changed and compares the company's rows with its current members.
RECHECK_DIGEST = "recheck"


@dataclass(frozen=True)
class Cleared:
    companyid: int | None  # None: every company
    reporting: int
    sync_status: int
    cache: int


def _of_company(table, companyid):
    return () if companyid is None else (table.c.companyid == companyid,)


def clear_reporting_data(connection, tables, companyid, now):
    """Delete the company's (or every company's) reporting, sync status and cache rows; return :class:`Cleared`.

    Rows are deleted, not tombstoned, so clients cannot be told row by row: the company's
    ``tombstone_horizon`` moves above every committed version, which sends every client that read
    before to a full read, and its next sync is a full one (``last_full = 0``: a "first sync").
    Runs in the caller's transaction, under the sync lock.
    """
    horizon = next_version(connection, tables, now)
    counts = [
        connection.execute(sa.delete(table).where(*_of_company(table, companyid))).rowcount
        for table in (tables.local_alx_api_reporting, tables.local_alx_api_sync_status, tables.local_alx_api_cache)
    ]
    state = tables.local_alxbridge_company
    connection.execute(
        sa.update(state)
        .where(*_of_company(state, companyid))
        .values(
            needs_full=1,
            last_full=0,
            tombstone_horizon=sa.case((state.c.tombstone_horizon > horizon, state.c.tombstone_horizon), else_=horizon),
            timemodified=now,
        )
    )
    return Cleared(companyid, *counts)


def clear_under_lock(database, companyid):
    """:func:`clear_reporting_data` in one transaction under the sync lock; ``None`` when a sync holds it."""
    with job_lock(database, SYNC_JOB) as lock:
        if lock is None:
            return None
        with database.begin() as connection:
            return clear_reporting_data(connection, database.tables, companyid, database.now())


def request_membership_recheck(connection, tables, companyid, now):
    """Make the next sync of the company (or of all) compare its reporting rows with its current members.

    The sync then tombstones the rows of users who left the company or were suspended in it (and
    adds rows for members who joined): the plugin's "cleanup orphaned records", through the sync's
    own writer, so clients receive the deletions. A company never synced is recomputed in full anyway.
    """
    state = tables.local_alxbridge_company
    connection.execute(
        sa.update(state).where(*_of_company(state, companyid)).values(members_digest=RECHECK_DIGEST, timemodified=now)
    )
