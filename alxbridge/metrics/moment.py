"""The instant a page is computed for, with the two windows the plugin mixes up kept apart.

"Today" is since local midnight in the site timezone (the daily quota's window); "last 24 hours"
is the sliding window ``now - 86400``. Each metric says which one it uses.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from ..moodle.siteconfig import site_timezone
from ..reporting.quota import local_midnight

DAY = 86400
HOUR = 3600


@dataclass(frozen=True)
class Moment:
    now: int
    timezone: tzinfo

    @classmethod
    def of(cls, connection, tables, now, timezone_override=None):
        return cls(int(now), site_timezone(connection, tables, timezone_override))

    @property
    def midnight(self):
        return local_midnight(self.now, self.timezone)

    @property
    def next_midnight(self):
        """When today's daily quotas reset: the start of tomorrow in the site timezone."""
        return self.day_start(self.local(self.now).date() + timedelta(days=1))

    @property
    def day_ago(self):
        return self.now - DAY

    def local(self, timestamp):
        return datetime.fromtimestamp(int(timestamp), self.timezone)

    def hour_buckets(self, hours=24):
        """``hours`` sliding one-hour windows ending now, oldest first: ``[(start, end, "HH:00"), …]``.

        Labelled by the local hour the window ends in, as the plugin's analytics do; the plugin's
        dashboards that wrapped the hour of *today* into the future (B10) are not followed.
        """
        buckets = []
        for back in range(hours - 1, -1, -1):
            end = self.now - back * HOUR
            buckets.append((end - HOUR, end, self.local(end).strftime("%H:00")))
        return buckets

    def day_start(self, day):
        """Unix time of local midnight at the start of the calendar ``day`` (a :class:`datetime.date`)."""
        return int(datetime.combine(day, time.min, self.timezone).timestamp())

    def day_buckets(self, days=7):
        """The last ``days`` local calendar days, today last and ending now: ``[(start, end, "Mon 12 May"), …]``."""
        today = self.local(self.now).date()
        buckets = []
        for back in range(days - 1, -1, -1):
            day = today - timedelta(days=back)
            end = self.now if back == 0 else self.day_start(day + timedelta(days=1))
            buckets.append((self.day_start(day), end, day.strftime("%a %d %b")))
        return buckets
