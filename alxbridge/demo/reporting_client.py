"""The demo's report readers: a Power BI refresh, now and then, through the API the demo serves.

Each company gets a reporting service account (``powerbi.<company>``, an IOMAD company manager with a
token for the plugin's service), created once by :meth:`PowerBiRefresh.prepare` the way an admin
would, with Moodle's events. The accounts are the readers' own, not the tokens ``./run demo``
prints: the API's read sessions and daily quota are per token and per token owner, so the
simulator's reads neither acknowledge the changes a visitor's own polling should see nor spend the
visitor's 100 calls a day. A refresh reads one company (in turn) page by page over HTTP, as Power
Query does, the first account with Power Query's User-Agent; now and then an author's draft query
asks for too large a page, so the alert check has repeated errors to report. The readers stay under
:data:`DAILY_BUDGET` calls per account and day, below the plugin's default quota, so they never trip
the rate limit alert. Tokens are never logged.
"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.siteconfig import site_timezone
from ..moodle.tokens import create_token
from ..reporting.quota import calls_today
from . import catalog
from .credentials import placeholder_hash
from .moodle_actions import ADMIN, CONTEXT_USER, Site

log = logging.getLogger(__name__)
POWER_QUERY_AGENT = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"
SCRIPT_AGENT = "alxbridge-demo-report/1.0 (Python urllib)"
ACCOUNT_PREFIX = "powerbi."
PAGE = 100  # rows per call, Power BI's usual page
DAILY_BUDGET = 80  # calls per account and day, under the plugin's default rate_limit of 100
MAX_PAGES = 20  # one refresh reads at most this many pages
DRAFT_LIMIT = 5000  # a draft query's page size: above the plugin's default max_records (1000)
DRAFT_TRIES = 3  # the alert check reports 3 errors of one user within 15 minutes
TIMEOUT = 30


@dataclass(frozen=True)
class Account:
    companyid: int
    username: str
    userid: int
    token: str
    user_agent: str

    def __repr__(self):  # the token stays out of any log line that shows an account
        return f"Account({self.username!r}, company {self.companyid})"


def _create_account(connection, tables, company, now):
    """A company manager account for report reading, with its user context and IOMAD membership, logged as Moodle
    and IOMAD log them (IOMAD names the member in the event's userid)."""
    site = Site(connection, tables, now, rng=None)
    username = ACCOUNT_PREFIX + company.shortname.lower()
    user = {
        "auth": "manual", "confirmed": 1, "mnethostid": 1, "username": username, "firstname": "Power BI",
        "lastname": f"({company.shortname})", "email": f"{username}@example.org", "timecreated": now,
        "timemodified": now, "password": placeholder_hash("powerbi", 0),  # matches no password: tokens only
    }  # fmt: skip
    userid = site.insert(tables.user, **user)
    context_id = site.insert(tables.context, contextlevel=CONTEXT_USER, instanceid=userid, path="", depth=2)
    connection.execute(
        sa.update(tables.context).where(tables.context.c.id == context_id).values(path=f"/1/{context_id}")
    )
    site.insert(tables.company_users, companyid=company.id, userid=userid, managertype=1, departmentid=company.id)
    user_context = (CONTEXT_USER, userid)
    site.log("user_created", crud="c", context=user_context, userid=ADMIN, relateduserid=userid, objecttable="user",
             objectid=userid)  # fmt: skip
    site.log("\\block_iomad_company_admin\\event\\company_user_assigned", crud="c", context=user_context, userid=userid,
             objectid=company.id)  # fmt: skip
    return username


class PowerBiRefresh:
    """Reads one company's progress through ``base_url`` per :meth:`run`, the companies in turn."""

    def __init__(self, base_url, timezone=None):
        self.url = base_url.rstrip("/") + "/webservice/rest/server.php"
        self.timezone = timezone  # ALX_TIMEZONE, if set: the quota's day is the site's
        self.accounts = []
        self._turn = 0

    def prepare(self, database):
        """Create the missing service accounts and their tokens; read every account's token."""
        tables = database.tables
        with database.begin() as connection:
            companies = connection.execute(sa.select(tables.company).order_by(tables.company.c.id)).all()
            users = tables.user
            for number, company in enumerate(companies):
                username = ACCOUNT_PREFIX + company.shortname.lower()
                userid = connection.execute(
                    sa.select(users.c.id).where(users.c.username == username, users.c.deleted == 0)
                ).scalar()
                if userid is None:
                    _create_account(connection, tables, company, database.now())
                token = self._token_of(connection, tables, username) or create_token(
                    connection, tables, username, service_shortname=catalog.ALX_SERVICE, now=database.now()
                )
                userid = connection.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
                agent = POWER_QUERY_AGENT if number == 0 else SCRIPT_AGENT
                self.accounts.append(Account(company.id, username, userid, token, agent))
        return self

    @staticmethod
    def _token_of(connection, tables, username):
        tokens, users, services = tables.external_tokens, tables.user, tables.external_services
        return connection.execute(
            sa.select(tokens.c.token)
            .join(users, users.c.id == tokens.c.userid)
            .join(services, services.c.id == tokens.c.externalserviceid)
            .where(users.c.username == username, services.c.shortname == catalog.ALX_SERVICE, tokens.c.tokentype == 0)
            .order_by(tokens.c.id)
            .limit(1)
        ).scalar()

    def _within_budget(self, database, account):
        with database.connect() as connection:
            zone = site_timezone(connection, database.tables, self.timezone)
            return calls_today(connection, database.tables, account.userid, database.now(), zone) < DAILY_BUDGET

    def _call(self, account, limit, offset):
        """One page: the decoded JSON (a list of rows, or Moodle's exception object)."""
        body = urllib.parse.urlencode({
            "wstoken": account.token, "wsfunction": catalog.PROGRESS_FUNCTION, "moodlewsrestformat": "json",
            "limit": limit, "offset": offset,
        }).encode()  # fmt: skip
        request = urllib.request.Request(self.url, data=body, headers={"User-Agent": account.user_agent})  # noqa: S310 - our own server
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read().decode("utf-8"))

    def _next_account(self):
        account = self.accounts[self._turn % len(self.accounts)]
        self._turn += 1
        return account

    def _read(self, database, account, limit):
        """Page through the account's company with ``limit`` rows a page; the number of calls made."""
        if not self._within_budget(database, account):
            return 0
        calls = 0
        try:
            for page in range(MAX_PAGES):
                rows = self._call(account, limit, page * limit)
                calls += 1
                if not isinstance(rows, list) or len(rows) < limit:  # the last page, or Moodle's exception
                    break
        except (OSError, ValueError) as error:  # the server went away (stopping), or answered something odd
            log.warning("demo report refresh of company %s failed: %s", account.companyid, type(error).__name__)
        return calls

    def run(self, database):
        """One refresh of the next company; the number of API calls it made."""
        return self._read(database, self._next_account(), PAGE) if self.accounts else 0

    def draft_query(self, database):
        """A report author trying a draft query that asks for more rows a page than ``max_records`` allows, and
        refreshing it :data:`DRAFT_TRIES` times: refused each time, which the next alert check reports as
        repeated API errors of that account. The number of calls made."""
        if not self.accounts:
            return 0
        account = self._next_account()
        return sum(self._read(database, account, DRAFT_LIMIT) for _ in range(DRAFT_TRIES))
