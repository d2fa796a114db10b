"""``sync_reporting_data.php``, ``manual_sync_trigger.php``, ``auto_sync_status.php`` and the job status page:
incremental, full and cleanup syncs as background jobs, and the auto-sync numbers on a hand-built history."""

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alxbridge.db.upsert import upsert
from alxbridge.jobs.locks import job_lock
from alxbridge.sync.state import read_company_state

from ..conftest import make_app
from .support import PREFIX, XSS, post_form
from .sync_support import build_companies, run_ids, run_job_signed_in, run_job_through, table_rows

SYNC = f"{PREFIX}/sync_reporting_data.php"
TRIGGER = f"{PREFIX}/manual_sync_trigger.php"
STATUS = f"{PREFIX}/auto_sync_status.php"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
ZONE = ZoneInfo("Asia/Kolkata")
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)  # no daylight saving: every local day is 86400 s


@pytest.fixture(scope="module")
def app(database_url):
    return make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute", ALX_TIMEZONE="Asia/Kolkata")


def test_the_pages_render_on_an_empty_site(admin_client):
    assert admin_client.get(SYNC).status_code == 200
    body = admin_client.get(STATUS).get_data(as_text=True)
    assert 'data-status="Not running"' in body and "it has never started" in body and "No sync has run yet." in body


@pytest.fixture(scope="module")
def companies(site):
    return build_companies(site)


@pytest.fixture(scope="module")
def triggered(app, site, companies):
    """The hourly sync, started once with the Auto-Sync page's "Trigger Sync Now" button."""
    return run_job_signed_in(app, TRIGGER, {}, page=STATUS)


def test_the_trigger_runs_the_hourly_sync_of_every_company(triggered, site, companies):
    assert (triggered["kind"], triggered["full"], triggered["companyids"]) == ("trigger", False, None)
    assert {c["companyid"]: (c["reason"], c["created"]) for c in triggered["companies"]} == {
        companies.acme: ("first sync", 3),
        companies.hostile: ("first sync", 1),
    }
    assert triggered["affected"] == {
        "courses": 2, "users": 4,
        "top_courses": [[companies.maths.id, "Maths", 3, 0, 0], [companies.markup_course.id, XSS, 1, 0, 0]],
        "top_users": [
            [companies.ana, "Ana Learner", "ana.learner@example.com", 1, 1, 0, 0],
            [companies.ben, "Ben Learner", "ben.learner@example.com", 1, 1, 0, 0],
            [companies.cy, "Cy Learner", "cy.learner@example.com", 1, 1, 0, 0],
            [companies.mallory, f"{XSS} {XSS}", "mallory@example.com", 1, 1, 0, 0],
        ],
    }  # fmt: skip
    config = site.tables.config_plugins
    with site.database.connect() as connection:
        stats = connection.execute(sa.select(config.c.value).where(config.c.name == "last_sync_stats")).scalar()
    assert json.loads(stats)["companies_processed"] == 2 and json.loads(stats)["total_records_created"] == 4


def test_sync_changes_syncs_only_what_changed(triggered, admin_client, site, companies):
    site.complete_module(companies.cy, companies.maths.modules[1])
    data = run_job_through(admin_client, SYNC, {"action": "sync_changes", "companyid": companies.acme, "confirm": "1"})
    (acme,) = data["companies"]
    assert (acme["companyid"], acme["full"], acme["updated"], acme["created"]) == (companies.acme, False, 1, 0)
    assert acme["reason"].endswith("row(s), 0 course(s) changed")  # the shortlist re-reads the last hour
    assert data["affected"] == {
        "courses": 1, "users": 1, "top_courses": [[companies.maths.id, "Maths", 0, 1, 0]],
        "top_users": [[companies.cy, "Cy Learner", "cy.learner@example.com", 1, 0, 1, 0]],
    }  # fmt: skip
    body = admin_client.get(f"{PREFIX}/sync_job.php?job={data['token']}").get_data(as_text=True)
    assert table_rows(body, "job-top-courses") == [
        ["Course", "Created", "Updated", "Deleted", "Total"], [f"Maths (ID {companies.maths.id})", "0", "1", "0", "1"],
    ]  # fmt: skip
    assert table_rows(body, "job-top-users")[1:] == [["Cy Learner", "cy.learner@example.com", "1", "0", "1", "0"]]
    assert re.search(r'id="affected-courses">1<.*id="affected-users">1<', body, re.S)
    assert "0 created, 1 updated, 0 deleted in 1 course(s) for 1 user(s)." in " ".join(
        admin_client.get(SYNC).get_data(as_text=True).split()
    )
    row = site.reporting_rows(companies.acme)[companies.cy, companies.maths.id, companies.acme]
    assert (row.status, str(row.percentage)) == ("in_progress", "50.00")


