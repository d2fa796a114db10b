"""``local_alx_report_api_get_course_progress``: one page of the caller's company progress.

Order of checks as in the plugin: limit, daily quota, GET allowed, company. Then the page comes from
the caller's read session (lossless paging, deletions forcing a full answer), through the versioned
cache, or — before the company's first sync — live from Moodle's tables with the same semantics.
Every call except quota rejections after the first is written to ``local_alx_api_logs`` (a call the
quota admits as it is admitted, completed when it ends: see :mod:`.quota`); every served page
updates the token's ``local_alx_api_sync_status`` row (except in the Disabled sync mode).
"""

import time
from dataclasses import dataclass

from ..alerts.dispatch import store_alert
from ..alerts.rules import Condition
from ..moodle.plugin_settings import FIELD_NAMES
from ..moodle.siteconfig import site_timezone
from ..sync.status import record_sync_status
from ..webservice.exceptions import MoodleError
from ..webservice.functions import ExternalFunction, Rendered
from .answer_headers import LIVE_HEADERS, sync_headers
from .audit import log_call, rejection_row, reserved_row
from .caller_view import read_caller_view
from .clients import replaces_its_table
from .contract import (
    ENDPOINT,
    FUNCTION_NAME,
    PARAMETERS,
    RETURNS,
    get_method_disabled,
    invalid_limit,
    invalid_offset,
    limit_too_large,
    no_company,
)  # fmt: skip
from .formatting import api_item
from .json_page import encode_page
from .pages import live_page, session_page
from .quota import admit_call
from .sessions import SYNC_MODE_DISABLED, Snapshot, record_page, session_for, token_hash


def _alert_first_rejection(context, company, settings, count, limit):
    user = context.caller.user
    name = f"{user['firstname']} {user['lastname']}".strip() or user["username"]
    condition = Condition(
        "rate_limit_exceeded", "high", f"user:{user['id']}",
        f"User {name} from {company.name if company else 'no company'} exceeded rate limit ({count}/{limit} requests)",
        {"user_id": user["id"], "requests_today": count, "daily_limit": limit},
    )  # fmt: skip
    store_alert(context.connection, context.tables, settings, condition, context.now, context.client_ip or "")
    context.connection.commit()


def _snapshot(context, view, fields):
    return Snapshot(
        companyid=view.company.id, token_hash=token_hash(context.token), sync_mode=view.settings.sync_mode,
        window_hours=view.settings.sync_window_hours, committed_version=view.state.committed_version,
        tombstone_horizon=view.state.tombstone_horizon, fields=fields, courses=view.courses,
        last_sync_failed=view.last_sync_failed, replaces_table=replaces_its_table(context.user_agent),
    )  # fmt: skip


@dataclass(frozen=True)
class Page:
    """One served page: how many rows, the last reporting id, and the body the client receives."""

    count: int
    last_id: int | None
    body: str


def _cached_page(cache, key, ttl, compute):
    """``(page, hit)`` through the versioned cache; a TTL of 0 minutes disables caching.

    The finished body is cached (per response format), so a hit skips the query, the formatting,
    the return-value cleaning and the serialisation.
    """
    if cache is None or ttl <= 0:
        return compute(), False
    page = cache.get(key)
    if page is not None:
        return page, True
    page = compute()
    cache.set(key, page, timeout=ttl)
    return page, False


def _page_key(context, view, session, limit, offset, timezone):
    """Everything the body depends on, so entries never need invalidation (design §2), and the company's cache
    generation, which "Clear API cache" bumps to retire its entries in every process at once."""
    parts = (
        "alx-progress", view.company.id, view.state.cache_generation,
        session.mode, session.low_version, session.high_version, session.max_id,
        session.settings_digest, limit, offset, session.bookmarks.get(offset), context.response_format, timezone,
    )  # fmt: skip
    return ":".join(map(str, parts))


def _page(context, rows, fields, timezone):
    """The :class:`Page` of ``rows`` (read once); JSON, the format Power BI reads, is written directly
    (:mod:`.json_page`)."""
    if context.response_format == "json":
        return Page(*encode_page(rows, fields, timezone, context.render))
    rows = list(rows)
    body = context.render([api_item(row, fields, timezone) for row in rows])
    return Page(len(rows), rows[-1][0] if rows else None, body)


