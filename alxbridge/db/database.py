"""One Moodle database: a lazily created SQLAlchemy engine plus the schema for its table prefix.

The engine is created on first use, not at import, so ``flask --app wsgi …`` with a bad
``ALX_DATABASE_URL`` reports a one-line error from the command instead of failing to import.
This module has no Flask dependency: sync jobs and the CLI use it directly.

The database also carries the bridge's one clock: every "now" that is compared with the timestamps
in Moodle's tables (token validity, enrolment windows, the quota's day, versions, ages) is read from
:meth:`Database.now`, so requests, jobs and commands agree, and a test can inject its own time.
"""

import contextlib
import time
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ..operations.errors import DatabaseConfigError, DatabaseUnavailable, NotAMoodleSite
from ..schema import build_schema
from ..schema.moodle import OPTIONAL_CORE_TABLES
from . import pool_checks
from .pool_checks import NO_POOL_CHECKS

MYSQL_DIALECTS = ("mysql", "mariadb")
POSTGRES_DIALECT = "postgresql"
POSTGRES_DRIVER = "psycopg"  # psycopg 3 (what a bare postgresql:// means from SQLAlchemy 2.1; 2.0 meant psycopg2)
URL_EXAMPLES = (
    "use mysql+mysqldb://user:password@host/moodle?charset=utf8mb4 or postgresql+psycopg://user:password@host/moodle"
)


def redacted(url):
    """The URL as text with everything between ``://`` and the host hidden, fit for logs and error messages.

    Read as text, not parsed: a password with an unencoded ``@`` parses wrongly (its tail becomes the host),
    and a parsed URL would show that tail. The credentials end at the last ``@``; should a query hold one,
    more is hidden than needed, never less.
    """
    scheme, separator, rest = str(url).partition("://")
    if not separator:
        return "<unparseable URL>"
    at = rest.rfind("@")
    return f"{scheme}://{rest}" if at < 0 else f"{scheme}://***@{rest[at + 1 :]}"


ENCODE_HINT = (
    "percent-encode the user and password in ALX_DATABASE_URL (@ as %40, # as %23, / as %2F, % as %25, "
    ": as %3A; python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' 'PASSWORD')"
)


def _driver_error_text(error):
    """The driver's own message (e.g. ``(2003, "Can't connect ...")``) without SQLAlchemy's noise."""
    original = getattr(error, "orig", None) or error
    return " ".join(str(original).split())


CONNECT_TIMEOUT_SECONDS = 10


def _require_psycopg(text, url):
    """Refuse a PostgreSQL URL for another driver in one line: only psycopg 3 is installed and tested."""
    if url.get_dialect().driver != POSTGRES_DRIVER:
        raise DatabaseConfigError(
            f"ALX_DATABASE_URL {redacted(text)}: PostgreSQL is reached through psycopg 3; "
            f"write the URL as postgresql+psycopg://… (pip install '.[postgres]')"
        )


