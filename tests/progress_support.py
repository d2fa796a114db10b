"""Helpers for the ``get_course_progress`` tests: the reference site behind a Flask test client,
calls over HTTP, and a writer that puts reporting rows and committed versions directly in the
tables the way the sync engine commits them (rows and ``committed_version`` in one transaction).

Versions come from one process-wide counter above the recording's time (the site's clock), so every write step gets a
version strictly greater than the last one, across tests and hypothesis examples alike.
"""

import hashlib
import itertools
import json

import sqlalchemy as sa

from alxbridge.db.upsert import upsert
from alxbridge.extensions import cache
from alxbridge.reporting.company import membership_hints

from .reference_site import RECORDED_AT, _complete, load_reference_site, reference_app, site_tables
from .rest_support import LONER, PROGRESS, RELAXED_LIMITS, U10, call

C1 = U10  # u10, company 1 (BWL)
C2 = "a1c0ffee00000000000000000000c002"  # u40, company 2 (TCT)
C3 = "a1c0ffee00000000000000000000c003"  # u50, company 3 (EDU)
C1B = "a1c0ffee00000000000000000000c012"  # a second company-1 token, of u12, added by ProgressSite
C1C = "a1c0ffee00000000000000000000c010"  # a second token of u10 itself, added by ProgressSite
TOKEN_USERS = {C1: 10, C2: 40, C3: 50, C1B: 12, C1C: 10, LONER: 3}
TOKEN_COMPANIES = {C1: 1, C1B: 1, C1C: 1, C2: 2, C3: 3}
# Visible courses of each company in the reference site (course 103 of company 1 is hidden).
EXPOSED = {1: (101, 102, 104, 106), 2: (101, 105), 3: (102,)}
HIDDEN_COURSE = 103
FIELDS = (
    "userid", "firstname", "lastname", "email", "courseid", "coursename", "timecompleted",
    "timecompleted_unix", "timestarted", "timestarted_unix", "percentage", "status",
)  # fmt: skip
PLUGIN_TABLES = (
    "local_alx_api_logs", "local_alx_api_settings", "local_alx_api_reporting", "local_alx_api_sync_status",
    "local_alx_api_cache", "local_alx_api_alerts", "local_alxbridge_company", "local_alxbridge_course",
    "local_alxbridge_sync_run", "local_alxbridge_read_session", "local_alxbridge_quota",
    "local_alxbridge_company_setting", "local_alxbridge_refusal",
)  # fmt: skip

_versions = itertools.count(RECORDED_AT + 1)


def next_version():
    """A version strictly greater than every version handed out before (and than the recording's time)."""
    return next(_versions)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def progress_row(userid, courseid, **content):
    """A reporting row's content; ``tag`` marks a version of the row (it goes into ``firstname``)."""
    tag = content.pop("tag", "v0")
    row = {
        "userid": userid,
        "courseid": courseid,
        "firstname": f"F{userid}-{tag}",
        "lastname": f"L{userid}",
        "email": f"u{userid}@example.org",
        "coursename": f"Course {courseid}",
        "timecompleted": 0,
        "timestarted": 0,
        "percentage": 0,
        "status": "not_started",
    }
    row.update(content)
    return row


def item_key(item):
    return item["userid"], item["courseid"]


