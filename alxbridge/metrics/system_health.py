"""System health (what the plugin's ``monitoring_dashboard.php`` showed): the storage and indexes of the
tables the bridge owns, and the bridge host's memory and load.

* **Rows** are exact (``COUNT(*)``); ``information_schema``'s ``TABLE_ROWS`` is only InnoDB's estimate.
* **Data and index bytes**: MariaDB/MySQL's ``DATA_LENGTH`` and ``INDEX_LENGTH`` of
  ``information_schema.TABLES`` (pages allocated, so a small table reads 16 KiB); SQLite's pages
  per table and per index from the ``dbstat`` table when the library was built with it; PostgreSQL's
  ``pg_table_size`` (heap, TOAST, free space and visibility maps) and ``pg_indexes_size`` of the tables in
  ``current_schema()``, the schema the bridge's unqualified table names resolve to. Other databases, or a
  SQLite without ``dbstat``, cannot tell: the sizes are ``None`` ("not available").
* **Index health**: each declared index present, as ``repair-tables --check`` finds it
  (:func:`~alxbridge.schema.status.table_statuses`; indexes are matched by their columns).
* **Host**: the load averages and CPU count of the machine the bridge runs on, its memory from
  ``/proc/meminfo`` (total and available, Linux only) and this process's resident memory.
"""

import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ..schema.status import table_statuses

HIGH_MEMORY_PERCENT = 80  # the plugin's "High Memory" issue


@dataclass(frozen=True)
class TableHealth:
    name: str  # without the prefix
    plugin: bool  # one of the plugin's six (else one of the bridge's own)
    present: bool
    rows: int | None
    data_bytes: int | None  # None: the database cannot tell
    index_bytes: int | None
    declared_indexes: int
    missing_indexes: tuple  # repair.Finding of each declared index the table lacks

    @property
    def total_bytes(self):
        return None if self.data_bytes is None else self.data_bytes + (self.index_bytes or 0)

    @property
    def index_state(self):
        if not self.present:
            return "Table missing"
        return f"{len(self.missing_indexes)} missing" if self.missing_indexes else "OK"


def _mysql_sizes(connection, names):
    rows = connection.execute(
        sa.text(
            "SELECT TABLE_NAME, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names"
        ).bindparams(sa.bindparam("names", expanding=True)),
        {"names": list(names)},
    )
    return {name: (int(data or 0), int(index or 0)) for name, data, index in rows}


def _sqlite_sizes(connection, names):
    try:
        pages = dict(connection.execute(sa.text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all())
    except DBAPIError:  # a SQLite built without the dbstat table
        connection.rollback()
        return None
    indexes = connection.execute(sa.text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")).all()
    sizes = {name: [int(pages.get(name) or 0), 0] for name in names}
    for index, table in indexes:
        if table in sizes:
            sizes[table][1] += int(pages.get(index) or 0)
    return {name: tuple(size) for name, size in sizes.items()}


def _postgres_sizes(connection, names):
    rows = connection.execute(
        sa.text(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname IN :names"
        ).bindparams(sa.bindparam("names", expanding=True)),
        {"names": list(names)},
    )
    return {name: (int(data), int(index)) for name, data, index in rows}


SIZE_SOURCES = {
    "mysql": "information_schema.TABLES",
    "mariadb": "information_schema.TABLES",
    "sqlite": "dbstat",
    "postgresql": "pg_table_size and pg_indexes_size",
}


def storage_sizes(connection, names):
    """``{table: (data bytes, index bytes)}`` of the present tables ``names``, or ``None`` when the database cannot
    tell."""
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        return _mysql_sizes(connection, names)
    if dialect == "sqlite":
        return _sqlite_sizes(connection, names)
    if dialect == "postgresql":
        return _postgres_sizes(connection, names)
    return None


@dataclass(frozen=True)
class DatabaseHealth:
    tables: list  # TableHealth, the plugin's six first
    size_source: str | None  # where the sizes come from; None: the database cannot tell


def table_health(connection, database):
    """The :class:`DatabaseHealth` of every table the bridge owns."""
    declared = {table.name: table for table in database.schema.owned}
    statuses = table_statuses(connection, database)
    present = [database.prefix + status.name for status in statuses if status.present]
    sizes = storage_sizes(connection, present)
    health = []
    for status in statuses:
        table = declared[database.prefix + status.name]
        rows = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() if status.present else None
        data, index = (sizes or {}).get(table.name, (None, None))
        health.append(
            TableHealth(status.name, status.plugin, status.present, rows, data, index, len(table.indexes),
                        status.missing_indexes)
        )  # fmt: skip
    return DatabaseHealth(health, SIZE_SOURCES[connection.dialect.name] if sizes is not None else None)


@dataclass(frozen=True)
class HostHealth:
    load: tuple | None  # 1, 5 and 15 minute load averages
    cpus: int | None
    memory_total: int | None  # bytes
    memory_available: int | None
    process_rss: int | None  # this bridge process

    @property
    def memory_used_percent(self):
        if not self.memory_total or self.memory_available is None:
            return None
        return round(100 * (self.memory_total - self.memory_available) / self.memory_total, 1)

    @property
    def high_memory(self):
        return (self.memory_used_percent or 0) > HIGH_MEMORY_PERCENT

    @property
    def overloaded(self):
        """The 5-minute load is above the CPU count: work is waiting for a CPU."""
        return bool(self.load and self.cpus) and self.load[1] > self.cpus


def _kib_fields(path, names):
    """``{name: bytes}`` of the ``Name: <n> kB`` lines of a ``/proc`` file; empty where it cannot be read."""
    found = {}
    try:
        with open(path, encoding="ascii") as lines:
            for line in lines:
                name, _, value = line.partition(":")
                if name in names and value.split():
                    found[name] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        return {}
    return found


def host_health(proc="/proc"):
    try:
        load = tuple(round(value, 2) for value in os.getloadavg())
    except OSError:
        load = None
    memory = _kib_fields(f"{proc}/meminfo", ("MemTotal", "MemAvailable"))
    process = _kib_fields(f"{proc}/self/status", ("VmRSS",))
    return HostHealth(load, os.cpu_count(), memory.get("MemTotal"), memory.get("MemAvailable"), process.get("VmRSS"))
