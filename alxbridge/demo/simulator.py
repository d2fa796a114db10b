"""The demo's living site: a background thread that acts like learners and teachers at a gentle pace.

``./run demo`` (``alx demo-serve``) starts a :class:`SiteSimulator` next to the server, so the sync
tick, the monitoring charts, the alerts and the API have something to show from the first minute.
Every few seconds it performs one action of :mod:`.moodle_actions` in its own transaction; every
few minutes a :class:`~.reporting_client.PowerBiRefresh` reads a company's rows through the served
API, and once an hour a report author's draft query is refused, for the alert check to report.

It only ever writes into a database ``alx demo`` built: :meth:`SiteSimulator.prepare` refuses, with
a one-line :class:`~.errors.NotADemoSite`, a database without the demo marker, and every action's
transaction reads the marker again first, so a database swapped under a running demo is never
written to. Times are the database's clock (:meth:`~alxbridge.db.database.Database.now`), as the
bridge's; the pause between actions is wall time. The thread is a daemon and stops with the server
(:meth:`stop`); it measures its own CPU time, which the server prints when it stops.
"""

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..operations.errors import DatabaseUnavailable
from . import catalog, demo_site_present
from .errors import NotADemoSite
from .moodle_actions import ACTIONS, Site

log = logging.getLogger(__name__)
MEAN_PAUSE = 4.0  # seconds between two actions on average: about 15 changes a minute
MIN_PAUSE, MAX_PAUSE = 0.5, 15.0
REFRESH_EVERY = 360  # seconds between two API refreshes (each reads one company, in turn)
FIRST_REFRESH = 5  # the first refresh comes soon, so the monitoring pages show a call at once
DRAFT_EVERY = 3600  # seconds between two refused draft queries (an alert each, at the next alert check)
FIRST_DRAFT = 120  # the first one soon, so the first quarter-hour's alert check has an alert to raise
ATTEMPTS = 3  # actions tried per step before the step does nothing
REPORT_EVERY = 600  # seconds between two summary lines in the server's output


@dataclass
class Stats:
    """What the simulator did since it started, and what it cost."""

    started: float = field(default_factory=time.monotonic)
    cpu_seconds: float = 0.0  # the thread's own CPU time (time.thread_time)
    actions: Counter = field(default_factory=Counter)
    events: int = 0
    api_calls: int = 0

    def line(self):
        seconds = max(time.monotonic() - self.started, 1e-9)
        done = ", ".join(f"{count} {kind}" for kind, count in self.actions.most_common()) or "nothing yet"
        return (
            f"site activity: {sum(self.actions.values())} change(s) ({done}), {self.events} log event(s), "
            f"{self.api_calls} API call(s) in {seconds:.0f} s; simulator CPU {self.cpu_seconds:.2f} s "
            f"({100 * self.cpu_seconds / seconds:.2f} % of a core)"
        )


def ensure_log_store(database):
    """Moodle's default, ``tool_log | enabled_stores = logstore_standard``, and the store's table, on a demo built
    before either was part of it."""
    config = database.tables.config_plugins
    with database.begin() as connection:
        database.tables.logstore_standard_log.create(connection, checkfirst=True)
        where = sa.and_(config.c.plugin == "tool_log", config.c.name == "enabled_stores")
        if connection.execute(sa.select(config.c.id).where(where)).first() is None:
            plugin, name, value = catalog.OTHER_PLUGIN_CONFIG[0]
            connection.execute(sa.insert(config).values(plugin=plugin, name=name, value=value))


def require_demo(connection, tables):
    """Raise :class:`NotADemoSite` unless the demo marker is there (read inside the action's transaction)."""
    config = tables.config
    if connection.execute(sa.select(config.c.value).where(config.c.name == catalog.MARKER)).first() is None:
        raise NotADemoSite("the demo marker is gone from this database; the site simulator stops and writes nothing")


class SiteSimulator:
    """Learners and teachers on the demo site in ``database``; ``refresh`` (optional) reads the API now and then."""

    def __init__(self, database, refresh=None, rng=None, mean_pause=MEAN_PAUSE):
        self.database = database
        self.refresh = refresh
        self.rng = rng or random.Random()  # a simulation, not a secret
        self.mean_pause = mean_pause
        self.stats = Stats()
        self._stop = threading.Event()
        self._thread = None
        weights = [weight for _, weight in ACTIONS]
        self._pick = lambda: self.rng.choices([action for action, _ in ACTIONS], weights)[0]

    def prepare(self):
        """Refuse a database that is not a demo site; make sure Moodle logs to its standard store."""
        if not demo_site_present(self.database):
            raise NotADemoSite("the database is empty, not a demo site; the site simulator writes into demo sites only")
        ensure_log_store(self.database)
        if self.refresh is not None:
            self.refresh.prepare(self.database)

    def step(self):
        """One action in its own transaction; its :class:`~.moodle_actions.Done`, or ``None`` when
        :data:`ATTEMPTS` actions in a row found nothing to do."""
        with self.database.begin() as connection:
            require_demo(connection, self.database.tables)
            site = Site(connection, self.database.tables, self.database.now(), self.rng)
            for _ in range(ATTEMPTS):  # an action that found nothing to do gives its turn to another
                done = self._pick()(site)
                if done is not None:
                    break
        if done is not None:
            self.stats.actions[done.kind] += 1
            self.stats.events += done.events
            log.debug("site activity: %s of user %s in course %s", done.kind, done.userid, done.courseid)
        return done

    def start(self):
        """Check the database (:meth:`prepare`), then act in a daemon thread until :meth:`stop`."""
        self.prepare()
        self._thread = threading.Thread(target=self._run, name="demo-site-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _pause(self):
        return min(MAX_PAUSE, max(MIN_PAUSE, self.rng.expovariate(1 / self.mean_pause)))

    def _run(self):
        cpu_start = time.thread_time()
        next_refresh = time.monotonic() + FIRST_REFRESH
        next_draft = time.monotonic() + FIRST_DRAFT
        next_report = time.monotonic() + REPORT_EVERY
        try:
            while not self._stop.wait(self._pause()):
                try:
                    self.step()
                    if self.refresh is not None and time.monotonic() >= next_refresh:
                        self.stats.api_calls += self.refresh.run(self.database)
                        next_refresh = time.monotonic() + REFRESH_EVERY
                    if self.refresh is not None and time.monotonic() >= next_draft:
                        self.stats.api_calls += self.refresh.draft_query(self.database)
                        next_draft = time.monotonic() + DRAFT_EVERY
                except (sa.exc.DBAPIError, DatabaseUnavailable) as error:  # e.g. SQLite busy past its timeout
                    log.warning("site simulator: an action failed and is skipped: %s", type(error).__name__)
                self.stats.cpu_seconds = time.thread_time() - cpu_start
                if time.monotonic() >= next_report:
                    log.info("%s", self.stats.line())
                    next_report = time.monotonic() + REPORT_EVERY
        except NotADemoSite as error:
            log.error("site simulator: %s", error)
        except Exception:
            log.exception("site simulator stopped")
        finally:
            self.stats.cpu_seconds = time.thread_time() - cpu_start
