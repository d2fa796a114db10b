"""SQLAlchemy Core tables of a Moodle site for one table prefix: Moodle core, IOMAD, the plugin's six.

``build_schema("mdl_")`` returns a :class:`Schema`; ``schema.tables.user`` is ``mdl_user``,
``schema.tables.local_alx_api_logs`` is ``mdl_local_alx_api_logs``. The bridge's own tables
(``{prefix}local_alxbridge_*``) join ``PLUGIN_TABLES`` in :data:`OWNED_TABLES` as features need them.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from .bridge import BRIDGE_TABLES
from .iomad import IOMAD_TABLES
from .moodle import MOODLE_CORE_TABLES
from .plugin import PLUGIN_TABLES
from .reading import READING_TABLES
from .xmldb import build_table

# Tables the bridge creates and repairs; Moodle core and IOMAD tables belong to Moodle.
OWNED_TABLES = PLUGIN_TABLES + BRIDGE_TABLES + READING_TABLES


@dataclass(frozen=True)
class Schema:
    prefix: str
    metadata: sa.MetaData
    tables: SimpleNamespace  # unprefixed name → Table
    moodle_core: tuple[sa.Table, ...]
    iomad: tuple[sa.Table, ...]
    owned: tuple[sa.Table, ...]


def build_schema(prefix="mdl_", dialect_name=None):
    """The tables for ``prefix``, with the index names Moodle's generator gives on ``dialect_name``."""
    metadata = sa.MetaData()
    used_names = set()

    def build(specs):
        return tuple(build_table(metadata, prefix, spec, used_names, dialect_name) for spec in specs)

    core, iomad, owned = build(MOODLE_CORE_TABLES), build(IOMAD_TABLES), build(OWNED_TABLES)
    tables = SimpleNamespace(**{t.name[len(prefix) :]: t for t in (*core, *iomad, *owned)})
    return Schema(prefix, metadata, tables, core, iomad, owned)