def test_a_full_company_sync_needs_a_company_and_the_confirmation(triggered, admin_client, site, companies):
    before = run_ids(site.database)
    response = post_form(admin_client, SYNC, {"action": "sync_full", "companyid": "", "confirm": "1"})
    assert response.status_code == 400 and "Choose a company." in response.get_data(as_text=True)
    response = post_form(admin_client, SYNC, {"action": "sync_full", "companyid": companies.acme})
    assert response.status_code == 400 and "Tick the confirmation box" in response.get_data(as_text=True)
    response = post_form(admin_client, SYNC, {"action": "sync_everything", "confirm": "1"})
    assert response.status_code == 400 and "Unknown action" in response.get_data(as_text=True)
    assert run_ids(site.database) == before
    data = run_job_through(admin_client, SYNC, {"action": "sync_full", "companyid": companies.acme, "confirm": "1"})
    (acme,) = data["companies"]
    assert (acme["reason"], acme["full"], acme["created"] + acme["updated"] + acme["deleted"]) == (
        "full run requested", True, 0,
    )  # fmt: skip


def _stray_row(site, companyid, courseid):
    """A live row of a user who was never a member of the company, as the PHP plugin could leave behind."""
    reporting = site.tables.local_alx_api_reporting
    with site.database.connect() as connection:
        version = read_company_state(connection, site.tables, companyid).committed_version
    with site.database.begin() as connection:
        connection.execute(sa.insert(reporting).values(
            userid=site.teacher, companyid=companyid, courseid=courseid, firstname="Tom", lastname="Teacher",
            email="t@example.com", coursename="Course", timecompleted=0, timestarted=0, percentage=0,
            status="not_started", last_updated=version, is_deleted=0, created_at=1, updated_at=1,
        ))  # fmt: skip
    return site.teacher, courseid, companyid


def _run_version(site, runid):
    runs = site.tables.local_alxbridge_sync_run
    with site.database.connect() as connection:
        return connection.execute(sa.select(runs.c.version).where(runs.c.id == runid)).scalar()


def test_cleanup_soft_deletes_only_orphaned_rows(triggered, admin_client, site, companies):
    acme_stray = _stray_row(site, companies.acme, companies.maths.id)
    hostile_stray = _stray_row(site, companies.hostile, companies.markup_course.id)
    try:
        page = admin_client.get(SYNC).get_data(as_text=True)
        orphans = page.split('id="orphan-counts"')[1].split("</table>")[0]
        by_name = [(ESCAPED, "1"), ("Acme", "1")]
        assert re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td></tr>", orphans) == by_name

        run_job_through(admin_client, SYNC, {"action": "sync_changes", "companyid": "0", "confirm": "1"})
        before = site.reporting_rows()
        assert before[acme_stray].is_deleted == 0  # no membership changed: the incremental sync leaves it

        data = run_job_through(admin_client, SYNC, {"action": "cleanup", "companyid": companies.acme, "confirm": "1"})
        assert data["kind"] == "cleanup" and [c["companyid"] for c in data["companies"]] == [companies.acme]
        assert (data["deleted"], data["created"], data["updated"]) == (1, 0, 0)
        assert data["affected"]["top_users"] == [[site.teacher, "Tom Teacher", "t@example.com", 1, 0, 0, 1]]
        after = site.reporting_rows()
        assert (after[acme_stray].is_deleted, after[acme_stray].last_updated) == (
            1,
            _run_version(site, data["runs"][0]),
        )
        assert {k: r for k, r in after.items() if k != acme_stray} == {
            k: r for k, r in before.items() if k != acme_stray
        }

        data = run_job_through(admin_client, SYNC, {"action": "cleanup", "companyid": "0", "confirm": "1"})
        assert data["deleted"] == 1 and site.reporting_rows()[hostile_stray].is_deleted == 1
        assert "No orphaned rows." in admin_client.get(SYNC).get_data(as_text=True)
    finally:
        reporting = site.tables.local_alx_api_reporting
        with site.database.begin() as connection:
            connection.execute(sa.delete(reporting).where(reporting.c.userid == site.teacher))


