"""The benchmarks' few statements that MariaDB and PostgreSQL spell differently, in one place.

The bridge's own statements take their dialect branches in ``alxbridge`` (``MYSQL_DIALECTS``,
``POSTGRES_DIALECT``); these are the benchmarks' set-up statements: a database of their own, statistics,
an empty copy of a table, rows numbered 0 … n-1, tables swapped under each other's names.
"""

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from alxbridge.db.database import MYSQL_DIALECTS, POSTGRES_DIALECT


def is_postgres(url_or_connection):
    if isinstance(url_or_connection, str | sa.engine.URL):
        return make_url(url_or_connection).get_backend_name() == POSTGRES_DIALECT
    return url_or_connection.dialect.name == POSTGRES_DIALECT


def database_url(server_url, name):
    """The URL of database ``name`` on the server of ``server_url`` (utf8mb4 on MariaDB), as text."""
    url = make_url(server_url).set(database=name)
    if url.get_backend_name() in MYSQL_DIALECTS:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


def server_engine(url):
    """An autocommit engine on ``url``'s server (PostgreSQL: its ``postgres`` maintenance database), for
    CREATE/DROP DATABASE, which PostgreSQL refuses inside a transaction."""
    url = make_url(url)
    if url.get_backend_name() == POSTGRES_DIALECT:
        url = url.set(database="postgres")
    else:
        url = url.set(database=None).update_query_dict({"charset": "utf8mb4"})
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def database_exists(server, name):
    with server.connect() as connection:
        if is_postgres(connection):
            found = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        else:
            found = connection.execute(sa.text("SHOW DATABASES LIKE :n"), {"n": name}).first()
    return found is not None


def create_database(server, name):
    """Create ``name`` unless it exists: utf8mb4_unicode_ci on MariaDB, UTF8 from template0 on PostgreSQL (what
    Moodle's installers ask for)."""
    with server.connect() as connection:
        if is_postgres(connection):
            if not database_exists(server, name):
                connection.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
        else:
            connection.execute(
                sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )


def drop_database(server, name):
    """Drop ``name`` (PostgreSQL: ``WITH (FORCE)``, ending sessions left on it)."""
    with server.connect() as connection:
        if is_postgres(connection):
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))


def analyze(connection, table_name):
    """Fresh statistics for ``table_name`` (``ANALYZE TABLE`` on MariaDB, ``ANALYZE`` on PostgreSQL)."""
    keyword = "ANALYZE" if is_postgres(connection) else "ANALYZE TABLE"
    connection.execute(sa.text(f"{keyword} {table_name}"))


def vacuum_analyze(engine, table_names=()):
    """PostgreSQL only: ``VACUUM (ANALYZE)`` of freshly loaded tables (no names: every table of the database), so
    that their statistics, visibility maps and hint bits are those autovacuum keeps on a live site, not a bulk
    load's (VACUUM runs outside a transaction)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in table_names or ("",):
            connection.execute(sa.text(f"VACUUM (ANALYZE) {name}"))


def truncate(connection, table_name):
    """Empty ``table_name`` and restart its ids (what TRUNCATE does to AUTO_INCREMENT on MariaDB)."""
    restart = " RESTART IDENTITY" if is_postgres(connection) else ""
    connection.execute(sa.text(f"TRUNCATE TABLE {table_name}{restart}"))


def create_table_like(connection, target, source, own_ids=True):
    """An empty ``target`` with ``source``'s columns, defaults and indexes.

    On PostgreSQL ``id``'s default draws from ``source``'s sequence; with ``own_ids`` ``target`` gets a sequence
    of its own (dropped with it), as ``CREATE TABLE … LIKE`` gives a new AUTO_INCREMENT counter on MariaDB.
    """
    if not is_postgres(connection):
        connection.execute(sa.text(f"CREATE TABLE {target} LIKE {source}"))
        return
    connection.execute(sa.text(f"CREATE TABLE {target} (LIKE {source} INCLUDING ALL)"))
    if not own_ids:
        return
    connection.execute(sa.text(f"CREATE SEQUENCE {target}_id_seq OWNED BY {target}.id"))
    connection.execute(sa.text(f"ALTER TABLE {target} ALTER COLUMN id SET DEFAULT nextval('{target}_id_seq')"))


def numbers(connection, count):
    """A FROM item of the rows ``seq`` = 0 … count-1: MariaDB's sequence engine, or ``generate_series`` of
    BIGINTs."""
    if is_postgres(connection):
        return f"generate_series(0::bigint, {count - 1}) AS numbers(seq)"
    return f"seq_0_to_{count - 1}"


def rename_tables(connection, pairs):
    """Rename each ``(old, new)`` in order, atomically: one ``RENAME TABLE`` on MariaDB; on PostgreSQL, whose DDL
    is transactional, one ``ALTER TABLE … RENAME`` each inside the caller's transaction."""
    if is_postgres(connection):
        for old, new in pairs:
            connection.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))
    else:
        connection.execute(sa.text("RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in pairs)))
