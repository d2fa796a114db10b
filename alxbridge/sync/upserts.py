"""Multi-row upserts: a run's bookkeeping for any number of companies in one statement per table.

The same atomic ``INSERT … ON DUPLICATE KEY UPDATE`` / ``ON CONFLICT DO UPDATE`` as
:func:`alxbridge.db.upsert.upsert` (B35), for many rows at once, with updates that may read the
proposed row.
"""

from ..db.upsert import upsert_statement

ROWS_PER_STATEMENT = 500  # bounded statements: SQLite allows 32766 bound values


def upsert_rows(connection, table, key, rows, on_update):
    """Insert ``rows`` into ``table``, or update the row with the same unique ``key`` columns.

    ``on_update(new)`` returns ``{column: value or expression}``, where ``new.<column>`` is the
    proposed row's value and ``table.c.<column>`` the existing one.
    """
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        connection.execute(upsert_statement(connection.dialect.name, table, key, on_update).values(chunk))
