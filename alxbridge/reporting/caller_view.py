"""What a progress call reads about its caller's company, in two statements instead of six.

The company (by :mod:`.company`'s rule) comes with its sync state and the token's last sync status;
then the plugin's settings, the company's settings and its visible courses come back as one
``UNION ALL`` of ``(kind, name, value)`` rows. Each read is an unrelated lookup, so joining them
changes no result; it saves the round trips and statement overhead of four queries per call. The
company's row is read through the membership :mod:`.company` remembers for the caller, by its primary key,
once the caller's first call found it.
"""

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from ..db.prebuilt import prebuilt
from ..moodle.plugin_settings import (
    PLUGIN,
    CompanySettings,
    PluginSettings,
    overlay_wide_values,
    plugin_settings_from_config,
)
from ..sync.scope import SITE_COURSE_ID, exposed_among
from ..sync.state import CompanyState, company_state_from_row
from .company import Company, first_membership, membership_hints, read_first_membership
from .sessions import latest_parameters, latest_session_id

STATE_COLUMNS = tuple(field.name for field in dataclasses.fields(CompanyState))  # read by company_state_from_row


@dataclass(frozen=True)
class CallerView:
    company: Company | None
    plugin: PluginSettings
    settings: CompanySettings | None  # ``None`` without a company
    courses: tuple  # the company's exposed course ids, sorted
    state: CompanyState
    last_sync_failed: bool  # the token's last request for this company failed: auto mode answers in full
    latest_session: SimpleNamespace | None  # the read session this page may belong to (``sessions.session_for``)


@prebuilt
def _company_query(tables, continuing, membership):
    state, status = tables.local_alxbridge_company, tables.local_alx_api_sync_status
    sessions, company = tables.local_alxbridge_read_session, tables.company
    columns = (
        *(state.c[name] for name in STATE_COLUMNS), status.c.last_sync_status,
        *(column.label(f"session_{column.name}") for column in sessions.columns),
    )  # fmt: skip
    return (
        first_membership(tables, *columns, kind=membership)
        .outerjoin(state, state.c.companyid == company.c.id)
        .outerjoin(
            status, sa.and_(status.c.companyid == company.c.id, status.c.token_hash == sa.bindparam("token_hash"))
        )
        .outerjoin(
            sessions,  # the company condition is implied by the id; stated, the join reads as one to SQLAlchemy
            sa.and_(
                sessions.c.companyid == company.c.id,
                sessions.c.id == latest_session_id(sessions, company.c.id, continuing),
            ),
        )
    )


@prebuilt
def _settings_query(tables):
    """Plugin config, company settings (the plugin's and the bridge's wide ones) and visible company courses,
    as ``(kind, name, value)`` rows."""
    config, settings = tables.config_plugins, tables.local_alx_api_settings
    wide = tables.local_alxbridge_company_setting
    company_course, course = tables.company_course, tables.course
    company = sa.bindparam("company")
    # One type (and collation) per UNION column, as PostgreSQL unites no text with numbers: every value travels
    # as CAST(… AS CHAR) / VARCHAR.
    text = sa.String()
    return sa.union_all(
        sa.select(sa.literal("plugin").label("kind"), config.c.name, sa.cast(config.c.value, text)).where(
            config.c.plugin == PLUGIN
        ),
        sa.select(sa.literal("setting"), settings.c.setting_name, sa.cast(settings.c.setting_value, text)).where(
            settings.c.companyid == company
        ),
        sa.select(sa.literal("wide"), wide.c.setting_name, sa.cast(wide.c.setting_value, text)).where(
            wide.c.companyid == company
        ),
        sa.select(sa.literal("course"), sa.null(), sa.cast(company_course.c.courseid, text))
        .distinct()
        .join(course, course.c.id == company_course.c.courseid)
        .where(company_course.c.companyid == company, course.c.visible == 1, course.c.id != SITE_COURSE_ID),
    )


def _session(row, sessions):
    if row is None or row.session_id is None:
        return None
    return SimpleNamespace(**{column.name: row._mapping[f"session_{column.name}"] for column in sessions.columns})


def read_caller_view(connection, tables, user_id, token_hash, limit, offset, now):
    """The :class:`CallerView` of ``user_id`` calling with the token whose SHA-256 is ``token_hash`` for the page
    at ``offset`` of ``limit`` rows."""
    parameters = {"user": user_id, "token_hash": token_hash, **latest_parameters(limit, now)}
    row = read_first_membership(
        connection, lambda kind: _company_query(tables, offset != 0, kind), parameters, user_id, now,
        membership_hints(tables),
    )  # fmt: skip
    company = Company(row.id, row.name, row.shortname) if row else None
    config, values, courses = {}, [], set()
    for kind, name, value in connection.execute(_settings_query(tables), {"company": company and company.id}):
        if kind == "plugin":
            config[name] = value
        elif kind in ("setting", "wide"):
            values.append((kind == "wide", name, value))
        else:
            courses.add(int(value))
    if company is None:
        return CallerView(None, plugin_settings_from_config(config), None, (), CompanyState(0), False, None)
    settings = CompanySettings(company.id, overlay_wide_values(values))
    state = company_state_from_row(row) if row.companyid is not None else CompanyState(company.id)
    return CallerView(
        company, plugin_settings_from_config(config), settings, tuple(sorted(exposed_among(courses, settings))),
        state, row.last_sync_status == "failed", _session(row, tables.local_alxbridge_read_session),
    )  # fmt: skip
