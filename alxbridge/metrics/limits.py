"""Who is under which daily quota, resolved exactly as the web service resolves it.

The quota belongs to the token's owner (the caller), not to a company: each caller may make
``limit`` calls a day, where ``limit`` is the ``rate_limit`` setting of the caller's company
(:func:`~alxbridge.reporting.company.caller_company`) when one is set, else the global
``rate_limit``; ``None`` (a global ``0``) means unlimited. Calls are attributed to a company the same
way: through the caller's company membership, not the ``company_shortname`` copied into each log
row, which goes stale when a shortname changes and says ``unknown`` for calls refused early.
"""

import sqlalchemy as sa

from ..moodle.plugin_settings import read_company_settings
from ..reporting.company import Company, caller_company


def all_companies(connection, tables):
    """Every IOMAD company, ordered by name (the plugin's company list)."""
    company = tables.company
    rows = connection.execute(sa.select(company.c.id, company.c.name, company.c.shortname).order_by(company.c.name))
    return [Company(*row) for row in rows]


class DailyLimits:
    """The callers' companies and daily limits, each looked up once per instance (one page or check)."""

    def __init__(self, connection, tables, settings):
        self.connection, self.tables, self.settings = connection, tables, settings
        self._companies, self._company_settings = {}, {}

    def company_of(self, userid):
        """The caller's :class:`~alxbridge.reporting.company.Company`, or ``None``."""
        if userid not in self._companies:
            self._companies[userid] = caller_company(self.connection, self.tables, userid)
        return self._companies[userid]

    def company_settings(self, companyid):
        if companyid not in self._company_settings:
            self._company_settings[companyid] = read_company_settings(self.connection, self.tables, companyid)
        return self._company_settings[companyid]

    def of_company(self, companyid):
        """The daily limit of each caller of the company: its own ``rate_limit``, else the global one."""
        return self.company_settings(companyid).rate_limit or self.settings.rate_limit

    def of_user(self, userid):
        company = self.company_of(userid)
        return self.settings.rate_limit if company is None else self.of_company(company.id)
