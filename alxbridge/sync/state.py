"""Per-company sync state (``local_alxbridge_company``): committed versions and what the next run owes.

Readers of the reporting table need :func:`read_company_state`: rows with ``last_updated`` up to
``committed_version`` are final, and an acknowledgement below ``tombstone_horizon`` cannot be
continued incrementally because tombstones it has not seen were purged.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..db.upsert import upsert, upsert_rows

ERROR_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class CompanyState:
    companyid: int
    committed_version: int = 0
    tombstone_horizon: int = 0
    source_watermark: int = 0
    last_full: int = 0
    members_digest: str = ""
    exposed_courses: str = ""
    needs_full: bool = False
    failures: int = 0
    last_error: str | None = None
    cache_generation: int = 0  # part of the company's cache keys; "Clear API cache" bumps it


def company_state_from_row(row):
    """The :class:`CompanyState` of a row with the table's column names (also of a wider joined row)."""
    return CompanyState(
        companyid=row.companyid,
        committed_version=row.committed_version,
        tombstone_horizon=row.tombstone_horizon,
        source_watermark=row.source_watermark,
        last_full=row.last_full,
        members_digest=row.members_digest,
        exposed_courses=row.exposed_courses or "",
        needs_full=bool(row.needs_full),
        failures=row.failures,
        last_error=row.last_error,
        cache_generation=row.cache_generation or 0,
    )


def read_company_state(connection, tables, companyid):
    """The company's :class:`CompanyState`; a company never synced has ``committed_version == 0``."""
    table = tables.local_alxbridge_company
    row = connection.execute(sa.select(table).where(table.c.companyid == companyid)).first()
    return company_state_from_row(row) if row else CompanyState(companyid)


def read_all_company_states(connection, tables):
    table = tables.local_alxbridge_company
    return {row.companyid: company_state_from_row(row) for row in connection.execute(sa.select(table))}


def next_version(connection, tables, now):
    """The version of a new run: ``now``, or one above the highest committed version if the clock is behind."""
    table = tables.local_alxbridge_company
    highest = connection.execute(sa.select(sa.func.max(table.c.committed_version))).scalar() or 0
    return max(int(now), highest + 1)


@dataclass(frozen=True)
class Synced:
    """One company written successfully: its new baselines, and ``version`` when its rows changed."""

    companyid: int
    members_digest: str
    exposed_courses: str
    version: int | None = None


def record_companies_synced(connection, tables, synced, *, started, full):
    """After successful writes: advance each company's watermark and baselines, and its version when rows changed.

    One statement for any number of companies. A company whose rows did not change keeps its
    committed version (a version only ever grows); ``full`` also moves the daily reconciliation.
    """
    table = tables.local_alxbridge_company
    rows = [
        {
            "companyid": company.companyid,
            "committed_version": company.version or 0,
            "source_watermark": started,
            "last_full": started if full else 0,
            "members_digest": company.members_digest,
            "exposed_courses": company.exposed_courses,
            "needs_full": 0,
            "failures": 0,
            "last_error": None,
            "timemodified": started,
        }
        for company in synced
    ]

    def on_update(new):
        values = {name: new[name] for name in rows[0] if name not in ("companyid", "committed_version", "last_full")}
        values["committed_version"] = sa.case(
            (new.committed_version > table.c.committed_version, new.committed_version),
            else_=table.c.committed_version,
        )
        if full:
            values["last_full"] = started
        return values

    if rows:
        upsert_rows(connection, table, ["companyid"], rows, on_update)


def record_company_failed(connection, tables, companyid, error_text, now):
    """After a failed write: keep version and watermark, and make the next run recompute the company in full."""
    table = tables.local_alxbridge_company
    upsert(
        connection,
        table,
        {"companyid": companyid},
        {"needs_full": 1, "failures": 1, "last_error": error_text[:ERROR_TEXT_LIMIT], "timemodified": now},
        on_update={
            "needs_full": 1,
            "failures": table.c.failures + 1,
            "last_error": error_text[:ERROR_TEXT_LIMIT],
            "timemodified": now,
        },
    )


def raise_tombstone_horizon(connection, tables, companyid, horizon, now):
    """Note that tombstones up to ``horizon`` were purged (retention) so readers behind it go full."""
    table = tables.local_alxbridge_company
    upsert(
        connection,
        table,
        {"companyid": companyid},
        {"tombstone_horizon": horizon, "timemodified": now},
        on_update={
            "tombstone_horizon": sa.case(
                (table.c.tombstone_horizon > horizon, table.c.tombstone_horizon), else_=horizon
            ),
            "timemodified": now,
        },
    )


def bump_cache_generation(connection, tables, companyids, now):
    """Retire every cached answer of ``companyids``: their cache keys carry the generation, which moves up by one.

    Works across processes and hosts (each call reads the generation with the company's state), where a
    per-process cache cannot be emptied from one admin request. A company without a state row was never
    synced: it is answered live, never from the cache, and keeps generation 0. Returns ``{companyid: generation}``.
    """
    if not companyids:
        return {}
    table = tables.local_alxbridge_company
    chosen = table.c.companyid.in_(list(companyids))
    connection.execute(
        sa.update(table).where(chosen).values(cache_generation=table.c.cache_generation + 1, timemodified=now)
    )
    found = dict(connection.execute(sa.select(table.c.companyid, table.c.cache_generation).where(chosen)).all())
    return {companyid: found.get(companyid, 0) for companyid in companyids}
