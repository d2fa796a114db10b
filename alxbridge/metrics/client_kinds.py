"""Which kinds of clients call each company: Power Query, Postman, scripts, … (issue 15).

Read from the User-Agent every call logs, classified by :func:`alxbridge.reporting.clients.client_kind`;
calls belong to a company through their caller (:mod:`.limits`), as everywhere on the admin pages. The
Company Settings page uses it to warn when an "Always incremental" company is read by Power Query, which
would then show only the changed rows.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..reporting.clients import KIND_LABELS, POWER_QUERY, client_kind
from .moment import DAY

CLIENT_DAYS = 7  # "recent callers": the window both pages show


@dataclass(frozen=True)
class CompanyClients:
    company: object  # reporting.company.Company
    calls: dict  # client kind → calls in the window, only kinds seen

    @property
    def power_query_calls(self):
        return self.calls.get(POWER_QUERY, 0)

    @property
    def by_label(self):
        """``[(label, calls)]`` in :data:`KIND_LABELS` order."""
        return [(label, self.calls[kind]) for kind, label in KIND_LABELS.items() if kind in self.calls]


def clients_by_company(connection, tables, limits, now):
    """``{companyid: CompanyClients}`` over the last :data:`CLIENT_DAYS` days, for companies with calls."""
    logs = tables.local_alx_api_logs
    rows = connection.execute(
        sa.select(logs.c.userid, logs.c.user_agent, sa.func.count())
        .where(logs.c.timeaccessed > now - CLIENT_DAYS * DAY, logs.c.timeaccessed <= now)
        .group_by(logs.c.userid, logs.c.user_agent)
    )
    found = {}
    for userid, user_agent, calls in rows:
        company = limits.company_of(userid)
        if company is not None:
            kinds = found.setdefault(company.id, CompanyClients(company, {})).calls
            kind = client_kind(user_agent)
            kinds[kind] = kinds.get(kind, 0) + calls
    return found