def _read_page(context, view, limit, offset, timezone, details):
    """``(page, headers)``: the :class:`Page` and the headers saying what it is (:mod:`.answer_headers`)."""
    connection, tables, company = context.connection, context.tables, view.company
    enabled = view.settings.fields
    fields = tuple(name for name in FIELD_NAMES if enabled[name])
    if view.state.committed_version == 0:  # never synced: serve live, statelessly
        rows = live_page(connection, tables, company.id, view.courses, offset, limit, context.now)
        details.update(mode="live", cache_hit=False)
        return _page(context, rows, fields, timezone), LIVE_HEADERS

    snapshot = _snapshot(context, view, fields)
    session = session_for(connection, tables, snapshot, limit, offset, context.now, view.latest_session)

    def compute():
        with session_page(connection, tables, company.id, session, offset, limit) as rows:
            return _page(context, rows, session.fields, timezone)

    key = _page_key(context, view, session, limit, offset, timezone)
    page, hit = _cached_page(context.cache, key, view.settings.cache_ttl_minutes * 60, compute)
    completed = record_page(connection, tables, session, offset, page.count, page.last_id, context.now)
    details.update(
        mode=session.mode, cache_hit=hit, session_id=session.id, replayed=session.replayed,
        window=[session.low_version, session.high_version], session_completed=completed,
    )  # fmt: skip
    return page, sync_headers(session.mode, session.low_version, session.high_version)


def _record_failure(connection, tables, company, company_settings, token, message, now):
    """The plugin's ``update_sync_status(0, 'failed', …)``: the token's next session starts full."""
    if company is None or company_settings is None or company_settings.sync_mode == SYNC_MODE_DISABLED:
        return
    try:
        record_sync_status(connection, tables, company.id, token_hash(token), 0, "failed", message, now)
        connection.commit()
    except Exception:  # noqa: BLE001 - the database that just failed may still be failing
        connection.rollback()


def get_course_progress(context, params):
    limit, offset = params["limit"], params["offset"]
    connection, tables, user = context.connection, context.tables, context.caller.user
    started = time.perf_counter()
    details = {"limit": limit, "offset": offset, "request_method": context.method}
    company = company_settings = None
    record_count, error_message = 0, None
    reservation = None  # the id of the call's log row, written when the quota admits the call
    rejected = False  # by the quota: the first rejection of the day logs itself, later ones are not logged
    try:
        view = read_caller_view(connection, tables, user["id"], token_hash(context.token), limit, offset, context.now)
        company, settings = view.company, view.plugin  # the company also for the log row of early errors
        if limit > settings.max_records:
            raise limit_too_large(settings.max_records)
        if limit <= 0:
            raise invalid_limit(limit)
        if offset < 0:
            raise invalid_offset(offset)
        timezone = site_timezone(connection, tables, context.settings.get("ALX_TIMEZONE"), context.site_config)
        company_settings = view.settings
        row = {
            "user_id": user["id"], "company_shortname": company.shortname if company else "unknown",
            "endpoint": ENDPOINT, "ip_address": context.client_ip, "user_agent": context.user_agent, "now": context.now,
        }  # fmt: skip
        reservation = admit_call(
            connection, tables, user_id=user["id"],
            daily_limit=(company_settings and company_settings.rate_limit) or settings.rate_limit, now=context.now,
            timezone=timezone, reservation=reserved_row(**row, details=details),
            rejection=rejection_row(**{**row, "company_shortname": company.shortname if company else ""}),
            on_first_rejection=lambda count, daily: _alert_first_rejection(context, company, settings, count, daily),
        )  # fmt: skip
        if context.method == "GET" and not settings.allow_get_method:
            raise get_method_disabled()
        if company is None:
            raise no_company()
        page, headers = _read_page(context, view, limit, offset, timezone, details)
        record_count = page.count
        if company_settings.sync_mode != SYNC_MODE_DISABLED:
            record_sync_status(
                connection, tables, company.id, token_hash(context.token), record_count, "success", None, context.now
            )
        # Completing the log row below commits the session and status writes with it.
        return Rendered(page.body, headers)
    except Exception as error:
        connection.rollback()  # nothing of a failed call is kept but its log row (and a failed status)
        if isinstance(error, MoodleError):
            error_message = error.message
            rejected = reservation is None and error.errorcode == "ratelimitexceeded"
        else:
            error_message = "Error reading from database"
            _record_failure(connection, tables, company, company_settings, context.token, str(error)[:500], context.now)
        raise
    finally:
        if not rejected:
            log_call(
                connection, tables, user_id=user["id"], company_shortname=company.shortname if company else "unknown",
                endpoint=ENDPOINT, record_count=record_count, error_message=error_message, started=started,
                ip_address=context.client_ip, user_agent=context.user_agent, details=details, now=context.now,
                reservation=reservation,
            )  # fmt: skip


GET_COURSE_PROGRESS = ExternalFunction(FUNCTION_NAME, PARAMETERS, RETURNS, get_course_progress)
