"""A demo Moodle/IOMAD site, so the bridge can be tried and tested without a real Moodle.

``build_demo_site(database, companies=3, users=200, courses=12, seed=42, now=…, credentials_key=…)`` creates
every table of the schema (Moodle core, IOMAD, the plugin's) and fills the Moodle and IOMAD ones with a
deterministic site full of edge cases; ``read_demo_logins(database, credentials_key)`` prints its logins
again. Without a credentials key (:mod:`.credentials`) the admin password and tokens are random.
The content is made in :mod:`.site`, written and read back in :mod:`.store`. No Flask here: the
``alx demo`` command, tests and the benchmark call these functions directly.
"""

import dataclasses
import time
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..db.database import redacted
from ..schema.sequences import realign_id_sequences
from . import catalog
from .credentials import credentials_key as new_credentials_key
from .errors import DemoError, DemoSiteExists, NotADemoSite
from .site import SiteGenerator
from .site_model import DemoSpec
from .store import insert_rows, inspect_site, read_logins, recreate_tables

__all__ = [
    "DemoError",
    "DemoLogins",
    "DemoSiteExists",
    "NotADemoSite",
    "build_demo_site",
    "demo_site_present",
    "read_demo_logins",
]


def start_of_day_utc(now):
    """00:00 UTC of ``now``'s day: the default ``now`` of a demo site, so every run of one day builds the same site."""
    return now // 86400 * 86400


@dataclasses.dataclass(frozen=True)
class DemoLogins:
    """What an operator needs to try the demo: the admin login and a working token per company."""

    location: str  # database URL (password hidden) and prefix
    seed: str
    admin_username: str
    admin_password: str | None  # None if it was changed after the build
    tokens: tuple  # store.CompanyToken per company, by company id
    rows_written: int = 0  # only after a build
    seconds: float = 0.0

    def lines(self):
        if self.rows_written:
            head = (
                f"Demo site built in {self.location}: {self.rows_written:,} rows "
                f"in {self.seconds:.1f} s (seed {self.seed})."
            )
        else:
            head = f"Demo site already in {self.location} (seed {self.seed}); left unchanged."
        password = self.admin_password or "(changed since the demo was built)"
        width = max([len(t.company) for t in self.tokens] + [7])
        lines = [
            head,
            f"Site admin: username {self.admin_username}  password {password}",
            f"Tokens for the {catalog.ALX_SERVICE} service (wsfunction={catalog.PROGRESS_FUNCTION}):",
            f"  {'company':<{width}}  {'username':<20}  token",
        ]
        lines.extend(
            f"  {t.company:<{width}}  {t.username or '-':<20}  {t.token or '(no usable token)'}" for t in self.tokens
        )
        return lines


def _location(database):
    return f"{redacted(database.url)} (prefix {database.prefix})"


def _ensure_sqlite_folder(database):
    """SQLite creates the file but not its folder (the default ``instance/`` may not exist yet)."""
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _site_state(database):
    with database.connect() as connection:
        state = inspect_site(connection, database.schema)
    if state.has_data and not state.is_demo:
        raise NotADemoSite(
            f"{_location(database)} holds Moodle tables with data but no {catalog.MARKER} row in "
            f"{database.schema.tables.config.name}, so it is not a demo site; refusing to write demo data into it"
        )
    if state.other_prefixes:
        raise NotADemoSite(
            f"{redacted(database.url)} holds a Moodle site with table prefix "
            f"{', '.join(repr(p) for p in state.other_prefixes)}, so it is not a demo site; "
            "refusing to write demo data into it (use an empty database for the demo)"
        )
    return state


def demo_site_present(database):
    """True if a demo site is there, False if the database is empty; :class:`NotADemoSite` otherwise."""
    _ensure_sqlite_folder(database)
    return _site_state(database).is_demo


def build_demo_site(
    database, *, companies=3, users=200, courses=12, seed=42, now=None, replace=False, credentials_key=None
):
    """Write a demo site into ``database`` and return its :class:`DemoLogins`.

    Refuses (:class:`NotADemoSite`) to touch a real site; an existing demo site is rebuilt only
    with ``replace=True`` (else :class:`DemoSiteExists`). All rows go in one transaction.
    """
    spec = DemoSpec(companies, users, courses, seed, start_of_day_utc(database.now()) if now is None else now).check()
    _ensure_sqlite_folder(database)
    state = _site_state(database)
    if state.is_demo and not replace:
        raise DemoSiteExists(
            f"{_location(database)} already holds a demo site (seed {state.seed}); "
            "use --replace to rebuild it or --if-missing to keep it"
        )
    key = credentials_key or new_credentials_key()
    started = time.perf_counter()
    try:
        with database.begin() as connection:
            recreate_tables(connection, database.schema.metadata, drop_first=bool(state.tables))
        with database.begin() as connection:
            written = insert_rows(connection, database.tables, SiteGenerator(spec, key).rows())
            realign_id_sequences(connection, database.schema.metadata.sorted_tables)
    except DBAPIError as error:
        reason = " ".join(str(error.orig).split())[:300]
        raise DemoError(f"could not write the demo site into {_location(database)}: {reason}") from None
    seconds = time.perf_counter() - started
    logins = read_demo_logins(database, key)
    return dataclasses.replace(logins, rows_written=sum(written.values()), seconds=seconds)


def read_demo_logins(database, credentials_key=None):
    """The logins of the demo site in ``database``, read back from its tables; the admin password only with the
    ``credentials_key`` it was built with."""
    with database.connect() as connection:
        logins = read_logins(connection, database.schema, database.now(), credentials_key)
    if logins is None:
        raise NotADemoSite(f"{_location(database)} is not a demo site (no {catalog.MARKER} row)")
    return DemoLogins(_location(database), logins.seed, logins.admin_username, logins.admin_password, logins.tokens)
