"""Real clients of ``get_course_progress`` against a live bridge on the demo site (MariaDB and PostgreSQL, after a
full sync).

* The plugin's own Postman collection (``tests/postman/``, a copy of the plugin repository's
  ``ALX_Report_API_Postman_Collection.json`` whose collection variables ``base_url`` and ``token``
  hold placeholders instead of the repository's customer host and token) runs under ``newman`` with
  both overridden; every request and every assertion of the collection must pass. newman comes from
  ``package.json`` / ``package-lock.json`` at the repository root: ``npm ci`` installs it, and the
  test fails (never skips) when it is missing.
* ``moodlepy`` (PyPI), through its generic call, reads every page of a company; the union of the
  pages must equal the company's rows taken straight from the reporting table — nothing lost,
  nothing duplicated, nothing foreign.

The whole collection runs unchanged: the bridge needs no ``--folder`` selection. Where the bridge
answers differently from the plugin, the collection's assertions accept both answers:

* "Oversized Limit Test" (``limit=5000``): both answer ``limittoolarge`` with HTTP 200; the test only
  asserts the status.
* "2. Second Call - Incremental Sync Test" / "3. Third Call - Cache Test" repeat ``offset=0`` with
  the same limit: the plugin serves an incremental (often empty) page, the bridge replays the read
  session it opened moments ago (Power BI evaluates queries twice, design §2), so it serves the
  same full page again. The collection only logs the counts and asserts an array.
* The timing assertion ("Response time is acceptable", < 5 s) holds on a loaded CI machine too; the
  "cache hit < 200 ms" check only logs.

newman and moodlepy use different companies' tokens: newman's offset=0 calls complete a read
session of their company (its rows fit in one ``limit=500`` page), after which that token's next
``offset=0`` is — correctly — incremental, and would not be "all pages of the company".
"""

import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from moodle import Moodle

from alxbridge.demo import build_demo_site, read_demo_logins
from alxbridge.sync.runs import run_sync

from .conftest import make_app
from .live_server import live_server
from .rest_support import PROGRESS, RELAXED_LIMITS

REPO = Path(__file__).resolve().parent.parent
COLLECTION = REPO / "tests" / "postman" / "ALX_Report_API_Postman_Collection.json"
NEWMAN = REPO / "node_modules" / ".bin" / "newman"
INSTALL_HINT = f"run `npm ci` in {REPO} (package.json / package-lock.json pin newman)"
NEWMAN_TIMEOUT = 180  # seconds for the whole collection (11 requests, one of which waits 2 s)
# The demo site: enough people that a company spans several pages of every limit the clients use.
DEMO = {"companies": 3, "users": 600, "courses": 12, "seed": 4}
SITE_TIMEZONE = "Asia/Kolkata"  # the demo site's forced timezone (catalog.SITE_CONFIG)
NEWMAN_COMPANY = "BWL"
MOODLEPY_COMPANIES = ("TCT", "EDU")
MOODLEPY_LIMIT = 37  # an odd size, so pages cut across users and courses


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def demo(request, new_database):
    """The demo site on each server after one full sync; yields ``(app, database, {shortname: token})``."""
    with new_database(request.param) as url:
        app = make_app(url, **RELAXED_LIMITS)
        database = app.extensions["alx_database"]
        build_demo_site(database, **DEMO)
        result = run_sync(database, full=True)
        assert [c.error for c in result.companies] == [None] * DEMO["companies"], result
        tokens = {t.company: t.token for t in read_demo_logins(database).tokens}
        assert all(tokens.values()), tokens
        yield app, database, tokens
        database.engine.dispose()


@pytest.fixture(scope="module")
def bridge(demo):
    """The bridge serving the demo site over HTTP; yields its base URL."""
    app, _, _ = demo
    with live_server(app) as base_url:
        yield base_url


def company_ids(database):
    company = database.tables.company
    with database.connect() as connection:
        return dict(connection.execute(sa.select(company.c.shortname, company.c.id)).all())


# ---------------------------------------------------------------------------------------------------
# newman: the plugin's Postman collection


def requests_of(items):
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


def test_collection_copy_takes_base_url_and_token_from_variables():
    """The copy must never call a fixed host or carry a real token: both come from ``--env-var``."""
    collection = json.loads(COLLECTION.read_text(encoding="utf-8"))
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert set(variables) == {"base_url", "token", "function_name"}
    assert variables["function_name"] == PROGRESS
    assert not re.fullmatch(r"[0-9a-f]{32}", variables["token"]), "a real-looking token in the copy"
    assert variables["base_url"].startswith("http://127.0.0.1:"), "the copy's default must not be a real site"
    requests = list(requests_of(collection["item"]))
    assert len(requests) == 11
    for item in requests:
        url = item["request"]["url"]
        assert url["raw"].startswith("{{base_url}}/webservice/rest/server.php"), item["name"]
        assert url["host"] == ["{{base_url}}"], item["name"]
        sent = url.get("query", []) + item["request"].get("body", {}).get("urlencoded", [])
        tokens = {p["value"] for p in sent if p["key"] == "wstoken"}
        assert tokens in ({"{{token}}"}, {"invalid_token"}), item["name"]


def newman_command(base_url, token, report):
    if not NEWMAN.exists():
        pytest.fail(f"newman is not installed ({NEWMAN} is missing): {INSTALL_HINT}.", pytrace=False)
    if shutil.which("node") is None:
        pytest.fail(f"node is not on PATH; newman needs Node.js 16+ ({INSTALL_HINT}).", pytrace=False)
    return [
        str(NEWMAN), "run", str(COLLECTION),
        "--env-var", f"base_url={base_url}",
        "--env-var", f"token={token}",
        "--env-var", f"function_name={PROGRESS}",
        "--reporters", "cli,json", "--reporter-json-export", str(report),
        "--color", "off", "--disable-unicode", "--timeout-request", "30000",
    ]  # fmt: skip


