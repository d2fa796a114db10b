"""One company's API settings form: what it shows, what a submission changes, the global template copy.

Rows live in ``local_alx_api_settings``, whose ``setting_value`` is a TINYINT (−128…127) in the
plugin's schema: every number is accepted in the plugin's range intersected with 0…127 (the daily
limit up to the global limit's maximum: a value above 127 is kept in
``local_alxbridge_company_setting``, see :func:`~alxbridge.moodle.plugin_settings.write_company_setting`) and
the admin is told when a value does not fit (the plugin let 168, 720, 1440 or 10000 through and the database
clamped or refused them, finding 4). A setting the submission leaves out keeps its stored value, so
inputs a page disables for a sync mode wipe nothing (finding 5). Rows are written only for values
that change what the web service applies, except course rows: once any course changes, every course
gets its row, because a single ``course_*`` row ends the "no course rows: all courses enabled" default.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ...moodle.plugin_settings import COURSE_SETTING_PREFIX, delete_company_settings, write_company_setting
from ...sync.scope import visible_company_courses
from .plugin import RATE_LIMIT as GLOBAL_RATE_LIMIT
from .values import Change, FormState, WholeNumber, parse_choice, parse_submitted, parse_switch

# The plugin's language strings (lang/en/local_alx_report_api.php).
FIELD_LABELS = {
    "field_userid": "User ID",
    "field_firstname": "First Name",
    "field_lastname": "Last Name",
    "field_email": "Email Address",
    "field_courseid": "Course ID",
    "field_coursename": "Course Name",
    "field_timecompleted": "Completion Time (Human Readable)",
    "field_timecompleted_unix": "Completion Time (Unix Timestamp)",
    "field_timestarted": "Start Time (Human Readable)",
    "field_timestarted_unix": "Start Time (Unix Timestamp)",
    "field_percentage": "Completion Percentage",
    "field_status": "Completion Status",
}
SYNC_MODE_LABEL = "Response Mode"
SYNC_MODE_LABELS = {
    "0": "Auto (Intelligent)",
    "1": "Always Incremental Response",
    "2": "Always Full Response",
    "3": "Disabled",
}
CACHE_ENABLED_LABEL = "Enable Response Caching"
STORABLE = " (the plugin's settings table stores at most 127)"
SYNC_WINDOW = WholeNumber("sync_window_hours", "Incremental Window (Hours)", 1, 127, STORABLE)
FIRST_SYNC = WholeNumber("first_sync_hours", "Initial Response Window (Hours)", 0, 127, STORABLE)
CACHE_TTL = WholeNumber("cache_ttl_minutes", "Cache TTL (Minutes)", 1, 127, STORABLE)
# As high as the global limit allows: what the plugin's TINYINT cannot hold is kept in the bridge's table.
RATE_LIMIT = WholeNumber("rate_limit", "Rate Limit (Requests/Day)", 1, GLOBAL_RATE_LIMIT.high)
NUMBERS = (SYNC_WINDOW, FIRST_SYNC, CACHE_TTL)


@dataclass(frozen=True)
class CompanyCourse:
    id: int
    fullname: str

    @property
    def setting(self):
        return f"{COURSE_SETTING_PREFIX}{self.id}"

    @property
    def label(self):
        return f"Course {self.fullname} (ID: {self.id})"


def company_courses(connection, tables, companyid):
    """The courses the form lists: the company's visible courses (the ones the API can expose), by name."""
    ids = visible_company_courses(connection, tables, companyid).get(companyid, set())
    if not ids:
        return []
    course = tables.course
    rows = connection.execute(
        sa.select(course.c.id, course.c.fullname).where(course.c.id.in_(sorted(ids))).order_by(course.c.fullname)
    )
    return [CompanyCourse(*row) for row in rows]


