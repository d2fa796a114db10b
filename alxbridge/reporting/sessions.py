"""Read sessions: what ``offset=0`` … short last page means for one token (design §2, bugs B3/B4/B5).

``offset=0`` opens a session keyed by ``sha256(wstoken)`` that fixes the mode (full or incremental),
the version window ``(low, high]`` and the settings; later offsets page that same set in ``id``
order, continuing from bookmarks so that rows changing in between never shift a page. Only a short
page completes a session — and only when the pages reached it from ``offset=0`` one after the other,
so a page at an offset the session never reached (a skipped page, or a session opened at ``offset > 0``
after the client's own went idle) never acknowledges rows it did not serve. Only a completed session
is the token's acknowledgement that the next incremental session starts from. A repeated
``offset=0`` with the same limit and settings within a few minutes of the latest session's opening
(or, once completed, of its last page) replays that session (Power BI evaluates queries more than once),
unless a newer version has committed since (:func:`_replayable`).
"""

import hashlib
import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db.prebuilt import prebuilt

REUSE_SECONDS = 300  # a repeated offset=0 within this (of its opening, or of its completion) replays the latest session
REPLAY_GRACE_SECONDS = 10  # ... even when a newer version committed, for an incremental session (see _replayable)
IDLE_SECONDS = 1800  # an open session unused this long is abandoned (its window is never acknowledged)
FULL, INCREMENTAL = "full", "incremental"
SYNC_MODE_AUTO, SYNC_MODE_INCREMENTAL, SYNC_MODE_FULL, SYNC_MODE_DISABLED = 0, 1, 2, 3


def token_hash(token):
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


@dataclass
class Session:
    id: int
    mode: str
    low_version: int
    high_version: int
    max_id: int
    page_limit: int
    fields: list
    courses: list
    bookmarks: dict = field(default_factory=dict)  # offset → last reporting id before that page
    rows_served: int = 0
    status: str = "open"
    replayed: bool = False

    @property
    def settings_digest(self):
        """The digest of the settings this session serves (equal to its snapshot's at opening)."""
        return hashlib.sha256(json.dumps([list(self.fields), list(self.courses)]).encode()).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """What a new session would serve: the company's committed state and the caller's settings."""

    companyid: int
    token_hash: str
    sync_mode: int
    window_hours: int
    committed_version: int
    tombstone_horizon: int
    fields: tuple
    courses: tuple
    last_sync_failed: bool
    replaces_table: bool  # the caller replaces its table on every refresh (Power Query: ``clients``)

    @property
    def settings_digest(self):
        return hashlib.sha256(json.dumps([self.fields, self.courses]).encode()).hexdigest()


def _from_row(row, replayed=False):
    settings = json.loads(row.settings)
    return Session(
        id=row.id, mode=row.mode, low_version=row.low_version, high_version=row.high_version, max_id=row.max_id,
        page_limit=row.page_limit, fields=settings["fields"], courses=settings["courses"],
        bookmarks={int(k): v for k, v in json.loads(row.bookmarks).items()}, rows_served=row.rows_served,
        status=row.status, replayed=replayed,
    )  # fmt: skip


def _latest_id(sessions, companyid, *conditions):
    """Scalar subquery: the id of the latest session of the token bound as ``token_hash`` for ``companyid``."""
    return (
        sa.select(sa.func.max(sessions.c.id))
        .where(sessions.c.token_hash == sa.bindparam("token_hash"), sessions.c.companyid == companyid, *conditions)
        .correlate_except(sessions)  # its own table stays inside even when the outer query joins sessions too
        .scalar_subquery()
    )


def latest_session_id(sessions, companyid, continuing):
    """The id of the session a page may belong to (see :func:`session_for`), as a scalar subquery.

    For ``offset=0`` the token's latest session; for a later offset (``continuing``) its latest with the
    page's limit (bound as ``page_limit``) used since ``used_since`` — bind :func:`latest_parameters`.
    """
    if not continuing:
        return _latest_id(sessions, companyid)
    return _latest_id(
        sessions, companyid, sessions.c.page_limit == sa.bindparam("page_limit"),
        sessions.c.timeused >= sa.bindparam("used_since"),
    )  # fmt: skip


def latest_parameters(limit, now):
    return {"page_limit": limit, "used_since": now - IDLE_SECONDS}


@prebuilt
def _latest_completed_query(tables):
    sessions = tables.local_alxbridge_read_session
    completed = _latest_id(sessions, sa.bindparam("companyid"), sessions.c.status == "completed")
    return sa.select(sessions).where(sessions.c.id == completed)


@prebuilt
def _update_query(tables):
    sessions = tables.local_alxbridge_read_session
    return sa.update(sessions).where(sessions.c.id == sa.bindparam("session_id"))


def _has_tombstones(connection, tables, snapshot, low, high):
    """Rows that left the scope inside ``(low, high]``: an incremental answer could not tell the client."""
    reporting = tables.local_alx_api_reporting
    return (
        connection.execute(
            sa.select(reporting.c.id)
            .where(
                reporting.c.companyid == snapshot.companyid,
                reporting.c.is_deleted == 1,
                reporting.c.last_updated > low,
                reporting.c.last_updated <= high,
            )
            .limit(1)
        ).first()
        is not None
    )


