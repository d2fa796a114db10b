"""How fresh the reporting table is: which path brings Moodle's changes in, and how far behind it is.

With the standard log store on and the tick on, a change reaches the API within a tick; the lag is the
time since the last tick finished reading the log (what was logged since is not in the table yet).
With the store off, or ``ALX_SYNC_TICK_SECONDS=0``, changes wait for the hourly run and there is no
tick lag to watch. ``/healthz``, the alert check and the Auto-Sync page read the same figures.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..sync.events import PROGRESS_EVENTS, standard_log_in_use
from ..sync.tick import read_tail_figures

RATE_WINDOW = 600  # events per minute are averaged over the last ten minutes
MIN_LAG_ALERT = 300  # the tick is lagging when it has not caught up for 5 minutes (or 10 ticks, if longer)
TICK_PATH, HOURLY_SCANS, HOURLY_TICK_OFF = "event tail", "hourly table scans", "hourly run (tick off)"


def lag_threshold(tick_seconds):
    return max(MIN_LAG_ALERT, 10 * tick_seconds)


@dataclass(frozen=True)
class Freshness:
    path: str  # TICK_PATH, HOURLY_SCANS or HOURLY_TICK_OFF
    tick_seconds: int
    last_tick: int | None = None  # when the last tick finished reading the log
    lag_seconds: int | None = None  # now - last_tick
    newest_event_age: int | None = None  # now - timecreated of the newest event read
    events_per_minute: float = 0.0  # progress-moving events Moodle logged, last ten minutes
    tick_ms: int | None = None
    last_events: int = 0
    last_rows_changed: int = 0
    missing_ids: int = 0
    last_error: str | None = None

    @property
    def ticking(self):
        return self.path == TICK_PATH

    @property
    def lagging(self):
        """The tick should run but has not caught up with the log for longer than :func:`lag_threshold`."""
        return self.ticking and (self.lag_seconds is None or self.lag_seconds > lag_threshold(self.tick_seconds))

    def as_data(self):
        return {
            "path": self.path, "tick_seconds": self.tick_seconds, "lag_seconds": self.lag_seconds,
            "lagging": self.lagging, "newest_event_age": self.newest_event_age,
            "events_per_minute": self.events_per_minute, "tick_ms": self.tick_ms,
        }  # fmt: skip


def _events_per_minute(connection, tables, now):
    log = tables.logstore_standard_log
    count = connection.execute(
        sa.select(sa.func.count())
        .select_from(log)
        .where(log.c.timecreated > now - RATE_WINDOW, log.c.eventname.in_(PROGRESS_EVENTS))
    ).scalar()
    return round(count * 60 / RATE_WINDOW, 1)


def read_freshness(connection, tables, now, tick_seconds):
    """The :class:`Freshness` at ``now`` for a tick every ``tick_seconds`` (0: off)."""
    if not standard_log_in_use(connection, tables):
        return Freshness(HOURLY_SCANS, tick_seconds)
    rate = _events_per_minute(connection, tables, now)
    if not tick_seconds:
        return Freshness(HOURLY_TICK_OFF, 0, events_per_minute=rate)
    tail = read_tail_figures(connection, tables)
    if tail is None:
        return Freshness(TICK_PATH, tick_seconds, events_per_minute=rate)
    return Freshness(
        TICK_PATH, tick_seconds, last_tick=tail.timeticked, lag_seconds=max(0, now - tail.timeticked),
        newest_event_age=max(0, now - tail.newest_event) if tail.newest_event else None, events_per_minute=rate,
        tick_ms=tail.duration_ms, last_events=tail.events_read, last_rows_changed=tail.rows_changed,
        missing_ids=tail.missing_count, last_error=tail.last_error,
    )  # fmt: skip
