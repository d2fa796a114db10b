"""The external functions the bridge implements, by name. Anything else is Moodle's (pass-through)."""

from ..reporting.service import GET_COURSE_PROGRESS
from .site_info import SITE_INFO

FUNCTIONS = {function.name: function for function in (SITE_INFO, GET_COURSE_PROGRESS)}
