"""Each owned table's state for ``fix_missing_tables.php``: present and matching, missing, or different.

The findings are :func:`~alxbridge.schema.repair.repair_tables`' own (what ``alx repair-tables
--check`` prints); this module only groups them per table, the plugin's six first.
"""

from dataclasses import dataclass

from .plugin import PLUGIN_TABLES
from .repair import repair_tables

PLUGIN_TABLE_NAMES = frozenset(spec.name for spec in PLUGIN_TABLES)
CHECK_ONLY = "(check only)"  # repair.py's mark on what a repairing run would add


@dataclass(frozen=True)
class TableStatus:
    name: str  # without the prefix
    present: bool
    findings: tuple

    @property
    def plugin(self):
        """One of the plugin's six tables (else one of the bridge's own)."""
        return self.name in PLUGIN_TABLE_NAMES

    @property
    def state(self):
        if not self.present:
            return "missing"
        return "differs" if self.findings else "ok"

    @property
    def missing_indexes(self):
        """The findings that name a declared index the table lacks (``repair-tables`` would add it)."""
        missing = ("missing index", "missing unique index")
        return tuple(finding for finding in self.findings if finding.message.startswith(missing))

    @property
    def repairable(self):
        """Something a repairing run adds (a table, column or index); type differences are never changed."""
        return any(finding.message.endswith(CHECK_ONLY) for finding in self.findings)


def table_statuses(connection, database):
    """The state of every table the bridge owns, checked without changing anything."""
    present = database.existing_table_names(connection)
    findings = repair_tables(connection, database.schema.owned, apply=False)
    prefix = len(database.prefix)
    return sorted(
        (
            TableStatus(
                table.name[prefix:],
                table.name in present,
                tuple(finding for finding in findings if finding.table == table.name),
            )
            for table in database.schema.owned
        ),
        key=lambda status: not status.plugin,
    )
