"""The instant a page is computed for, with the two windows the plugin mixes up kept apart.

"Today" is since local midnight in the site timezone (the daily quota's window); "last 24 hours"
is the sliding window ``now - 86400``. Each metric says which one it uses.
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo

from ..reporting.quota import local_midnight
from ..siteconfig import site_timezone

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
