"""A reporting row as an API item: the plugin's date format, percentage as a number, chosen fields only."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # PHP's date('Y-m-d H:i:s')


def plugin_date(timestamp, timezone):
    """``date('Y-m-d H:i:s', ts)`` in the site timezone, ``''`` for 0 (never started/completed)."""
    return datetime.fromtimestamp(timestamp, timezone).strftime(DATE_FORMAT) if timestamp and timestamp > 0 else ""


def percentage_value(value):
    """DECIMAL(5,2) → float with two decimals at most; JSON shows ``100``, ``66.67``, ``0``."""
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


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
    return {name: values[name] for name in enabled_fields}