def current_values(settings, courses):
    """What the web service applies now, by setting name; ``rate_limit`` is ``None`` for the global limit.

    Absent rows take the API's defaults (a course is on when the company has no course row at all,
    or its row is exactly 1); ``cache_enabled``, which the API never reads, defaults to on.
    """
    enabled = settings.enabled_course_ids
    values = {f"field_{name}": int(shown) for name, shown in settings.fields.items()}
    values |= {course.setting: int(enabled is None or course.id in enabled) for course in courses}
    return values | {
        "sync_mode": settings.sync_mode,
        SYNC_WINDOW.name: settings.sync_window_hours,
        FIRST_SYNC.name: settings.values.get(FIRST_SYNC.name, 0),
        "cache_enabled": int(bool(settings.values.get("cache_enabled", 1))),
        CACHE_TTL.name: settings.cache_ttl_minutes,
        RATE_LIMIT.name: settings.rate_limit,
    }


def form_state(settings, courses, form=None):
    """The inputs as text: the current values, or what a refused submission sent."""
    current = current_values(settings, courses)
    return FormState.of({name: "" if value is None else str(value) for name, value in current.items()}, form)


@dataclass(frozen=True)
class Update:
    """Rows to upsert and to delete, and the changes in the admin's words."""

    writes: dict
    deletes: tuple
    changes: tuple


def _label(name, courses):
    labels = {**FIELD_LABELS, "sync_mode": SYNC_MODE_LABEL, "cache_enabled": CACHE_ENABLED_LABEL}
    labels |= {number.name: number.label for number in (*NUMBERS, RATE_LIMIT)}
    labels |= {course.setting: course.label for course in courses}
    return labels[name]


def _shown(name, value):
    if name == "sync_mode":
        return SYNC_MODE_LABELS[str(value)]
    if name == RATE_LIMIT.name:
        return "global limit" if value is None else str(value)
    if name in {number.name for number in NUMBERS}:
        return str(value)
    return "on" if value else "off"


def _update(settings, courses, desired):
    current = current_values(settings, courses)
    changed = {name: value for name, value in desired.items() if value != current[name]}
    writes = {name: value for name, value in changed.items() if value is not None}
    if any(course.setting in changed for course in courses):
        for course in courses:
            value = desired.get(course.setting, current[course.setting])
            if settings.values.get(course.setting) != value:
                writes[course.setting] = value
    clear_limit = RATE_LIMIT.name in desired and desired[RATE_LIMIT.name] is None
    deletes = (RATE_LIMIT.name,) if clear_limit and RATE_LIMIT.name in settings.values else ()
    changes = tuple(
        Change(_label(name, courses), _shown(name, current[name]), _shown(name, value))
        for name, value in changed.items()
    )
    return Update(writes, deletes, changes)


def parse_company_form(form, settings, courses):
    """``(update, errors)`` for a submission; with any error the update is ``None`` and nothing may be saved."""
    desired, errors = parse_submitted(
        form,
        [
            *((name, lambda text, label=label: parse_switch(text, label)) for name, label in FIELD_LABELS.items()),
            *((course.setting, lambda text, label=course.label: parse_switch(text, label)) for course in courses),
            ("sync_mode", lambda text: int(parse_choice(text, SYNC_MODE_LABEL, SYNC_MODE_LABELS))),
            *((number.name, number.parse) for number in NUMBERS),
            ("cache_enabled", lambda text: parse_switch(text, CACHE_ENABLED_LABEL)),
            (RATE_LIMIT.name, lambda text: None if text == "" else RATE_LIMIT.parse(text)),
        ],
    )
    if errors:
        return None, errors
    return _update(settings, courses, desired), []


def template_update(settings, courses, plugin_config):
    """The plugin's "Copy from Global Template": the ``field_*`` values of the plugin config, every course on.

    An absent or empty template value means on, as in the plugin; ``"0"`` means off (the plugin's
    ``get_config() ?: 1`` turned ``"0"`` back on, so its template could never hide a field).
    """
    desired = {name: 0 if plugin_config.get(name) == "0" else 1 for name in FIELD_LABELS}
    desired |= {course.setting: 1 for course in courses}
    return _update(settings, courses, desired)


def save_company_settings(connection, tables, companyid, update, now):
    """Apply ``update`` to the company's rows (the caller's transaction makes it all or nothing)."""
    for name, value in update.writes.items():
        write_company_setting(connection, tables, companyid, name, value, now)
    if update.deletes:
        delete_company_settings(connection, tables, companyid, update.deletes)
