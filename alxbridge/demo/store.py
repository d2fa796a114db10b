"""The database side of the demo: tell a demo site from a real one, write the rows, read logins back.

Safety comes first: when any Moodle, IOMAD or plugin table under the prefix holds data and
``{prefix}config`` has no demo marker row, the database belongs to a real site and nothing here
writes to it. Tables that exist but are all empty (e.g. left by a build that failed and rolled back)
hold nothing to lose and are rebuilt.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ..moodle.passwords import verify_bcrypt
from . import catalog
from .credentials import admin_password

CHUNK_ROWS = 5000  # rows per executemany: big enough to amortise a round trip, small enough for memory


@dataclass(frozen=True)
class SiteState:
    """What the database holds under the prefix, as far as the demo is concerned."""

    tables: frozenset  # names of the schema's tables that exist
    seed: str | None  # the demo marker's value; None when there is no marker
    has_data: bool  # some existing schema table has a row
    other_prefixes: tuple  # prefixes of other Moodle sites in the same database

    @property
    def is_demo(self):
        return self.seed is not None


def inspect_site(connection, schema):
    present = set(sa.inspect(connection).get_table_names())
    existing = [table for table in schema.metadata.sorted_tables if table.name in present]
    has_data = any(
        connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None
        for table in existing
    )
    others = tuple(  # a prefix with both config tables is a Moodle site
        sorted(
            name.removesuffix("config_plugins")
            for name in present
            if name.endswith("config_plugins")
            and name.removesuffix("_plugins") in present
            and name != schema.tables.config_plugins.name
        )
    )
    return SiteState(frozenset(t.name for t in existing), marker_seed(connection, schema, present), has_data, others)


def marker_seed(connection, schema, present):
    """The demo marker's value, or None (also when ``config`` is missing or not Moodle's)."""
    config = schema.tables.config
    if config.name not in present:
        return None
    try:
        return connection.execute(sa.select(config.c.value).where(config.c.name == catalog.MARKER)).scalar()
    except DBAPIError:  # a config table with other columns: certainly not a demo site
        connection.rollback()
        return None


def recreate_tables(connection, metadata, drop_first):
    """Create every table of the schema, dropping the schema's existing ones first when asked."""
    if drop_first:
        metadata.drop_all(connection)
    metadata.create_all(connection)


def insert_rows(connection, tables, rows, chunk_rows=CHUNK_ROWS):
    """Insert ``(table name, row)`` pairs with one executemany per ``chunk_rows`` rows of a table.

    Rows of a table are inserted in the order they come, which is their id order. Returns the
    number of rows written per table.
    """
    pending, written = defaultdict(list), Counter()

    def flush(name):
        batch = pending.pop(name, None)
        if batch:
            connection.execute(getattr(tables, name).insert(), batch)
            written[name] += len(batch)

    for name, row in rows:
        batch = pending[name]
        batch.append(row)
        if len(batch) >= chunk_rows:
            flush(name)
    for name in list(pending):
        flush(name)
    return written


@dataclass(frozen=True)
class CompanyToken:
    company: str  # company shortname
    username: str | None
    token: str | None  # None when the company has no usable token any more


@dataclass(frozen=True)
class Logins:
    seed: str
    admin_username: str
    admin_password: str | None  # None when it no longer matches (changed since the build)
    tokens: tuple


def read_logins(connection, schema, now, credentials_key=None):
    """The admin login and, per company, the first token that works for the plugin's service (None: no demo).

    "Works" is what the web service checks: permanent, not expired at ``now``, no IP restriction,
    owner active and in the company, service enabled. The password is re-derived from the seed in
    the marker and ``credentials_key``, and shown only if the stored hash still verifies.
    """
    t = schema.tables
    seed = marker_seed(connection, schema, set(sa.inspect(connection).get_table_names()))
    if seed is None:
        return None
    admins = connection.execute(sa.select(t.config.c.value).where(t.config.c.name == "siteadmins")).scalar() or ""
    admin_id = int(admins.split(",")[0]) if admins.split(",")[0].strip().isdigit() else 2
    admin = connection.execute(sa.select(t.user.c.username, t.user.c.password).where(t.user.c.id == admin_id)).first()
    password = admin_password(seed, credentials_key) if admin and credentials_key else None
    if password is not None and not verify_bcrypt(password, admin.password):
        password = None

    tok, usr, cu, svc = t.external_tokens, t.user, t.company_users, t.external_services
    usable = (
        sa.select(cu.c.companyid, usr.c.username, tok.c.token)
        .join(usr, usr.c.id == cu.c.userid)
        .join(tok, tok.c.userid == usr.c.id)
        .join(svc, svc.c.id == tok.c.externalserviceid)
        .where(
            usr.c.deleted == 0,
            usr.c.suspended == 0,
            tok.c.tokentype == 0,
            sa.or_(tok.c.validuntil.is_(None), tok.c.validuntil == 0, tok.c.validuntil > now),
            sa.or_(tok.c.iprestriction.is_(None), tok.c.iprestriction == ""),
            svc.c.enabled == 1,
            svc.c.shortname == catalog.ALX_SERVICE,
        )
        .order_by(cu.c.companyid, tok.c.id)
    )
    first_token = {}
    for companyid, username, token in connection.execute(usable):
        first_token.setdefault(companyid, (username, token))
    companies = connection.execute(sa.select(t.company.c.id, t.company.c.shortname).order_by(t.company.c.id))
    tokens = tuple(CompanyToken(shortname, *first_token.get(cid, (None, None))) for cid, shortname in companies)
    return Logins(seed, admin.username if admin else "admin", password, tokens)