def test_a_start_while_a_sync_runs_is_refused(triggered, admin_client, site, companies):
    before = run_ids(site.database)
    with job_lock(site.database, "sync") as lock:
        assert lock is not None
        response = post_form(admin_client, SYNC, {"action": "sync_changes", "companyid": "0", "confirm": "1"})
        assert response.headers["Location"].endswith("/sync_reporting_data.php")
        assert "another sync is running" in admin_client.get(SYNC).get_data(as_text=True)
        response = post_form(admin_client, TRIGGER, page=STATUS)
        assert response.headers["Location"].endswith("/auto_sync_status.php")
        assert "another sync is running" in admin_client.get(STATUS).get_data(as_text=True)
    assert run_ids(site.database) == before


def _write_job_row(site, **values):
    with site.database.begin() as connection:
        upsert(connection, site.tables.local_alxbridge_job, {"name": "admin-sync"}, values)


def test_a_running_job_refreshes_itself_and_a_dead_one_is_interrupted(triggered, admin_client, site, companies):
    message = {"token": "00000000000000aa", "kind": "sync_full", "title": "Full sync of company Acme", "full": True,
               "companyids": [companies.acme], "total": 1, "runs": [], "error": None, "companies": []}  # fmt: skip
    _write_job_row(site, last_status="running", last_message=json.dumps(message), timestarted=site.now, timefinished=0)
    url = f"{PREFIX}/sync_job.php?job=00000000000000aa"
    with job_lock(site.database, "sync"):
        body = admin_client.get(url).get_data(as_text=True)
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in body
        assert "This page refreshes itself" in body and re.search(r'id="job-done">0<', body)
        data = admin_client.get(f"{PREFIX}/sync_job.json?job=00000000000000aa").get_json()
        assert (data["running"], data["percent"], data["done"], data["total"]) == (True, 0, 0, 1)
        assert "A sync started from these pages is running" in admin_client.get(SYNC).get_data(as_text=True)
    body = admin_client.get(url).get_data(as_text=True)
    assert "Interrupted" in body and 'http-equiv="refresh"' not in body
    assert admin_client.get(f"{PREFIX}/sync_job.json?job=00000000000000aa").get_json()["status"] == "interrupted"


def test_the_sync_pages_escape_names(triggered, admin_client, companies):
    for url in (SYNC, STATUS, f"{STATUS}?x=1"):
        body = admin_client.get(url).get_data(as_text=True)
        assert XSS not in body and ESCAPED in body, url


def test_actions_refuse_get(triggered, admin_client, site, companies):
    before = run_ids(site.database)
    rows = site.reporting_rows()
    response = admin_client.get(f"{SYNC}?action=sync_full&companyid={companies.acme}&confirm=1")
    assert response.status_code == 200 and "Full Company Sync" in response.get_data(as_text=True)
    assert admin_client.get(f"{SYNC}?action=cleanup&companyid=0&confirm=1").status_code == 200
    assert admin_client.get(TRIGGER).status_code == 405
    assert run_ids(site.database) == before and site.reporting_rows() == rows


