"""The client recipes of ``docs/clients.md`` against a live bridge: a small IOMAD site, its truth, the recipes.

The site is written with :class:`~tests.sitebuilder.SiteBuilder` (Moodle's own rows, stamped by the test's
clock, events in the standard log as Moodle logs them) and its web service is set up as an admin would. A
company's **truth** is what a full recompute from Moodle's tables reports (the sync's progress query),
never what the reporting table holds. The recipes' code comes from ``docs/clients.md`` itself, so the page
cannot drift from what is tested.
"""

import re
from pathlib import Path

from alxbridge.moodle.tokens import create_token
from alxbridge.sync.progress import compute_company_progress
from alxbridge.sync.runs import run_sync

from .admin.ws_support import enable_web_service
from .sitebuilder import SiteBuilder

CLIENTS_DOC = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
# The mashup engine's agent, as Microsoft's Power Query documentation shows it (Desktop, Service, gateway, Excel).
POWER_QUERY_AGENT = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"
# What a client compares: the item's fields that need no formatting, in the API's names.
CONTENT = ("firstname", "lastname", "email", "coursename", "timecompleted_unix", "timestarted_unix", "percentage",
           "status")  # fmt: skip


def doc_blocks(language):
    """The fenced ``language`` blocks of docs/clients.md, in order."""
    text = CLIENTS_DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def item_view(items):
    """``{(userid, courseid): content}`` of API items (or rows of a copy), failing on a key served twice."""
    view = {}
    for item in items:
        key = (int(item["userid"]), int(item["courseid"]))
        assert key not in view, f"{key} was served twice"
        view[key] = tuple(float(item[name]) if name == "percentage" else item[name] for name in CONTENT)
    return view


def truth(site, companyid):
    """The company's rows as a full recompute from Moodle's tables reports them now, as :func:`item_view` shows
    items."""
    with site.database.connect() as connection:
        rows = list(compute_company_progress(connection, site.tables, companyid, now=site.now))
    return item_view(
        {**row, "timecompleted_unix": row["timecompleted"] or 0, "timestarted_unix": row["timestarted"] or 0}
        for row in rows
    )


def sync(site):
    """The hourly sync, as the scheduler runs it."""
    result = run_sync(site.database)
    assert not result.failed, result.summary()


def serve_site(database, clock):
    """A site with the web service on (``alx_report_api_custom`` offering the progress function) and the standard
    log store enabled, stamped by ``clock``, which the bridge reads too."""
    site = SiteBuilder(database, clock).create_tables()
    site.use_standard_log(True)
    enable_web_service(site)
    return site


def token_for(site, username):
    with site.database.begin() as connection:
        return create_token(connection, site.tables, username, now=site.now)
