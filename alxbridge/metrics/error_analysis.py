"""Errors by category, for the performance page's "Error Analysis" (the product guide's table).

The categories come from what the bridge really records of a refused or failed call:

* the audit log's failed calls (:func:`~.api_usage.failed`), classified by their ``error_message``
  — the messages the web service writes (``reporting.contract``, ``reporting.quota``, the
  "Error reading from database" of an unexpected failure) and those the PHP plugin wrote;
* the calls refused before the function ran (``local_alxbridge_refusal``, :mod:`.refusals`): the
  abuse shield's blocks are rate limiting, every other refusal is an authentication failure.

A message is put in the first category whose words it contains (:data:`RULES`, case-insensitive),
else in "Other". "Invalid token or access" counts exactly the failed authentications every page
shows (:func:`~.api_usage.failed_auth_calls`, same patterns, same refusals). The daily quota logs
only each caller's first refused call of a day, so "Rate limit" counts callers stopped by the quota
per day (and every shield block), not each call they kept making.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from .api_usage import AUTH_ERROR_PATTERNS, failed, percent
from .refusals import refusal_summary

RATE_LIMIT = "Rate limit"
ACCESS = "Invalid token or access"
DATABASE = "Database"
PARAMETER = "Invalid parameter"
OTHER = "Other"
RULES = (
    (ACCESS, AUTH_ERROR_PATTERNS),  # first: the failed-authentication count of every page
    (RATE_LIMIT, ("rate limit",)),
    (DATABASE, ("database", "dml", "deadlock", "lock wait")),
    (PARAMETER, ("too large", "invalidlimit", "invalidoffset", "invalid parameter", "invalidparameter",
                 "post method")),
)  # fmt: skip
CATEGORIES = (RATE_LIMIT, ACCESS, DATABASE, PARAMETER, OTHER)


@dataclass(frozen=True)
class ErrorCategory:
    name: str
    logged: int  # failed calls in the audit log
    refused: int  # calls refused before they reached the log
    share: float | None  # percent of all errors of the window

    @property
    def errors(self):
        return self.logged + self.refused


def _category_of_message(logs):
    message = sa.func.lower(logs.c.error_message)
    return sa.case(
        *((sa.or_(*(message.like(f"%{word}%") for word in words)), name) for name, words in RULES), else_=OTHER
    )


def error_categories(connection, tables, since, until):
    """One :class:`ErrorCategory` per category of :data:`CATEGORIES`, in that order, over the window."""
    logs = tables.local_alx_api_logs
    category = _category_of_message(logs).label("category")
    logged = dict(
        connection.execute(
            sa.select(category, sa.func.count())
            .where(logs.c.timeaccessed >= since, logs.c.timeaccessed <= until, failed(logs))
            .group_by(category)
        ).all()
    )
    refusals = refusal_summary(connection, tables, since, until)
    before_log = {RATE_LIMIT: refusals.blocked, ACCESS: refusals.failed_auth}
    total = sum(logged.values()) + sum(before_log.values())
    return [
        ErrorCategory(name, logged.get(name, 0), before_log.get(name, 0),
                      percent(logged.get(name, 0) + before_log.get(name, 0), total))
        for name in CATEGORIES
    ]  # fmt: skip
