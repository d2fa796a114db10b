"""A Power BI day against a live bridge under default settings (issue 15): after every refresh the report's
table equals the truth for its company.

Power BI (Import mode) *replaces* its table on every refresh. The plugin's documented day — a full refresh in
the morning, "Records Returned: 45" in the afternoon — left a dashboard showing only the changed rows. Here the
company keeps every default setting (Auto mode, 100 calls a day, caching on); Moodle changes between the
refreshes at 09:00, 15:00 and 21:00 (completions, enrolments, a learner leaving, a course hidden, a new
learner), the hourly sync runs, and each refresh is the M query of ``docs/clients.md`` as the mashup engine
sends it: one POST per page (function and format in the query string, token, limit and offset as a form body,
Power Query's User-Agent), pages until a short one, and every query evaluated twice (Power BI's schema and data
passes) — either the whole page list twice, or each page twice in a row.
"""

import itertools
from urllib.parse import urlencode

import pytest
import requests

from .client_support import POWER_QUERY_AGENT, doc_blocks, item_view, serve_site, sync, token_for, truth
from .live_server import live_server
from .rest_support import PROGRESS
from .sitebuilder import DAY, Clock

MIDNIGHT = 1_750_032_000  # 2025-06-16 00:00 UTC; the site keeps Moodle's default timezone
HOUR = 3600
PAGE_SIZE = 4  # the report's PageSize parameter: small, so every refresh spans several pages
NUMBERS = itertools.count(1)


@pytest.fixture(scope="module")
def site(database):
    return serve_site(database, Clock(MIDNIGHT))


@pytest.fixture(scope="module")
def bridge(app, site):
    with live_server(app) as base_url:
        yield base_url


def test_the_documented_query_makes_the_requests_this_test_sends():
    """The M in docs/clients.md: static base URL, RelativePath and Query, a form body, pages until a short one."""
    (query,) = doc_blocks("m")
    for fragment in (
        'RelativePath = "webservice/rest/server.php"',
        'Query = [wsfunction = "local_alx_report_api_get_course_progress", moodlewsrestformat = "json"]',
        'Headers = [#"Content-Type" = "application/x-www-form-urlencoded"]',
        "Uri.BuildQueryString([wstoken = Token, limit = Text.From(PageSize), offset = Text.From(Offset)])",
        "() => [Offset = 0, Rows = Page(0)]",
        "if List.Count([Rows]) < PageSize then [Offset = [Offset], Rows = null]",
        "[Offset = [Offset] + PageSize, Rows = Page([Offset] + PageSize)]",
    ):
        assert fragment in query
    assert "Web.Contents(\n                    BaseUrl," in query  # the data source is the parameter alone


def web_contents(base_url, token, offset):
    """One ``Page(Offset)`` of the documented query: the request ``Web.Contents`` makes, then ``Json.Document``."""
    response = requests.post(
        f"{base_url}/webservice/rest/server.php",
        params={"wsfunction": PROGRESS, "moodlewsrestformat": "json"},
        data=urlencode({"wstoken": token, "limit": PAGE_SIZE, "offset": offset}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": POWER_QUERY_AGENT},
        timeout=30,
    )
    assert response.status_code == 200
    page = response.json()
    assert isinstance(page, list), page  # the query turns an error envelope into a failed refresh
    assert response.headers["X-ALX-Sync-Mode"] == "full"
    return page


def evaluate(base_url, token, each_page_twice):
    """``List.Generate`` from offset 0 until a short page; ``each_page_twice``: the second evaluation of each page
    right after the first. Returns the pages."""
    pages, offset = [], 0
    while True:
        page = web_contents(base_url, token, offset)
        if each_page_twice:
            assert web_contents(base_url, token, offset) == page
        pages.append(page)
        if len(page) < PAGE_SIZE:
            return pages
        offset += PAGE_SIZE


def refresh(base_url, token, pattern):
    """One scheduled refresh: the query evaluated twice; the table is the loaded evaluation's rows."""
    if pattern == "each page twice":
        pages = evaluate(base_url, token, each_page_twice=True)
    else:
        first = evaluate(base_url, token, each_page_twice=False)
        pages = evaluate(base_url, token, each_page_twice=False)
        assert pages == first, "the second evaluation saw other rows"
    return [item for page in pages for item in page]


class Company:
    """An IOMAD company with three courses, learners in them, and a report owner whose token Power BI uses."""

    def __init__(self, site):
        number = next(NUMBERS)
        self.site = site
        self.id = site.company(f"Day{number}")
        self.courses = [site.course(f"Day{number} course {c}", [self.id], modules=(1, 1, 0)) for c in range(3)]
        self.learners = [site.user(f"d{number}l{n}", companies=[self.id]) for n in range(6)]
        site.user(f"d{number}owner", companies=[self.id])
        self.token = token_for(site, f"d{number}owner.tester")
        self.enrolments = {}
        for n, learner in enumerate(self.learners):
            for c in (0, 1) if n % 2 else (0, 2):
                self.enrolments[n, c] = site.enrol(learner, self.courses[c], timestart=site.now - 30 * DAY)

    def complete(self, learner, course, module):
        self.site.complete_module(self.learners[learner], self.courses[course].modules[module])


def at(site, hour):
    site.clock.now = MIDNIGHT + hour * HOUR


@pytest.mark.parametrize("pattern", ["whole query twice", "each page twice"])
def test_every_refresh_of_a_power_bi_day_ends_with_the_companys_whole_dataset(site, bridge, pattern):
    at(site, 0)
    acme, other = Company(site), Company(site)  # the other company's rows must never reach Acme's report
    at(site, 8)
    sync(site)
    tables = []

    at(site, 9)
    tables.append(item_view(refresh(bridge, acme.token, pattern)))
    assert tables[-1] == truth(site, acme.id)
    assert len(tables[-1]) > 2 * PAGE_SIZE

    at(site, 11)
    acme.complete(0, 0, 0)
    acme.complete(1, 1, 0)
    acme.complete(1, 1, 1)
    site.course_completion(acme.learners[3], acme.courses[1], timecompleted=site.now - DAY)
    other.complete(0, 0, 0)
    at(site, 12)
    sync(site)
    at(site, 13)
    site.update_user(acme.learners[4], lastname="Renamed")
    site.enrol(acme.learners[4], acme.courses[1], timestart=site.now)
    at(site, 14)
    sync(site)

    at(site, 15)  # the plugin's "afternoon refresh": only changes since 09:00, none of them a deletion
    tables.append(item_view(refresh(bridge, acme.token, pattern)))
    assert tables[-1] == truth(site, acme.id)
    assert len(tables[-1]) == len(tables[0]) + 1  # not only the handful of changed rows

    at(site, 17)
    site.unenrol(acme.enrolments.pop((2, 0)))  # an enrolment deleted: its row leaves the report
    site.update_user(acme.learners[5], suspended=1)  # a learner leaves: both rows go
    site.update_course(acme.courses[2], visible=0)  # a course hidden: its rows go
    acme.complete(0, 0, 1)
    at(site, 18)
    sync(site)
    at(site, 19)
    newcomer = site.user(f"d{acme.id}new", companies=[acme.id])
    site.enrol(newcomer, acme.courses[0], timestart=site.now)
    at(site, 20)
    sync(site)

    at(site, 21)
    tables.append(item_view(refresh(bridge, acme.token, pattern)))
    assert tables[-1] == truth(site, acme.id)
    assert len({tuple(sorted(table.items())) for table in tables}) == 3  # every refresh showed the day's changes