class Database:
    """Engine and prefixed tables of the Moodle database the bridge serves, and the clock read with them.

    ``clock`` returns Unix seconds (``time.time`` in production). It is never the database server's own
    ``NOW()``: a decision never mixes the server's clock with Python's.
    """

    def __init__(self, url, prefix="mdl_", engine_options=None, clock=time.time):
        self.url = str(url)
        self.prefix = prefix
        self._engine_options = engine_options or {}
        self.clock = clock

    def now(self):
        """The current time in whole Unix seconds, as Moodle stamps its rows."""
        return int(self.clock())

    @cached_property
    def engine(self):
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise DatabaseConfigError(f"ALX_DATABASE_URL {self.url!r} is not a database URL; {URL_EXAMPLES}") from None
        if self.url.partition("://")[2].split("?", 1)[0].count("@") > 1:
            # "user:p@ss@host" parses with part of the password as the host, which the driver's error would show.
            raise DatabaseConfigError(f"ALX_DATABASE_URL {redacted(self.url)} has an unencoded @; {ENCODE_HINT}")
        options = {"future": True, **self._engine_options}
        if url.get_backend_name() in MYSQL_DIALECTS:
            if "charset" not in url.query:
                url = url.update_query_dict({"charset": "utf8mb4"})
            options.update(NO_POOL_CHECKS)
            options.setdefault("pool_recycle", 3600)
            if "connect_timeout" not in url.query:
                # A database host that stops answering (not refusing) must not hang workers for minutes.
                options.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        elif url.get_backend_name() == POSTGRES_DIALECT:
            _require_psycopg(self.url, url)
            options.update(NO_POOL_CHECKS)
            if "connect_timeout" not in url.query:
                options.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        elif url.get_backend_name() == "sqlite":
            options.setdefault("connect_args", {"timeout": 30})
        try:
            engine = sa.create_engine(url, **options)
        except NoSuchModuleError:
            raise DatabaseConfigError(
                f"ALX_DATABASE_URL {redacted(self.url)}: unknown database driver; "
                "use mysql+mysqldb:// (pip install '.[mysql]'), postgresql+psycopg:// (pip install '.[postgres]') "
                "or sqlite:///"
            ) from None
        except ImportError as error:
            extra = "postgres" if url.get_backend_name() == POSTGRES_DIALECT else "mysql"
            raise DatabaseConfigError(
                f"ALX_DATABASE_URL {redacted(self.url)}: the driver is not installed ({error}); "
                f"install it, e.g. pip install '.[{extra}]'"
            ) from None
        if url.get_backend_name() != "sqlite":
            pool_checks.install(engine)
        return engine

    @cached_property
    def schema(self):
        return build_schema(self.prefix, self.engine.dialect.name)

    @property
    def tables(self):
        return self.schema.tables

    @property
    def is_mysql(self):
        return self.engine.dialect.name in MYSQL_DIALECTS

    @property
    def is_postgres(self):
        return self.engine.dialect.name == POSTGRES_DIALECT

    def _unavailable(self, error):
        return DatabaseUnavailable(
            f"cannot connect to {redacted(self.url)}: {_driver_error_text(error)}; "
            "check ALX_DATABASE_URL and that the server is running"
        )

    def connect(self):
        """A connection, or :class:`DatabaseUnavailable` with the server's reason."""
        try:
            return self.engine.connect()
        except DBAPIError as error:
            raise self._unavailable(error) from None

    @contextlib.contextmanager
    def begin(self):
        """A connection inside a transaction, committed when the block ends without error.

        ``engine.begin()`` connects only when its block is entered, so wrapping the call in
        ``try`` caught nothing: connecting goes through :meth:`connect`, which turns a refused
        connection into :class:`DatabaseUnavailable`; errors inside the block pass unchanged.
        """
        with self.connect() as connection, connection.begin():
            yield connection

    def existing_table_names(self, connection):
        return set(sa.inspect(connection).get_table_names())

    def _require_postgres_schema(self, connection):
        """PostgreSQL looks tables up in the first schema of ``search_path`` that exists; none existing would
        otherwise read as "no Moodle site", hiding the real mistake (a misspelt schema in the URL's options)."""
        if connection.execute(sa.text("SELECT current_schema()")).scalar() is None:
            search_path = connection.execute(sa.text("SHOW search_path")).scalar()
            raise NotAMoodleSite(
                f"{redacted(self.url)}: no schema of search_path {search_path!r} exists; name Moodle's schema "
                "in ALX_DATABASE_URL, e.g. ?options=-csearch_path%3Dpublic"
            )

    def require_moodle_site(self, connection, iomad=True):
        """Fail with a one-line explanation unless Moodle (and IOMAD) tables exist under the prefix."""
        if connection.dialect.name == POSTGRES_DIALECT:
            self._require_postgres_schema(connection)
        present = self.existing_table_names(connection)
        required = [t.name for t in self.schema.moodle_core if t.name[len(self.prefix) :] not in OPTIONAL_CORE_TABLES]
        missing = [name for name in required if name not in present]
        if missing:
            found = sorted({name[: -len("config_plugins")] for name in present if name.endswith("config_plugins")})
            hint = (
                f"tables were found with prefix {', '.join(repr(p) for p in found)}: set ALX_DB_PREFIX"
                if found
                else "is ALX_DATABASE_URL the Moodle database? (flask --app wsgi alx demo builds a demo site)"
            )
            raise NotAMoodleSite(
                f"no Moodle site with table prefix {self.prefix!r} in {redacted(self.url)} "
                f"(missing {', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}); {hint}"
            )
        if iomad:
            missing = [t.name for t in self.schema.iomad if t.name not in present]
            if missing:
                raise NotAMoodleSite(
                    f"{redacted(self.url)} is a Moodle site without IOMAD (missing {', '.join(missing)}); "
                    "ALX Bridge serves IOMAD companies: install IOMAD or point ALX_DATABASE_URL at the IOMAD site"
                )