def test_plugin_postman_collection_passes_under_newman(bridge, demo, tmp_path):
    _, _, tokens = demo
    report = tmp_path / "newman.json"
    command = newman_command(bridge, tokens[NEWMAN_COMPANY], report)
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=NEWMAN_TIMEOUT)
    output = f"newman exit code {finished.returncode}\n{finished.stdout}\n{finished.stderr}"
    assert finished.returncode == 0, output
    run = json.loads(report.read_text(encoding="utf-8"))["run"]
    stats = run["stats"]
    assert run["failures"] == [], output
    assert stats["requests"] == {"total": 11, "pending": 0, "failed": 0}, output
    assert stats["assertions"]["failed"] == 0, output
    assert stats["assertions"]["total"] == 14, output  # every pm.test of the collection ran (4+4+3+1+1+1)
    assert stats["testScripts"]["failed"] == 0 and stats["prerequestScripts"]["failed"] == 0, output
    bodies = {e["item"]["name"]: json.loads(bytes(e["response"]["stream"]["data"])) for e in run["executions"]}
    assert len(bodies["1. First Call - Full Sync Test"]) == 100  # the company has more rows than one page
    assert len(bodies["Pagination Test (offset=100)"]) == 100
    assert bodies["Oversized Limit Test"]["errorcode"] == "limittoolarge"
    assert bodies["Invalid Token Test"]["errorcode"] == "invalidtoken"
    assert bodies["Invalid Function Test"]["errorcode"] == "invalidrecord"


# ---------------------------------------------------------------------------------------------------
# moodlepy: every page of a company


def param_text(text):
    """Moodle's ``PARAM_TEXT`` cleaning of a returned value (PHP ``strip_tags``), enough for the demo's names.

    Moodle fails the whole response when cleaning changes a value; the bridge cleans and logs instead
    (webservice/descriptions.py), so a course called ``Leadership <Development> & Co`` arrives as
    ``Leadership  & Co``.
    """
    return re.sub(r"<[^>]*>", "", text)


def plugin_date(timestamp):
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, ZoneInfo(SITE_TIMEZONE)).strftime("%Y-%m-%d %H:%M:%S")


def expected_items(database, companyid):
    """The company's items straight from the reporting table: live rows of its visible courses.

    The demo site sets no ``course_<id>`` toggle and no ``field_*`` toggle, so every visible course of
    the company is exposed and every field is present (asserted here rather than assumed).
    """
    t = database.tables
    r, company_course, course, settings = (
        t.local_alx_api_reporting, t.company_course, t.course, t.local_alx_api_settings,
    )  # fmt: skip
    visible = (
        sa.select(company_course.c.courseid)
        .join(course, course.c.id == company_course.c.courseid)
        .where(company_course.c.companyid == companyid, course.c.visible == 1, course.c.id != 1)
    )
    with database.connect() as connection:
        toggles = connection.execute(sa.select(settings).where(settings.c.companyid == companyid)).all()
        assert toggles == [], "the demo site was expected to leave the company settings at their defaults"
        rows = connection.execute(
            sa.select(r).where(r.c.companyid == companyid, r.c.is_deleted == 0, r.c.courseid.in_(visible))
        ).all()
    items = Counter()
    for row in rows:
        percentage = Decimal(str(row.percentage)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        item = {
            "userid": row.userid,
            "firstname": param_text(row.firstname),
            "lastname": param_text(row.lastname),
            "email": row.email,
            "courseid": row.courseid,
            "coursename": param_text(row.coursename),
            "timecompleted": plugin_date(row.timecompleted),
            "timecompleted_unix": row.timecompleted or 0,
            "timestarted": plugin_date(row.timestarted),
            "timestarted_unix": row.timestarted or 0,
            "percentage": float(percentage),
            "status": row.status,
        }
        items[tuple(item.items())] += 1
    return items


def read_every_page(client, limit):
    """Pages from ``offset=0`` until a short one, as a client that knows nothing else would read them."""
    pages, offset = [], 0
    while True:
        page = client(PROGRESS, limit=limit, offset=offset)
        assert isinstance(page, list), page
        pages.append(page)
        offset += len(page)
        if len(page) < limit:
            return pages
        assert len(pages) < 1000, "the pages never end"


@pytest.mark.parametrize("shortname", MOODLEPY_COMPANIES)
def test_moodlepy_reads_every_row_of_the_company_exactly_once(bridge, demo, shortname):
    _, database, tokens = demo
    expected = expected_items(database, company_ids(database)[shortname])
    assert sum(expected.values()) > 3 * MOODLEPY_LIMIT, "too few rows to span several pages"

    pages = read_every_page(Moodle(bridge + "/webservice/rest/server.php", tokens[shortname]), MOODLEPY_LIMIT)

    assert len(pages) > 3
    assert all(len(page) == MOODLEPY_LIMIT for page in pages[:-1]) and len(pages[-1]) < MOODLEPY_LIMIT
    served = Counter(tuple(item.items()) for page in pages for item in page)
    keys = Counter((item["userid"], item["courseid"]) for page in pages for item in page)
    assert [key for key, count in keys.items() if count > 1] == [], "a row was served twice"
    assert sorted(expected - served) == [], "rows of the company were never served"
    assert sorted(served - expected) == [], "rows were served that the company does not have"
    assert served == expected
