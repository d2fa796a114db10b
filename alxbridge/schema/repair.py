"""Compare the live database with the declared tables; create what is missing, report what differs.

Repairs only ever add: a missing table, a missing column, a missing index. A column of the wrong
type, nullability or default is reported with the statement that would fix it, never altered,
because changing a type on a shared Moodle table can truncate data. Running twice changes nothing
the second time.
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn, CreateIndex

INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


@dataclass(frozen=True)
class Finding:
    """One observation about one table; ``repaired`` says whether this run fixed it."""

    table: str
    message: str
    repaired: bool

    def __str__(self):
        return f"{self.table}: {self.message}"


def type_signature(sql_type, dialect):
    """A dialect's type as a comparable string: ``bigint``, ``varchar(100)``, ``decimal(10,2)``.

    Integer display widths are dropped (MySQL 8 no longer reports them) and collations ignored.
    """
    text = sql_type.compile(dialect=dialect).lower()
    text = re.sub(r"\s+(collate|character set|charset)\s+\S+", "", text)
    text = text.replace(" ", "").replace("numeric", "decimal").replace("unsigned", "")
    base = text.split("(", 1)[0]
    if base in INT_TYPES:
        return "int" if base == "integer" else base
    return text


def default_signature(default, column_type):
    """A declared or reflected server default as a comparable value (``None`` when there is none)."""
    if default is None:
        return None
    arg = getattr(default, "arg", default)  # declared: DefaultClause; reflected: plain text
    text = str(getattr(arg, "text", arg)).strip()
    text = re.sub(r"^\((.*)\)$", r"\1", text)  # PostgreSQL: ('0'::numeric)
    text = re.sub(r"::[a-z ]+(\(\d+(,\d+)?\))?$", "", text)  # PostgreSQL's cast: ''::character varying
    if text.upper() == "NULL":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    if isinstance(column_type, (sa.Integer, sa.Numeric)):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _nullability(nullable):
    return "NULL" if nullable else "NOT NULL"


class TableRepairer:
    """Checks (and, when ``apply`` is set, repairs) declared tables on one connection."""

    def __init__(self, connection, apply=True):
        self.connection = connection
        self.dialect = connection.dialect
        self.apply = apply

    def run(self, tables):
        inspector = sa.inspect(self.connection)
        existing = set(inspector.get_table_names())
        findings = []
        for table in tables:
            if table.name not in existing:
                findings.append(self._create_table(table))
            else:
                findings.extend(self._check_columns(table, inspector))
                findings.extend(self._check_indexes(table, inspector))
        return findings

    def _add(self, table, what, create):
        """Call ``create()`` (DDL) and commit it; MySQL commits DDL implicitly anyway.

        A refused statement, e.g. a unique index over duplicate rows, becomes a finding, not a crash.
        """
        if not self.apply:
            return Finding(table.name, f"missing {what} (check only)", repaired=False)
        try:
            create()
            self.connection.commit()
        except DBAPIError as error:
            self.connection.rollback()
            reason = " ".join(str(error.orig).split())
            return Finding(table.name, f"could not add {what}: {reason}", repaired=False)
        return Finding(table.name, f"added {what}", repaired=True)

    def _create_table(self, table):
        return self._add(table, "table", lambda: table.create(self.connection))

    def _check_columns(self, table, inspector):
        reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
        findings = []
        for column in table.columns:
            actual = reflected.get(column.name)
            if actual is None:
                findings.append(self._add_column(table, column))
                continue
            problems = list(self._column_differences(column, actual))
            if problems:
                findings.append(Finding(table.name, self._difference_message(table, column, problems), False))
        declared = set(table.columns.keys())
        findings.extend(
            Finding(table.name, f"column {name} is not in install.xml; left unchanged", repaired=False)
            for name in reflected
            if name not in declared
        )
        return findings

    def _add_column(self, table, column):
        spec = CreateColumn(column).compile(dialect=self.dialect)
        statement = sa.text(f"ALTER TABLE {self._quote(table.name)} ADD COLUMN {spec}")
        return self._add(table, f"column {column.name}", lambda: self.connection.execute(statement))

    def _difference_message(self, table, column, problems):
        """Say what differs and, on MySQL, the statement an admin can run after checking the data."""
        message = f"column {column.name} {' and '.join(problems)}; left unchanged"
        if self.dialect.name in ("mysql", "mariadb"):
            spec = CreateColumn(column).compile(dialect=self.dialect)
            message += f" (to fix after a backup: ALTER TABLE {self._quote(table.name)} MODIFY COLUMN {spec})"
        elif self.dialect.name == "postgresql":
            message += f" (to fix after a backup: {self._postgres_alter(table, column)})"
        return message

    def _postgres_alter(self, table, column):
        """PostgreSQL's one statement that gives ``column`` its declared type, nullability and default."""
        name = self._quote(column.name)
        default = column.server_default
        clauses = [
            f"ALTER COLUMN {name} TYPE {column.type.compile(dialect=self.dialect)}",
            f"ALTER COLUMN {name} {'DROP' if column.nullable else 'SET'} NOT NULL",
            f"ALTER COLUMN {name} DROP DEFAULT"
            if default is None
            else f"ALTER COLUMN {name} SET DEFAULT {self._default_literal(default.arg, column.type)}",
        ]
        return f"ALTER TABLE {self._quote(table.name)} {', '.join(clauses)}"

    def _default_literal(self, arg, column_type):
        text = str(getattr(arg, "text", arg))
        if isinstance(arg, str):
            return sa.literal(text, column_type).compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        return text

    def _column_differences(self, column, actual):
        expected_type = type_signature(column.type, self.dialect)
        actual_type = type_signature(actual["type"], self.dialect)
        if expected_type != actual_type:
            yield f"is {actual_type}, expected {expected_type}"
        if column.primary_key:
            return
        if bool(actual["nullable"]) != bool(column.nullable):
            yield f"is {_nullability(actual['nullable'])}, expected {_nullability(column.nullable)}"
        expected_default = default_signature(column.server_default, column.type)
        actual_default = default_signature(actual.get("default"), column.type)
        if expected_default != actual_default:
            yield f"has default {actual_default!r}, expected {expected_default!r}"

    def _check_indexes(self, table, inspector):
        reflected = inspector.get_indexes(table.name)
        present = {(tuple(i["column_names"]), bool(i["unique"])) for i in reflected}
        findings = []
        for idx in sorted(table.indexes, key=lambda i: i.name):
            columns = tuple(c.name for c in idx.columns)
            if (columns, bool(idx.unique)) in present:
                continue
            kind = "unique index" if idx.unique else "index"
            what = f"{kind} {idx.name} ({', '.join(columns)})"
            findings.append(self._add(table, what, lambda i=idx: self.connection.execute(CreateIndex(i))))
        return findings

    def _quote(self, name):
        return self.dialect.identifier_preparer.quote(name)


def repair_tables(connection, tables, apply=True):
    """Check ``tables`` on ``connection``; with ``apply``, add what is missing. Returns the findings."""
    return TableRepairer(connection, apply=apply).run(tables)
