"""``local_alx_report_api_get_course_progress`` as clients see it: parameters, fields, errors.

Names, order, types and English messages are the plugin's (1.5.0). Where the plugin's behaviour is
a bug, the deliberate difference is stated next to it.
"""

from ..moodle.plugin_settings import FIELD_NAMES
from ..webservice.descriptions import DEFAULT, OPTIONAL, Multiple, Single, Value
from ..webservice.exceptions import MoodleError

FUNCTION_NAME = "local_alx_report_api_get_course_progress"
COMPONENT = "local_alx_report_api"
ENDPOINT = "get_course_progress"  # local_alx_api_logs.endpoint, as the plugin writes it

# PARAM types of the twelve optional fields; FIELD_NAMES gives the order of the return description.
FIELD_TYPES = {
    "userid": "int", "firstname": "text", "lastname": "text", "email": "email", "courseid": "int",
    "coursename": "text", "timecompleted": "text", "timecompleted_unix": "int", "timestarted": "text",
    "timestarted_unix": "int", "percentage": "float", "status": "text",
}  # fmt: skip

PARAMETERS = Single(
    {
        "limit": Value("int", DEFAULT, 100, allow_null=False),
        "offset": Value("int", DEFAULT, 0, allow_null=False),
    }
)
RETURNS = Multiple(Single({name: Value(FIELD_TYPES[name], OPTIONAL) for name in FIELD_NAMES}))


def plugin_error(errorcode, message=None, debuginfo=None):
    """A ``moodle_exception`` of the plugin; without a lang string Moodle shows ``component/errorcode``."""
    return MoodleError("moodle_exception", errorcode, message or f"{COMPONENT}/{errorcode}", debuginfo)


def limit_too_large(maximum):
    return plugin_error(
        "limittoolarge",
        f"Requested limit is too large. Maximum allowed records per request is {maximum}. "
        "Please reduce your limit parameter and try again.",
        f"Limit {maximum} exceeded",
    )


def invalid_limit(limit):
    """Deliberate difference: the plugin answers ``limit <= 0`` with every row, bypassing ``max_records``.

    The bridge refuses it with the errorcode of the plugin's later versions (no lang string exists, so
    the message is ``local_alx_report_api/invalidlimit`` exactly as Moodle would render it).
    """
    return plugin_error("invalidlimit", debuginfo=f"Limit must be at least 1. Received: {limit}")


def invalid_offset(offset):
    """Deliberate difference: the plugin silently reads from 0 for a negative offset."""
    return plugin_error("invalidoffset", debuginfo=f"Offset must be 0 or more. Received: {offset}")


def rate_limit_exceeded(count, limit):
    return plugin_error(
        "ratelimitexceeded",
        "Daily rate limit exceeded",
        f"Daily rate limit exceeded. You have made {count} requests today. Limit is {limit} requests per day. "
        "Try again tomorrow.",
    )


def get_method_disabled():
    return plugin_error(
        "invalidrequestmethod",
        "Only POST method is allowed for security reasons",
        "GET method is disabled. Only POST method is allowed for security reasons. "
        "Enable GET method in plugin settings for development/testing.",
    )


def no_company():
    return plugin_error(
        "nocompanyassociation",
        "User is not associated with any company",
        "User is not associated with any company. Please contact your administrator.",
    )
