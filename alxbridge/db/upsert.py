"""Atomic insert-or-update on a unique key, for MySQL/MariaDB, PostgreSQL and SQLite: one row, or many in bounded
statements.

Read-then-write upserts race under concurrency and raise unique-key errors to whoever loses
(plugin bug B35); one ``INSERT … ON DUPLICATE KEY UPDATE`` / ``ON CONFLICT DO UPDATE`` does not.
PostgreSQL and SQLite share the ``ON CONFLICT`` form (and SQLAlchemy's API for it). A run's bookkeeping for
any number of companies is one statement per table (:func:`upsert_rows`).
"""

from sqlalchemy.dialects import mysql, postgresql, sqlite

ON_CONFLICT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

ROWS_PER_STATEMENT = 500  # bounded statements: SQLite allows 32766 bound values


def upsert(connection, table, key, values, on_update=None):
    """Insert ``key | values`` into ``table``, or apply ``on_update`` to the row with that unique ``key``.

    ``key`` maps the columns of one unique index to their values; ``on_update`` (default: ``values``)
    maps columns to values or to expressions over the existing row (``table.c.total + 1``).
    """
    row = {**key, **values}
    on_update = values if on_update is None else on_update
    if connection.dialect.name in ("mysql", "mariadb"):
        statement = mysql.insert(table).values(row)
        statement = statement.on_duplicate_key_update(**on_update) if on_update else statement.prefix_with("IGNORE")
    else:
        statement = ON_CONFLICT_INSERTS[connection.dialect.name](table).values(row)
        if on_update:
            statement = statement.on_conflict_do_update(index_elements=list(key), set_=on_update)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(key))
    connection.execute(statement)


def upsert_statement(dialect_name, table, key_columns, on_update):
    """An upsert without values: give them with ``.values(rows)`` or as the execution's parameters.

    On a duplicate ``key_columns`` the row gets ``on_update(new)``: ``{column: value or expression}``,
    where ``new.<column>`` is the proposed row's value and ``table.c.<column>`` the existing one.
    """
    if dialect_name in ("mysql", "mariadb"):
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update(on_update(statement.inserted))
    statement = ON_CONFLICT_INSERTS[dialect_name](table)
    return statement.on_conflict_do_update(index_elements=list(key_columns), set_=on_update(statement.excluded))


def upsert_rows(connection, table, key, rows, on_update):
    """Insert ``rows`` into ``table``, or update the row with the same unique ``key`` columns.

    ``on_update(new)`` returns ``{column: value or expression}``, where ``new.<column>`` is the
    proposed row's value and ``table.c.<column>`` the existing one.
    """
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        connection.execute(upsert_statement(connection.dialect.name, table, key, on_update).values(chunk))
