"""Multi-row upserts: a run's bookkeeping for any number of companies in one statement per table.

The same atomic ``INSERT … ON DUPLICATE KEY UPDATE`` / ``ON CONFLICT DO UPDATE`` as
:func:`alxbridge.upsert.upsert` (B35), for many rows at once, with updates that may read the
proposed row.
"""

from sqlalchemy.dialects import mysql, sqlite

ROWS_PER_STATEMENT = 500  # bounded statements: SQLite allows 32766 bound values


def upsert_rows(connection, table, key, rows, on_update):
    """Insert ``rows`` into ``table``, or update the row with the same unique ``key`` columns.

    ``on_update(new)`` returns ``{column: value or expression}``, where ``new.<column>`` is the
    proposed row's value and ``table.c.<column>`` the existing one.
    """
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        if connection.dialect.name in ("mysql", "mariadb"):
            statement = mysql.insert(table).values(chunk)
            statement = statement.on_duplicate_key_update(on_update(statement.inserted))
        else:
            statement = sqlite.insert(table).values(chunk)
            statement = statement.on_conflict_do_update(index_elements=list(key), set_=on_update(statement.excluded))
        connection.execute(statement)