class ProgressSite:
    """The reference site in a database of its own, served by a bridge app without scheduler or shield."""

    def __init__(self, database_url, **config):
        self.app = reference_app(database_url, **{**RELAXED_LIMITS, **config})
        self.clock = self.app.config["CLOCK"]
        self.database = self.app.extensions["alx_database"]
        self.tables = self.database.tables
        self.client = self.app.test_client()
        load_reference_site(self.database)
        self._config = site_tables()["config_plugins"]
        with self.database.begin() as connection:
            for token, userid in ((C1B, 12), (C1C, 10)):
                tokens = self.tables.external_tokens
                connection.execute(tokens.insert().values(**_complete(tokens, {
                    "token": token, "tokentype": 0, "userid": userid, "externalserviceid": 3, "contextid": 1,
                    "validuntil": 0, "timecreated": 1792712481,
                })))  # fmt: skip

    def close(self):
        self.database.engine.dispose()

    # State between tests
    def reset(self):
        """The recording's time, no plugin or bridge rows, the reference site's plugin config, an empty cache."""
        self.clock.now = RECORDED_AT
        with self.database.begin() as connection:
            for name in PLUGIN_TABLES:
                connection.execute(sa.delete(getattr(self.tables, name)))
            config = self.tables.config_plugins
            connection.execute(sa.delete(config).where(config.c.plugin == "local_alx_report_api"))
            connection.execute(config.insert(), self._config)
        self.clear_cache()
        membership_hints(self.tables).clear()  # as a new process would: the clock above stands still

    def clear_cache(self):
        with self.app.app_context():
            cache.clear()

    # Calls
    def call(self, token, limit=None, offset=None, fmt="json", method="POST", headers=None, **environ):
        params = [("wstoken", token), ("wsfunction", PROGRESS)]
        if fmt == "json":
            params.append(("moodlewsrestformat", "json"))
        if limit is not None:
            params.append(("limit", str(limit)))
        if offset is not None:
            params.append(("offset", str(offset)))
        kwargs = {"headers": headers or {}}
        if environ:
            kwargs["environ_base"] = environ
        if method == "GET":
            return call(self.client, params, method="GET", **kwargs)
        return call(self.client, method=method, form=params, **kwargs)

    def page(self, token, limit=None, offset=None, **options):
        """The items of one successful JSON call."""
        response = self.call(token, limit, offset, **options)
        assert response.status_code == 200
        body = json.loads(response.data)
        assert isinstance(body, list), body
        return body

    def error(self, token, limit=None, offset=None, **options):
        """The (JSON) Moodle exception of one failing call."""
        body = json.loads(self.call(token, limit, offset, **options).data)
        assert isinstance(body, dict) and "exception" in body, body
        return body

    def read_all(self, token, limit, start_offset=0):
        """Every page of one read session from ``start_offset`` to the short page: ``(items, pages)``."""
        pages, offset = [], start_offset
        while True:
            page = self.page(token, limit, offset)
            pages.append(page)
            offset += len(page)
            if len(page) < limit:
                return [item for page in pages for item in page], pages

    # What the calls left behind
    def rows(self, table_name, **where):
        table = getattr(self.tables, table_name)
        condition = sa.and_(sa.true(), *(table.c[k] == v for k, v in where.items()))
        with self.database.connect() as connection:
            query = sa.select(table).where(condition).order_by(table.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]

    def logs(self, **where):
        return self.rows("local_alx_api_logs", **where)

    def last_details(self, token):
        """``additional_data`` of the token owner's latest log row, decoded."""
        logs = self.tables.local_alx_api_logs
        query = (
            sa.select(logs.c.additional_data)
            .where(logs.c.userid == TOKEN_USERS[token])
            .order_by(logs.c.id.desc())
            .limit(1)
        )
        with self.database.connect() as connection:
            return json.loads(connection.execute(query).scalar_one())

    def sessions(self, token):
        return self.rows("local_alxbridge_read_session", token_hash=token_hash(token))

    def sync_status(self, token, companyid=None):
        companyid = TOKEN_COMPANIES[token] if companyid is None else companyid
        rows = self.rows("local_alx_api_sync_status", companyid=companyid, token_hash=token_hash(token))
        return rows[0] if rows else None

    # Settings
    def config(self, name, value):
        with self.database.begin() as connection:
            upsert(connection, self.tables.config_plugins, {"plugin": "local_alx_report_api", "name": name},
                   {"value": str(value)})  # fmt: skip

    def company_setting(self, companyid, name, value):
        now = self.database.now()
        with self.database.begin() as connection:
            upsert(connection, self.tables.local_alx_api_settings, {"companyid": companyid, "setting_name": name},
                   {"setting_value": value, "timecreated": now, "timemodified": now})  # fmt: skip

    # The reporting table, written as the sync engine commits it
    def write(self, companyid, rows=(), deleted=(), version=None, horizon=None):
        """Upsert ``rows`` (live) and tombstone the ``deleted`` (userid, courseid) keys at ``version``,
        and commit ``version`` for the company, all in one transaction. Returns the version."""
        version = next_version() if version is None else version
        reporting, now = self.tables.local_alx_api_reporting, self.database.now()
        with self.database.begin() as connection:
            for row in rows:
                key = {"userid": row["userid"], "courseid": row["courseid"], "companyid": companyid}
                content = {k: v for k, v in row.items() if k not in key}
                upsert(connection, reporting, key,
                       {**content, "last_updated": version, "is_deleted": 0, "created_at": now, "updated_at": now},
                       on_update={**content, "last_updated": version, "is_deleted": 0, "updated_at": now})  # fmt: skip
            for userid, courseid in deleted:
                connection.execute(
                    sa.update(reporting)
                    .where(reporting.c.companyid == companyid, reporting.c.userid == userid,
                           reporting.c.courseid == courseid)
                    .values(is_deleted=1, last_updated=version, updated_at=now)
                )  # fmt: skip
            self._commit(connection, companyid, version, horizon)
        return version

    def purge_tombstones(self, companyid, horizon):
        """Retention: delete the company's tombstones up to ``horizon`` and record the horizon."""
        reporting = self.tables.local_alx_api_reporting
        with self.database.begin() as connection:
            connection.execute(
                sa.delete(reporting).where(
                    reporting.c.companyid == companyid, reporting.c.is_deleted == 1, reporting.c.last_updated <= horizon
                )
            )
            state = self.tables.local_alxbridge_company
            connection.execute(sa.update(state).where(state.c.companyid == companyid).values(tombstone_horizon=horizon))

    def _commit(self, connection, companyid, version, horizon):
        values = {"committed_version": version}
        if horizon is not None:
            values["tombstone_horizon"] = horizon
        table = self.tables.local_alxbridge_company
        first = _complete(table, {"companyid": companyid, **values, "timemodified": self.database.now()})
        upsert(connection, table, {"companyid": companyid}, first, on_update=values)

    def age_sessions(self, token, seconds):
        """Move the token's read sessions ``seconds`` into the past (opened, used and closed)."""
        sessions = self.tables.local_alxbridge_read_session
        with self.database.begin() as connection:
            connection.execute(
                sa.update(sessions)
                .where(sessions.c.token_hash == token_hash(token))
                .values(
                    timeopened=sessions.c.timeopened - seconds,
                    timeused=sessions.c.timeused - seconds,
                    timeclosed=sa.case((sessions.c.timeclosed > 0, sessions.c.timeclosed - seconds), else_=0),
                )
            )

    def reporting(self, companyid):
        """``{(userid, courseid): row}`` of the company's reporting rows, tombstones included."""
        return {(r["userid"], r["courseid"]): r for r in self.rows("local_alx_api_reporting", companyid=companyid)}