@pytest.fixture
def history(site, companies):
    """A hand-made week of runs, scheduler slots and last-run statistics; the real run history comes back after."""
    tables = site.tables
    runs, jobs = tables.local_alxbridge_sync_run, tables.local_alxbridge_job
    now = site.now
    midnight = int(datetime.fromtimestamp(now, ZONE).replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    made = [  # (status, started, seconds)
        ("success", midnight, 4),
        ("failed", midnight + 1, 3),
        ("running", midnight + 2, None),
        ("success", midnight - 7200, 10),
        ("success", midnight - 3600, 20),
        ("aborted", midnight - 2 * 86400 - 3600, 13),
        ("success", midnight - 7 * 86400 - 60, 30),  # eight days ago: outside the week
    ]
    with site.database.begin() as connection:
        saved = connection.execute(sa.select(runs)).mappings().all()
        connection.execute(sa.delete(runs))
        for status, started, seconds in made:
            connection.execute(sa.insert(runs).values(
                mode="auto", origin="scheduler", companyid=0, version=started, status=status, host="h:1",
                timestarted=started, timefinished=0 if seconds is None else started + seconds,
                companies=2, message="hand-made",
            ))  # fmt: skip
        for name, slot in (("sync", now // 3600 * 3600), ("alerts", now - 3 * 900)):
            upsert(connection, jobs, {"name": name}, {"last_slot": slot, "last_status": "success",
                                                      "timestarted": slot, "timefinished": slot + 5})  # fmt: skip
    site.plugin_config("last_auto_sync", 1763794800)  # 2025-11-22 12:30 in Kolkata
    site.plugin_config("last_sync_stats", json.dumps({
        "companies_processed": 3, "total_users_updated": 4, "total_records_updated": 5, "total_records_created": 6,
        "total_records_deleted": 2, "total_errors": 1, "companies_with_errors": [7],
    }))  # fmt: skip
    site.company_setting(companies.acme, "field_email", 1)
    yield {"now": now, "midnight": midnight}
    with site.database.begin() as connection:
        connection.execute(sa.delete(runs))
        if saved:
            connection.execute(sa.insert(runs), [dict(row) for row in saved])
        connection.execute(sa.update(jobs).where(jobs.c.name.in_(("sync", "alerts"))).values(last_slot=0))
    settings = tables.local_alx_api_settings
    with site.database.begin() as connection:
        connection.execute(sa.delete(settings).where(settings.c.companyid == companies.acme))


def test_auto_sync_status_numbers_are_hand_computed(triggered, history, admin_client, companies):
    body = admin_client.get(STATUS).get_data(as_text=True)
    cards = dict(re.findall(r'id="([\w-]+)">([^<]*)<', body.split('id="sync-cards"')[1].split("</form>")[0]))
    local_now = datetime.fromtimestamp(history["now"], ZONE)
    next_hour = (local_now.replace(minute=0, second=0) + timedelta(hours=1)).strftime("%H:%M")
    assert {key: cards[key] for key in (
        "companies-processed", "users-updated", "records-updated", "records-created", "sync-errors", "last-sync",
        "next-sync", "task-status",
    )} == {
        "companies-processed": "3", "users-updated": "4", "records-updated": "5", "records-created": "6",
        "sync-errors": "1", "last-sync": "12:30", "next-sync": next_hour, "task-status": "On schedule",
    }  # fmt: skip
    assert "text-danger" in body.split('id="sync-errors"')[0].rsplit('class="card', 1)[1]
    assert (
        'data-status="Late"' in body
        and "alerts: late, retention: never ran" in body
        and re.search(r'id="api-configured">1<', body)
        and re.search(r'id="total-companies">2<', body)
    )
    assert re.search(r'id="average-run">10.0 s<', body)  # (4 + 3 + 10 + 20 + 13) / 5 runs that ended

    today = local_now.date()
    labels = [(today - timedelta(days=back)).strftime("%a %d %b") for back in range(6, -1, -1)]
    assert table_rows(body, "sync-trend-table")[1:] == [
        [label, str(total), str(ok)]
        for label, total, ok in zip(labels, (0, 0, 0, 1, 0, 2, 2), (0, 0, 0, 0, 0, 2, 1), strict=True)
    ]
    trend = dict(re.findall(r'<dd id="trend-([\w-]+)">([^<]*)<', body))
    assert trend == {"total": "5", "successful": "3", "rate": "60.0%", "per-day": "0.7"}

    scheduler = {row[0]: row[-1] for row in table_rows(body, "scheduler")[1:]}
    assert scheduler == {"sync": "On schedule", "alerts": "Late", "retention": "Never ran"}
    acme = next(row for row in table_rows(body, "company-sync") if row[0] == "Acme")
    assert acme[1:5] == ["3", "1", "2", "0"] and acme[-1] == "View Data"
    assert len(table_rows(body, "recent-runs")) == 1 + 7
