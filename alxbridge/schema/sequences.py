"""Id sequences after rows were written with their ids given, as a site copy or the demo builder writes them.

MySQL/MariaDB and SQLite continue an auto-increment key after the highest id in the table. A PostgreSQL
``BIGSERIAL`` id draws from its sequence (``{prefix}{table}_id_seq``), which rows inserted with explicit ids
leave behind, so the next insert without an id would collide; Moodle's ``getResetSequenceSQL`` restarts it
after the highest id, and so does this.
"""

import sqlalchemy as sa

_RESTART_AFTER_MAX_ID = "SELECT setval(pg_get_serial_sequence(:table, 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {}"


def realign_id_sequences(connection, tables):
    """Let the next insert into each of ``tables`` take the id after its highest one (PostgreSQL only)."""
    if connection.dialect.name != "postgresql":
        return
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        connection.execute(sa.text(_RESTART_AFTER_MAX_ID.format(quote(table.name))), {"table": table.name})
