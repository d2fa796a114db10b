"""``populate_reporting_table.php`` and ``view_reporting_data.php``: full syncs as background jobs, clearing a
company's data, and reading the reporting rows a page at a time."""

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from alxbridge.jobs.locks import job_lock
from alxbridge.sync.affected import job_changes
from alxbridge.sync.state import read_company_state

from .support import PREFIX, XSS, post_form
from .sync_support import build_companies, count_rows, run_ids, run_job_signed_in, run_job_through, table_rows

POPULATE = f"{PREFIX}/populate_reporting_table.php"
VIEW = f"{PREFIX}/view_reporting_data.php"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


def test_the_pages_render_on_an_empty_site(admin_client):
    for path in (POPULATE, VIEW, f"{PREFIX}/sync_job.php"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
    assert "No Data Available" in admin_client.get(VIEW).get_data(as_text=True)
    assert "No sync has been started from these pages yet" in admin_client.get(f"{PREFIX}/sync_job.php").get_data(
        as_text=True
    )


@pytest.fixture(scope="module")
def companies(site):
    return build_companies(site)


@pytest.fixture(scope="module")
def populated(app, site, companies):
    """Every company populated once through the page."""
    return run_job_signed_in(app, POPULATE, {"action": "populate", "company_all": "1", "confirm": "1"})


def test_populating_all_companies_is_a_full_sync_job_with_the_right_rows(populated, site, companies):
    assert populated["kind"] == "populate" and populated["full"] and populated["companyids"] is None
    assert populated["total"] == populated["done"] == 2 and populated["percent"] == 100
    assert populated["created"] == 4 and populated["updated"] == populated["deleted"] == populated["failed"] == 0
    assert {c["companyid"]: (c["reason"], c["full"], c["created"]) for c in populated["companies"]} == {
        companies.acme: ("full run requested", True, 3),
        companies.hostile: ("full run requested", True, 1),
    }
    rows = {(userid, courseid): row for (userid, courseid, _), row in site.reporting_rows(companies.acme).items()}
    maths = companies.maths.id
    assert (rows[companies.ana, maths].status, rows[companies.ana, maths].percentage) == ("completed", Decimal(100))
    assert (rows[companies.ben, maths].status, rows[companies.ben, maths].percentage) == ("in_progress", Decimal(50))
    assert (rows[companies.cy, maths].status, rows[companies.cy, maths].percentage) == ("not_started", Decimal(0))
    assert rows[companies.ana, maths].timecompleted == site.now - 3600
    assert {row.is_deleted for row in rows.values()} == {0}


def test_the_job_page_shows_each_company_escaped(populated, admin_client, companies):
    body = admin_client.get(f"{PREFIX}/sync_job.php?job={populated['token']}").get_data(as_text=True)
    assert "Sync completed successfully" in body and 'http-equiv="refresh"' not in body
    summary = r"Full sync of all companies; started [0-9-]+ [0-9:]+, finished [0-9-]+ [0-9:]+ \(\d+ s\)\."
    assert re.search(summary, " ".join(body.split())), "the job's summary line reads without stray spaces"
    assert f'id="job-company-{companies.acme}"' in body and f'id="job-company-{companies.hostile}"' in body
    assert XSS not in body and ESCAPED in body
    assert re.search(r'id="job-created">4<', body)
    assert table_rows(body, "job-top-courses")[1:] == [
        [f"Maths (ID {companies.maths.id})", "3", "0", "0", "3"],
        [f"{ESCAPED} (ID {companies.markup_course.id})", "1", "0", "0", "1"],
    ]
    assert [row[:4] for row in table_rows(body, "job-top-users")[1:]] == [
        ["Ana Learner", "ana.learner@example.com", "1", "1"],
        ["Ben Learner", "ben.learner@example.com", "1", "1"],
        ["Cy Learner", "cy.learner@example.com", "1", "1"],
        [f"{ESCAPED} {ESCAPED}", "mallory@example.com", "1", "1"],
    ]
    (runid,) = populated["runs"]
    run = admin_client.get(f"{PREFIX}/sync_job.php?run={runid}").get_data(as_text=True)
    assert "4 created, 0 updated" in run and "admin" in run


def last_job_note(body):
    """The text of the page's "Last job" note, whitespace collapsed, and its link; ``None`` without the note."""
    if 'id="last-job"' not in body:
        return None
    note = body.split('id="last-job"')[1].split("</div>")[0]
    link = re.search(r'href="([^"]+)" id="last-job-link"', note).group(1)
    return " ".join(re.sub(r"<[^>]+>|^>", " ", note).split()), link


def test_the_page_links_to_the_results_of_its_last_finished_job(populated, admin_client):
    text, link = last_job_note(admin_client.get(POPULATE).get_data(as_text=True))
    assert re.fullmatch(
        r"Last job: Populate reporting table: full sync of all companies, finished [0-9-]+ [0-9:]+: 4 created, "
        r"0 updated, 0 deleted in 2 course\(s\) for 4 user\(s\)\. See the courses and users it changed",
        text,
    ), text
    assert link == f"{PREFIX}/sync_job.php?job={populated['token']}"
    assert last_job_note(admin_client.get(f"{PREFIX}/sync_reporting_data.php").get_data(as_text=True)) is None


def test_the_populate_page_shows_status_and_per_company_counts(populated, admin_client, site, companies):
    reporting = site.tables.local_alx_api_reporting
    with site.database.begin() as connection:  # one of Acme's four rows becomes a tombstone: 3 of 4 active
        connection.execute(
            sa.insert(reporting).values(
                userid=site.teacher, companyid=companies.acme, courseid=companies.maths.id, firstname="T",
                lastname="T", email="t@example.com", coursename="Maths", timecompleted=0, timestarted=0,
                percentage=0, status="not_started", last_updated=1, is_deleted=1, created_at=1, updated_at=1,
            )
        )  # fmt: skip
    try:
        body = admin_client.get(POPULATE).get_data(as_text=True)
    finally:
        with site.database.begin() as connection:
            connection.execute(sa.delete(reporting).where(reporting.c.userid == site.teacher))
    assert re.search(r'id="status-records">5<', body)
    assert "4 active, 1 deleted" in body
    acme = re.search(rf'<tr id="company-row-{companies.acme}">(.*?)</tr>', body, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", acme, re.S)]
    assert cells[:5] == ["Acme", "4", "3", "1", "75.0%"] and cells[6] == "Needs Cleanup"
    assert XSS not in body and ESCAPED in body


def test_populating_needs_a_company_choice_and_the_confirmation(populated, admin_client, site, companies):
    before = run_ids(site.database)
    response = post_form(admin_client, POPULATE, {"action": "populate", "confirm": "1"})
    assert response.status_code == 400
    assert "Choose the companies to populate" in response.get_data(as_text=True)
    response = post_form(admin_client, POPULATE, {"action": "populate", "company_ids": str(companies.acme)})
    assert response.status_code == 400 and "Tick" in response.get_data(as_text=True)
    response = post_form(admin_client, POPULATE, {"action": "populate", "company_ids": "99999", "confirm": "1"})
    assert response.status_code == 400 and "does not exist" in response.get_data(as_text=True)
    assert run_ids(site.database) == before


def test_populating_chosen_companies_runs_one_full_sync_per_company(populated, admin_client, site, companies):
    data = run_job_through(
        admin_client, POPULATE, {"action": "populate", "company_ids": str(companies.acme), "confirm": "1"}
    )
    assert data["status"] == "success" and data["companyids"] == [companies.acme] and data["total"] == 1
    assert data["title"] == "Populate reporting table: full sync of Acme"
    (company,) = data["companies"]
    assert (company["companyid"], company["reason"], company["full"]) == (companies.acme, "full run requested", True)
    assert company["created"] == company["updated"] == company["deleted"] == 0  # nothing changed in Moodle
    assert data["affected"] == {"courses": 0, "users": 0, "top_courses": [], "top_users": []}
    body = admin_client.get(f"{PREFIX}/sync_job.php?job={data['token']}").get_data(as_text=True)
    assert "No reporting row changed: every row was already up to date." in body
    assert 'id="job-top-courses"' not in body and 'id="job-top-users"' not in body
    text, link = last_job_note(admin_client.get(POPULATE).get_data(as_text=True))
    assert text.endswith(": no reporting row changed, every row was already up to date. See the job")
    assert link == f"{PREFIX}/sync_job.php?job={data['token']}"
    runs = site.tables.local_alxbridge_sync_run
    with site.database.connect() as connection:
        run = connection.execute(sa.select(runs).where(runs.c.id == data["runs"][0])).one()
    assert (run.mode, run.origin, run.companyid, run.status) == ("full", "admin", companies.acme, "success")


def test_a_second_start_while_a_sync_runs_is_refused(populated, admin_client, site, companies):
    before = run_ids(site.database)
    with job_lock(site.database, "sync") as lock:
        assert lock is not None
        response = post_form(admin_client, POPULATE, {"action": "populate", "company_all": "1", "confirm": "1"})
        assert response.status_code == 302 and response.headers["Location"].endswith("/populate_reporting_table.php")
        page = admin_client.get(POPULATE).get_data(as_text=True)
        assert "The sync was not started: another sync is running" in page
        response = post_form(
            admin_client, POPULATE,
            {"cleanup_action": "clear", "cleanup_companyid": str(companies.acme), "cleanup_confirm": "1"},
        )  # fmt: skip
        assert "Nothing was cleared: a sync is running" in admin_client.get(POPULATE).get_data(as_text=True)
    assert run_ids(site.database) == before
    assert len(site.reporting_rows(companies.acme)) == 3


def _company_rows(site, table, companyid):
    return count_rows(site.database, table, table.c.companyid == companyid)


def test_clear_deletes_only_the_chosen_company_and_the_next_sync_refills_it(populated, admin_client, site, companies):
    tables = site.tables
    status, cache = tables.local_alx_api_sync_status, tables.local_alx_api_cache
    with site.database.begin() as connection:
        for companyid in (companies.acme, companies.hostile):
            connection.execute(sa.insert(cache).values(
                cache_key=f"k{companyid}", companyid=companyid, cache_data="{}", cache_timestamp=site.now,
                expires_at=site.now + 3600, hit_count=0, last_accessed=site.now,
            ))  # fmt: skip
    assert _company_rows(site, status, companies.acme) == 1  # the sync's own cron_task row
    with site.database.connect() as connection:
        committed = read_company_state(connection, tables, companies.acme).committed_version
    hostile_before = site.reporting_rows(companies.hostile)

    response = post_form(admin_client, POPULATE, {"cleanup_action": "clear", "cleanup_companyid": str(companies.acme)})
    assert response.status_code == 400 and "permanently delete" in response.get_data(as_text=True)
    assert len(site.reporting_rows(companies.acme)) == 3  # nothing cleared without the confirmation

    response = post_form(
        admin_client, POPULATE,
        {"cleanup_action": "clear", "cleanup_companyid": str(companies.acme), "cleanup_confirm": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    page = admin_client.get(POPULATE).get_data(as_text=True)
    assert "Cleared company Acme: 3 reporting row(s), 1 sync status row(s) and 1 cache row(s) deleted" in page
    for table in (tables.local_alx_api_reporting, status, cache):
        assert _company_rows(site, table, companies.acme) == 0
        assert _company_rows(site, table, companies.hostile) == 1
    with site.database.connect() as connection:
        state = read_company_state(connection, tables, companies.acme)
    assert state.needs_full and state.last_full == 0 and state.tombstone_horizon > committed

    data = run_job_through(
        admin_client, f"{PREFIX}/sync_reporting_data.php", {"action": "sync_changes", "companyid": "0", "confirm": "1"}
    )
    refilled = {c["companyid"]: c for c in data["companies"]}
    assert (refilled[companies.acme]["reason"], refilled[companies.acme]["created"]) == ("first sync", 3)
    assert refilled[companies.hostile]["created"] + refilled[companies.hostile]["updated"] == 0
    assert len(site.reporting_rows(companies.acme)) == 3
    assert site.reporting_rows(companies.hostile) == hostile_before
    with site.database.begin() as connection:
        connection.execute(sa.delete(cache))


def test_the_view_page_lists_companies_with_data_and_their_numbers(populated, admin_client, companies):
    body = admin_client.get(VIEW).get_data(as_text=True)
    assert f"?companyid={companies.acme}" in body and "3 records" in body
    assert XSS not in body and ESCAPED in body
    body = admin_client.get(f"{VIEW}?companyid={companies.acme}").get_data(as_text=True)
    numbers = dict(re.findall(r'id="stat-(\w+)">(\d+)<', body))
    assert numbers == {"total": "3", "completed": "1", "users": "3", "courses": "1"}
    assert "Showing 1–3 of 3" in body
    assert admin_client.get(f"{VIEW}?companyid=99999").status_code == 404
    hostile = admin_client.get(f"{VIEW}?companyid={companies.hostile}").get_data(as_text=True)
    assert XSS not in hostile and hostile.count(ESCAPED) >= 3  # the company, the learner and the course


@pytest.mark.parametrize(
    ("status", "learners"),
    [("in_progress", ["Ben"]), ("not_started", ["Cy"]), ("completed", ["Ana"]), ("", ["Ana", "Ben", "Cy"])],
)
def test_the_status_filter_keeps_underscores(populated, admin_client, companies, status, learners):
    body = admin_client.get(f"{VIEW}?companyid={companies.acme}&status={status}").get_data(as_text=True)
    shown = sorted(re.findall(r"<td>(\w+) Learner<br>", body))
    assert shown == learners
    if status:
        assert f'<option value="{status}" selected>' in body


@pytest.fixture(scope="module")
def big_company(app, site, populated):
    """A company of 30 learners in one course, populated through the page."""
    company = site.company("Bigco")
    course = site.course("Big course", [company], modules=(1,))
    for number in range(30):
        site.enrol(site.user(f"Big{number:02d}", companies=[company]), course)
    data = run_job_signed_in(app, POPULATE, {"action": "populate", "company_ids": str(company), "confirm": "1"})
    assert data["created"] == 30
    return company, data


def test_the_top_lists_keep_the_courses_and_users_with_most_changed_rows(big_company, site):
    """Bigco's populate: 30 rows created in one course, one per learner (the lists' ties go by id)."""
    _, data = big_company
    assert (data["affected"]["courses"], data["affected"]["users"]) == (1, 30)
    assert [course[2:] for course in data["affected"]["top_courses"]] == [[30, 0, 0]]
    runs = site.tables.local_alxbridge_sync_run
    with site.database.connect() as connection:
        (version,) = connection.execute(sa.select(runs.c.version).where(runs.c.id.in_(data["runs"]))).scalars()
        learners = sorted(row.userid for row in site.reporting_rows(data["companyids"][0]).values())
        first_new_id = connection.execute(
            sa.select(sa.func.min(site.tables.local_alx_api_reporting.c.id)).where(
                site.tables.local_alx_api_reporting.c.last_updated == version
            )
        ).scalar()
        top = job_changes(connection, site.tables, [version], first_new_id, top_courses=1, top_users=3)
        older = job_changes(connection, site.tables, [version], first_new_id + 10, top_users=30)
    assert (top.courses, top.users, len(top.top_courses)) == (1, 30, 1)
    assert [user.userid for user in top.top_users] == learners[:3]
    assert sum(user.changes.created for user in older.top_users) == 20  # rows below first_new_id count as updated
    assert sum(user.changes.updated for user in older.top_users) == 10


@pytest.mark.parametrize(
    ("query", "shown", "showing"),
    [
        ("perpage=25", 25, "Showing 1–25 of 30"),
        ("perpage=25&page=2", 5, "Showing 26–30 of 30"),
        ("perpage=25&page=99", 5, "Showing 26–30 of 30"),
        ("perpage=25&page=-3", 25, "Showing 1–25 of 30"),
        ("perpage=100000", 30, "Showing 1–30 of 30"),
        ("perpage=7", 30, "Showing 1–30 of 30"),
    ],
)
def test_the_view_page_paginates_with_capped_page_sizes(admin_client, big_company, query, shown, showing):
    big_company, _ = big_company
    body = admin_client.get(f"{VIEW}?companyid={big_company}&{query}").get_data(as_text=True)
    table = body.split('id="data-table"')[1].split("</table>")[0]
    assert table.count("<tr>") - 1 == shown  # minus the header row
    assert showing in body
    if shown == 25:
        assert "page=2" in body and "perpage=25" in body


def test_actions_refuse_get(populated, admin_client, site, companies):
    before = run_ids(site.database)
    rows = site.reporting_rows()
    response = admin_client.get(f"{POPULATE}?action=populate&company_all=1&confirm=1")
    assert response.status_code == 200 and "Start Population Process" in response.get_data(as_text=True)
    response = admin_client.get(f"{POPULATE}?cleanup_action=clear&cleanup_companyid=0&cleanup_confirm=1")
    assert response.status_code == 200
    assert admin_client.get(f"{PREFIX}/manual_sync_trigger.php").status_code == 405
    assert run_ids(site.database) == before and site.reporting_rows() == rows


def test_an_unknown_or_replaced_job_is_not_found(populated, admin_client):
    assert admin_client.get(f"{PREFIX}/sync_job.php?job=0123456789abcdef").status_code == 404
    response = admin_client.get(f"{PREFIX}/sync_job.json?job=0123456789abcdef")
    assert response.status_code == 404 and "replaced" in response.get_json()["error"]
    assert admin_client.get(f"{PREFIX}/sync_job.php?run=999999").status_code == 404
