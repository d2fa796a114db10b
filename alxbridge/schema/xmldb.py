"""Tables declared the way Moodle's XMLDB ``install.xml`` declares them, built as SQLAlchemy Core.

Moodle turns XMLDB into MySQL with fixed rules (``lib/ddl/mysql_sql_generator.php``):
``int(n)`` → BIGINT/INT/MEDIUMINT/SMALLINT/TINYINT by length, ``char(n)`` → VARCHAR(n),
``text`` → LONGTEXT, ``number(p,s)`` → DECIMAL(p,s), NOT NULL ``char`` without default gets
``DEFAULT ''``, every table has a BIGINT(10) auto-increment ``id``, and keys/indexes get
generated names (``mdl_localxapilogs_use_ix``) rather than the logical names of the XML.

On PostgreSQL (``lib/ddl/postgres_sql_generator.php``): ``int(n)`` → BIGINT above 9 digits, INTEGER
above 4, else SMALLINT; ``char(n)`` → VARCHAR(n) (NOT NULL ones default to ``''`` too), ``text`` → TEXT,
``number(p,s)`` → NUMERIC(p,s); ``id`` is a BIGSERIAL, whose sequence PostgreSQL names
``{prefix}{table}_id_seq``, under a primary key constraint named like an index (``…_id_pk``); generated
names keep Moodle's default limit of 30 characters there (the bridge's MySQL names use 64).
Following the same rules makes a table the bridge creates indistinguishable from one Moodle
created when it installed the plugin, so either side can read and repair the other's tables.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

# Longest generated index/key name: the MySQL identifier limit the bridge has always used there, and
# sql_generator's own $names_max_length, which postgres_sql_generator keeps.
MAX_NAME_LENGTH = {"postgresql": 30}
DEFAULT_MAX_NAME_LENGTH = 64
MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
    "mysql_row_format": "DYNAMIC",
}


@dataclass(frozen=True)
class Field:
    """One XMLDB ``<FIELD>``: type is ``int``, ``char``, ``text`` or ``number``."""

    name: str
    type: str
    length: int | None = None
    decimals: int | None = None
    notnull: bool = True
    default: str | None = None

    def column_type(self):
        """The portable SQLAlchemy type, with the exact MySQL type Moodle would create."""
        if self.type == "int":
            return _int_type(self.length)
        if self.type == "char":
            return sa.String(self.length).with_variant(
                mysql.VARCHAR(self.length, collation="utf8mb4_unicode_ci"), "mysql", "mariadb"
            )
        if self.type == "text":
            return sa.Text().with_variant(mysql.LONGTEXT(collation="utf8mb4_unicode_ci"), "mysql", "mariadb")
        if self.type == "number":
            return sa.Numeric(self.length, self.decimals, asdecimal=True)
        raise ValueError(f"unknown XMLDB type {self.type!r} for field {self.name}")

    def server_default(self):
        if self.default is not None:
            return sa.text(self.default) if self.type in ("int", "number") else self.default
        if self.type == "char" and self.notnull:
            return ""  # Moodle's MySQL generator: NOT NULL chars default to ''
        return None

    def to_column(self):
        return sa.Column(
            self.name,
            self.column_type(),
            nullable=not self.notnull,
            server_default=self.server_default(),
            info={"xmldb": self},
        )


def _int_type(length):
    if length > 9:
        return sa.BigInteger().with_variant(mysql.BIGINT(display_width=length), "mysql", "mariadb")
    postgres_type = postgresql.INTEGER() if length > 4 else postgresql.SMALLINT()
    return _mysql_int_type(length).with_variant(postgres_type, "postgresql")


def _mysql_int_type(length):
    if length > 6:
        mysql_type = mysql.INTEGER(display_width=length)
    elif length > 4:
        mysql_type = mysql.MEDIUMINT(display_width=length)
    elif length > 2:
        mysql_type = mysql.SMALLINT(display_width=length)
    else:
        mysql_type = mysql.TINYINT(display_width=length)
    return sa.Integer().with_variant(mysql_type, "mysql", "mariadb")


@dataclass(frozen=True)
class Index:
    """An XMLDB ``<INDEX>`` or unique ``<KEY>``; ``name`` is the logical XMLDB name."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class TableSpec:
    """An XMLDB ``<TABLE>`` without its prefix; the ``id`` primary key is implicit."""

    name: str
    comment: str
    fields: tuple[Field, ...]
    indexes: tuple[Index, ...] = field(default=())


def char(name, length, notnull=True, default=None):
    return Field(name, "char", length, notnull=notnull, default=default)


def integer(name, length=10, notnull=True, default=None):
    return Field(name, "int", length, notnull=notnull, default=default)


def text(name, notnull=False):
    return Field(name, "text", notnull=notnull)


def number(name, length, decimals, notnull=True, default=None):
    return Field(name, "number", length, decimals, notnull=notnull, default=default)


def index(name, *fields, unique=False):
    return Index(name, tuple(fields), unique)


def unique(name, *fields):
    return Index(name, tuple(fields), unique=True)


def moodle_object_name(prefix, table, fields, suffix, used, max_length=DEFAULT_MAX_NAME_LENGTH):
    """Moodle's generated name for an index: 4 letters per table word, 3 per field, a counter on clashes.

    ``used`` collects the names already given in this build, as Moodle's static cache does.
    """
    base = prefix + "".join(part[:4] for part in table.split("_")) + "_" + "".join(f[:3] for f in fields)
    room = max_length - len(suffix) - 1
    name = f"{base[:room]}_{suffix}"
    counter = 1
    while name in used:
        counter += 1
        name = f"{base[: room - len(str(counter))]}{counter}_{suffix}"
    used.add(name)
    return name


def build_table(metadata, prefix, spec, used_names, dialect_name=None):
    """Add ``spec`` to ``metadata`` as ``prefix + name`` with Moodle's column types and the index names
    Moodle's generator for ``dialect_name`` gives."""
    max_length = MAX_NAME_LENGTH.get(dialect_name, DEFAULT_MAX_NAME_LENGTH)
    id_type = sa.BigInteger().with_variant(mysql.BIGINT(display_width=10), "mysql", "mariadb")
    id_type = id_type.with_variant(sa.Integer(), "sqlite")  # SQLite auto-increments INTEGER keys only
    primary_key_name = moodle_object_name(prefix, spec.name, ("id",), "pk", used_names, max_length)
    table = sa.Table(
        prefix + spec.name,
        metadata,
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        *(f.to_column() for f in spec.fields),
        sa.PrimaryKeyConstraint("id", name=primary_key_name),
        comment=spec.comment,
        info={"xmldb": spec},
        **MYSQL_TABLE_OPTIONS,
    )
    for idx in spec.indexes:
        suffix = "uix" if idx.unique else "ix"
        sa.Index(
            moodle_object_name(prefix, spec.name, idx.fields, suffix, used_names, max_length),
            *(table.c[f] for f in idx.fields),
            unique=idx.unique,
            info={"xmldb": idx},
        )
    return table