def choose_window(connection, tables, snapshot, now):
    """``(mode, low, high)`` for a new session, from the token's last completed session.

    Auto mode answers a caller that replaces its table (Power Query) in full: a delta would become its
    whole dataset. An admin's explicit incremental mode is honoured for every caller.
    """
    high = snapshot.committed_version
    if snapshot.sync_mode in (SYNC_MODE_FULL, SYNC_MODE_DISABLED):
        return FULL, 0, high
    if snapshot.sync_mode == SYNC_MODE_AUTO and snapshot.replaces_table:
        return FULL, 0, high
    parameters = {"token_hash": snapshot.token_hash, "companyid": snapshot.companyid}
    ack = connection.execute(_latest_completed_query(tables), parameters).first()
    if ack is None or ack.settings_digest != snapshot.settings_digest:
        return FULL, 0, high
    low = ack.high_version
    if snapshot.sync_mode == SYNC_MODE_AUTO and (
        snapshot.last_sync_failed or now - ack.timeclosed > snapshot.window_hours * 3600
    ):
        return FULL, 0, high
    if low < snapshot.tombstone_horizon or _has_tombstones(connection, tables, snapshot, low, high):
        return FULL, 0, high
    return INCREMENTAL, low, high


def _open(connection, tables, snapshot, limit, now):
    mode, low, high = choose_window(connection, tables, snapshot, now)
    reporting = tables.local_alx_api_reporting
    max_id = connection.execute(
        sa.select(sa.func.coalesce(sa.func.max(reporting.c.id), 0)).where(reporting.c.companyid == snapshot.companyid)
    ).scalar()
    settings = {"fields": list(snapshot.fields), "courses": list(snapshot.courses)}
    sessions = tables.local_alxbridge_read_session
    values = dict(
        token_hash=snapshot.token_hash, companyid=snapshot.companyid, mode=mode, low_version=low, high_version=high,
        max_id=max_id, page_limit=limit, settings_digest=snapshot.settings_digest, settings=json.dumps(settings),
        bookmarks=json.dumps({"0": 0}), rows_served=0, status="open", timeopened=now, timeused=now,
    )  # fmt: skip
    session_id = connection.execute(sessions.insert().values(**values)).inserted_primary_key[0]
    return Session(session_id, mode, low, high, max_id, limit, settings["fields"], settings["courses"], {0: 0})


def _replayable(row, snapshot, limit, now):
    """Whether ``offset=0`` repeats ``row``: same limit and settings, recent, and nothing newer to tell.

    Recent counts from the opening of an open session, but from the last page of a completed one, so
    a load that took longer than the window is still replayed by the evaluation that follows it.
    Settings changed since the session opened are a new request (B34): never a replay of old fields.
    A version committed since the session opened is never hidden from a client that polls: a full
    session then gives way to a new full one (as complete, and fresher); an incremental one is still
    replayed for :data:`REPLAY_GRACE_SECONDS`, the time between the evaluations of one refresh, since a
    new incremental session would tell the second evaluation only what changed after the first.
    """
    since = row.timeclosed if row.status == "completed" else row.timeopened
    if row.page_limit != limit or row.settings_digest != snapshot.settings_digest or since < now - REUSE_SECONDS:
        return False
    if row.high_version >= snapshot.committed_version:
        return True
    return row.mode == INCREMENTAL and since >= now - REPLAY_GRACE_SECONDS


def session_for(connection, tables, snapshot, limit, offset, now, latest):
    """The session this page belongs to: replayed, continued, or newly opened.

    ``latest`` is the session row :func:`latest_session_id` finds for this offset (``None``: there is none),
    read by the caller with its other lookups.
    """
    if offset == 0:
        if latest is not None and _replayable(latest, snapshot, limit, now):
            return _from_row(latest, replayed=True)
        return _open(connection, tables, snapshot, limit, now)
    # Continue the latest session, also a completed one being replayed by a second evaluation.
    if latest is not None:
        return _from_row(latest, replayed=latest.status == "completed")
    return _open(connection, tables, snapshot, limit, now)


def record_page(connection, tables, session, offset, count, last_id, now):
    """Remember where the next page starts (``count`` rows, the last with ``last_id``); a short page
    completes the session (its acknowledgement).

    Only pages that continue the session's own chain of pages from ``offset=0`` (their offset has a
    bookmark) record where the next page starts or complete the session: a page read at an offset
    the session never reached was served by ``OFFSET`` and says nothing about the rows before it.
    """
    reached = offset in session.bookmarks
    if count and reached:
        session.bookmarks[offset + count] = last_id
    session.rows_served += count
    completes = reached and count < session.page_limit
    values = {
        "bookmarks": json.dumps({str(k): v for k, v in sorted(session.bookmarks.items())}),
        "rows_served": session.rows_served,
        "timeused": now,
    }
    if completes and session.status == "open":
        session.status = "completed"
        values.update(status="completed", timeclosed=now)
    connection.execute(_update_query(tables), {"session_id": session.id, **values})
    return completes
