"""The rows of one page of a read session, from the reporting table (or, before any sync, from Moodle).

Pages are read in ``id`` order after the bookmark of their offset (keyset paging), so a row that
changes or disappears between two requests never shifts the rows of later pages. Only when a client
jumps to an offset the session has not reached is ``OFFSET`` used.

A row is a tuple of :data:`REPORTING_COLUMNS` in that order (``id`` is ``None`` on the live path):
the JSON writer unpacks it by position, which costs a fraction of building a dict per row.
"""

import contextlib

import sqlalchemy as sa

from ..db.database import POSTGRES_DIALECT
from ..db.prebuilt import prebuilt
from ..sync.progress import PROGRESS_COLUMNS, progress_query
from ..sync.writer import live
from .sessions import FULL

REPORTING_COLUMNS = ("id", *PROGRESS_COLUMNS)


@prebuilt
def _page_query(tables, full, keyset):
    """The page SELECT of a full or incremental session, after a bookmark (``keyset``) or at an ``OFFSET``."""
    r = tables.local_alx_api_reporting
    query = sa.select(*(r.c[name] for name in REPORTING_COLUMNS)).where(
        r.c.companyid == sa.bindparam("companyid"), live(r), r.c.courseid.in_(sa.bindparam("courses", expanding=True))
    )
    if full:
        query = query.where(r.c.id <= sa.bindparam("max_id"))
    else:
        query = query.where(r.c.last_updated > sa.bindparam("low"), r.c.last_updated <= sa.bindparam("high"))
    query = query.order_by(r.c.id).limit(sa.bindparam("limit"))
    return query.where(r.c.id > sa.bindparam("after")) if keyset else query.offset(sa.bindparam("offset"))


PG_FETCH_ROWS = 1000  # rows per FETCH from a page's PostgreSQL cursor


@contextlib.contextmanager
def session_page(connection, tables, companyid, session, offset, limit):
    """The reporting rows of ``session`` at ``offset``, as an iterator to consume inside the ``with`` block.

    The rows are streamed (a server-side cursor): the JSON writer encodes the first rows while the
    server still sends the rest, instead of waiting for the whole page first. Leaving the block closes
    the cursor, also when encoding failed half-way.

    PostgreSQL plans a cursor for its first 10 % of rows (``cursor_tuple_fraction``): for a company's
    page it then walks the primary key in ``id`` order past every other company's rows (about 200 000
    on 1M rows of 200 companies) instead of reading the company's rows through its index and sorting
    them, the plan of the same SELECT outside a cursor (``bench/progress_page.py``: an uncached page
    66 → 36 ms). Every row of the page is read, so the cursor is planned for all of them. And each
    ``FETCH`` from a PostgreSQL cursor is a round trip that restarts the executor, where SQLAlchemy's
    streaming fetches 1, 5, 25, … rows at a time: a 1000-row page comes in one ``FETCH`` instead of six
    (MariaDB's streamed result needs no request per batch).
    """
    if not session.courses:
        yield iter(())
        return
    after = session.bookmarks.get(offset)
    query = _page_query(tables, session.mode == FULL, after is not None)
    parameters = {
        "companyid": companyid, "courses": list(session.courses), "max_id": session.max_id,
        "low": session.low_version, "high": session.high_version, "limit": limit, "after": after, "offset": offset,
    }  # fmt: skip
    options = {"stream_results": True}
    if connection.dialect.name == POSTGRES_DIALECT:
        connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")  # until this transaction ends
        options = {"yield_per": PG_FETCH_ROWS}
    with connection.execute(query, parameters, execution_options=options) as result:
        yield result


def live_page(connection, tables, companyid, course_ids, offset, limit, now):
    """Before the company's first sync: the same progress the sync would write, straight from Moodle."""
    if not course_ids:
        return []
    query = progress_query(tables, companyid, frozenset(course_ids), now).order_by("userid", "courseid")
    return [(None, *row[: len(PROGRESS_COLUMNS)]) for row in connection.execute(query.limit(limit).offset(offset))]
