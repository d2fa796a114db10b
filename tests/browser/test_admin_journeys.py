"""What an admin does in the pages, done in the browser: each journey checks its effect outside the browser."""

import csv
import io
import json
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from .conftest import PREFIX, screenshot

PROGRESS = "local_alx_report_api_get_course_progress"


def progress_items(base_url, token):
    query = f"wstoken={token}&wsfunction={PROGRESS}&moodlewsrestformat=json&limit=50"
    url = f"{base_url}/webservice/rest/server.php?{query}"  # http://127.0.0.1:<port> of the live server
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def company_with_token(demo):
    """``(companyid, token)`` of the first demo company that has a usable token."""
    _, logins, app = demo
    entry = next(t for t in logins.tokens if t.token)
    database = app.extensions["alx_database"]
    with database.connect() as connection:
        company = database.tables.company
        companyid = connection.execute(sa.select(company.c.id).where(company.c.shortname == entry.company)).scalar()
    return companyid, entry.token


def test_turning_a_field_off_removes_it_from_the_api_response(admin_page, demo):
    page, watcher = admin_page
    base_url = demo[0]
    companyid, token = company_with_token(demo)
    assert all("email" in item for item in progress_items(base_url, token))
    page.goto(f"{PREFIX}/company_settings.php?companyid={companyid}")
    page.uncheck("#field_email")
    page.click("#save-settings")
    page.wait_for_url(f"**/company_settings.php?companyid={companyid}")
    assert "Email Address: on → off" in page.inner_text("main")
    screenshot(page, "journey_company_settings_saved")
    items = progress_items(base_url, token)
    assert items and all("email" not in item and "userid" in item for item in items)
    page.check("#field_email")  # leave the site as it was for the other journeys
    page.click("#save-settings")
    page.wait_for_url(f"**/company_settings.php?companyid={companyid}")
    assert all("email" in item for item in progress_items(base_url, token))
    assert watcher.problems == []


def test_an_exported_csv_reads_back_with_the_reporting_rows(admin_page, demo):
    page, watcher = admin_page
    _, _, app = demo
    page.goto(f"{PREFIX}/export_data.php")
    page.check("#timerange-all")
    with page.expect_download() as download_info:
        page.click("button[name=format][value=csv]")
    download = download_info.value
    assert download.suggested_filename.startswith("alx_api_report_") and download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    header_at = next(i for i, row in enumerate(rows) if row[:3] == ["ID", "User ID", "Company ID"])
    data = [row for row in rows[header_at + 1 :] if row and row[0].isdigit()]
    database = app.extensions["alx_database"]
    with database.connect() as connection:
        reporting = database.tables.local_alx_api_reporting
        active = connection.execute(sa.select(sa.func.count()).where(reporting.c.is_deleted == 0)).scalar()
    assert len(data) == active > 0
    screenshot(page, "journey_export")
    assert watcher.problems == []


def test_a_sync_started_from_the_page_runs_in_the_background_to_the_end(admin_page, demo):
    page, watcher = admin_page
    page.goto(f"{PREFIX}/sync_reporting_data.php")
    page.check("#confirm1")
    page.click("#sync-changes-form button[type=submit]")
    page.wait_for_url("**/sync_job.php?**")
    page.wait_for_selector("#job-finished", timeout=60_000)  # the page follows the job until it ends
    assert page.inner_text("#job-status").strip() == "Finished"
    assert page.inner_text("#job-done") == page.inner_text("#job-total")
    screenshot(page, "journey_sync_finished")
    assert watcher.problems == []
