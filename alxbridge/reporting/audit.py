"""One ``local_alx_api_logs`` row per call, success or error, with the plugin's columns.

A call the daily quota admits is counted in the open transaction (:func:`~.quota.admit_call`) and its
row is committed with that count: a short call (a cached page) inserts it complete with its other
writes in the one commit that ends the call; a call about to do long work (reading a page from the
database) first commits a reserved row (:func:`reserved_row`), which releases the user's counter row,
and completes it when it ends. Calls refused before the quota check get their row when they end. A
failed call's own writes are rolled back first, so every call is logged, and a logging failure never
turns a served page into an error.
"""

import json
import logging
import time

import sqlalchemy as sa

from ..db.prebuilt import prebuilt

log = logging.getLogger(__name__)
USER_AGENT_LENGTH = 255
IP_LENGTH = 45


def _details(details):
    return json.dumps(details, separators=(",", ":")) if details else None


def reserved_row(*, user_id, company_shortname, endpoint, ip_address, user_agent, details, now):
    """The row of an admitted call as it starts: no records, no error and no timing yet (``0``)."""
    return {
        "userid": user_id,
        "company_shortname": company_shortname,
        "endpoint": endpoint,
        "record_count": 0,
        "error_message": None,
        "response_time_ms": 0,
        "timeaccessed": now,
        "ip_address": (ip_address or "unknown")[:IP_LENGTH],
        "user_agent": (user_agent or "unknown")[:USER_AGENT_LENGTH],
        "additional_data": _details(details),
    }


def rejection_row(*, user_id, company_shortname, endpoint, ip_address, user_agent, now):
    """The day's first quota rejection (its ``error_message`` is added by the quota)."""
    return {
        "userid": user_id, "company_shortname": company_shortname, "endpoint": endpoint, "record_count": 0,
        "response_time_ms": 0, "timeaccessed": now, "ip_address": (ip_address or "")[:IP_LENGTH],
        "user_agent": (user_agent or "")[:USER_AGENT_LENGTH],
    }  # fmt: skip


@prebuilt
def _insert_query(tables):
    return tables.local_alx_api_logs.insert()


@prebuilt
def _completion_query(tables):
    logs = tables.local_alx_api_logs
    return sa.update(logs).where(logs.c.id == sa.bindparam("log_id"))


class CallLog:
    """The log row of one call, written in the transaction that counts the call (see the module docstring).

    Set :attr:`company_shortname` once the company is known, :meth:`admitted` with the quota's admission,
    :meth:`reserve` before long work, end with :meth:`finish`; :meth:`rollback` drops the call's own writes.
    """

    def __init__(self, connection, tables, *, user_id, endpoint, ip_address, user_agent, now):
        self.connection, self.tables = connection, tables
        self.user_id, self.endpoint, self.ip_address, self.user_agent, self.now = (
            user_id, endpoint, ip_address, user_agent, now,
        )  # fmt: skip
        self.started = time.perf_counter()
        self.company_shortname = "unknown"
        self.admission = None  # the call's count, not committed yet
        self.recount = None  # a count rolled back with the call's writes: made again with the row
        self.reservation = None  # the id of the call's committed reserved row

    def _row(self, details):
        return reserved_row(
            user_id=self.user_id, company_shortname=self.company_shortname, endpoint=self.endpoint,
            ip_address=self.ip_address, user_agent=self.user_agent, details=details, now=self.now,
        )  # fmt: skip

    def admitted(self, admission):
        """The quota counted the call in, in the open transaction (:class:`~.quota.Admission`)."""
        self.admission = admission

    def reserve(self, details):
        """Commit the reserved row with the call's count and writes so far, before long work: the user's
        counter row is free again, and a call that never ends still counts and stays in the log."""
        if self.reservation is None:
            inserted = self.connection.execute(_insert_query(self.tables), self._row(details))
            self.reservation = inserted.inserted_primary_key[0]
            self.connection.commit()
            self.admission = None

    def rollback(self):
        """Drop the call's uncommitted writes; an uncommitted count goes with them until :meth:`finish`."""
        self.connection.rollback()
        self.recount, self.admission = self.admission, None

    def finish(self, *, record_count, error_message, details):
        """Write the call's row (completing its reservation, if any) and commit the call. Should that fail, the
        answer is still served; a count still uncommitted is then lost with the row (count and log stay equal)."""
        outcome = {
            "record_count": record_count,
            "error_message": error_message,
            "response_time_ms": round((time.perf_counter() - self.started) * 1000, 2),
            "additional_data": _details(details),
        }
        connection, tables = self.connection, self.tables
        try:
            if self.recount is not None:
                self.recount.count_again(connection, tables)
            if self.reservation is not None:
                connection.execute(_completion_query(tables), {"log_id": self.reservation, **outcome})
            else:
                connection.execute(_insert_query(tables), {**self._row(None), **outcome})
            connection.commit()
        except Exception:
            connection.rollback()
            log.exception("could not write the API log row for user %s", self.user_id)
