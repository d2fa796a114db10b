"""A reporting row as an API item: the plugin's date format, percentage as a number, chosen fields only."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # PHP's date('Y-m-d H:i:s')
CENT = Decimal("0.01")


def plugin_date(timestamp, timezone):
    """``date('Y-m-d H:i:s', ts)`` in the site timezone, ``''`` for 0 (never started/completed).

    The first 19 characters of ``isoformat(" ")`` are ``DATE_FORMAT`` for every year a positive
    timestamp reaches (1970-9999), at less than half the cost of ``strftime`` (a page formats 2 000).
    """
    return datetime.fromtimestamp(timestamp, timezone).isoformat(" ")[:19] if timestamp and timestamp > 0 else ""


def percentage_value(value):
    """DECIMAL(5,2) → float with two decimals at most; JSON shows ``100``, ``66.67``, ``0``."""
    if isinstance(value, Decimal):  # MySQL's DECIMAL: no round trip through text
        return float(value.quantize(CENT, rounding=ROUND_HALF_UP))
    return float(Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def api_item(row, enabled_fields, timezone):
    """The item for one reporting row (a mapping with the reporting table's columns)."""
    values = {
        "userid": row["userid"],
        "firstname": row["firstname"],
        "lastname": row["lastname"],
        "email": row["email"],
        "courseid": row["courseid"],
        "coursename": row["coursename"],
        "timecompleted": plugin_date(row["timecompleted"], timezone),
        "timecompleted_unix": row["timecompleted"] or 0,
        "timestarted": plugin_date(row["timestarted"], timezone),
        "timestarted_unix": row["timestarted"] or 0,
        "percentage": percentage_value(row["percentage"]),
        "status": row["status"],
    }
    if len(enabled_fields) == len(values):  # every field is enabled (the usual case): no second dict
        return values
    return {name: values[name] for name in enabled_fields}
