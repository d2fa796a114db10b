"""A reporting row as an API item: the plugin's date format, percentage as a number, chosen fields only."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # PHP's date('Y-m-d H:i:s')
CENT = Decimal("0.01")
DAY = 86400
_OFFSETS = {}  # {(zone, UTC day): the zone's UTC offset all that day, or None when it changes that day}
_DAY_PREFIXES = {}  # {local day: "YYYY-MM-DD "}
_MEMO_LIMIT = 200_000  # a few hundred years of days: a bound, never reached by real data
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))


def _utc_offset(timestamp, timezone):
    return int(datetime.fromtimestamp(timestamp, timezone).utcoffset().total_seconds())


def _day_offset(day, timezone):
    """The zone's offset through UTC day ``day``, or ``None`` if a transition falls inside it.

    Zones change offset at most a few times a year, never twice in a day, so a day whose first and
    last second share an offset has it throughout.
    """
    key = (timezone, day)
    if key not in _OFFSETS:
        if len(_OFFSETS) > _MEMO_LIMIT:
            _OFFSETS.clear()
        start = _utc_offset(day * DAY, timezone)
        _OFFSETS[key] = start if start == _utc_offset(day * DAY + DAY - 1, timezone) else None
    return _OFFSETS[key]


def plugin_date(timestamp, timezone):
    """``date('Y-m-d H:i:s', ts)`` in the site timezone, ``''`` for 0 (never started/completed).

    A page formats two thousand dates, so the zone's offset is looked up per day (memoised) and the
    local date per day, leaving integer arithmetic per value; the first 19 characters of
    ``isoformat(" ")`` are ``DATE_FORMAT`` for every year a positive timestamp reaches (1970-9999).
    """
    if not timestamp or timestamp <= 0:
        return ""
    offset = _OFFSETS.get((timezone, timestamp // DAY), False)
    if offset is False:
        offset = _day_offset(timestamp // DAY, timezone)
    if offset is None:  # the day of a daylight-saving change
        return datetime.fromtimestamp(timestamp, timezone).isoformat(" ")[:19]
    day, seconds = divmod(timestamp + offset, DAY)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        if len(_DAY_PREFIXES) > _MEMO_LIMIT:
            _DAY_PREFIXES.clear()
        prefix = _DAY_PREFIXES[day] = datetime.fromtimestamp(day * DAY, UTC).isoformat(" ")[:11]
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{prefix}{_TWO_DIGITS[hours]}:{_TWO_DIGITS[minutes]}:{_TWO_DIGITS[seconds]}"


def percentage_value(value):
    """DECIMAL(5,2) → float with two decimals at most; JSON shows ``100``, ``66.67``, ``0``."""
    if isinstance(value, Decimal):  # MySQL's DECIMAL: no round trip through text
        return float(value.quantize(CENT, rounding=ROUND_HALF_UP))
    return float(Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def api_item(row, enabled_fields, timezone):
    """The item for one reporting row (a tuple of ``pages.REPORTING_COLUMNS``, in that order)."""
    _, userid, courseid, firstname, lastname, email, coursename, completed, started, percentage, status = row
    values = {
        "userid": userid,
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "courseid": courseid,
        "coursename": coursename,
        "timecompleted": plugin_date(completed, timezone),
        "timecompleted_unix": completed or 0,
        "timestarted": plugin_date(started, timezone),
        "timestarted_unix": started or 0,
        "percentage": percentage_value(percentage),
        "status": status,
    }
    if len(enabled_fields) == len(values):  # every field is enabled (the usual case): no second dict
        return values
    return {name: values[name] for name in enabled_fields}
