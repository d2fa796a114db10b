"""One scheduler health on every page, in the site's timezone (Moodle's ``timezone``, here Asia/Kolkata, UTC+05:30).

The scheduler records its start and each job's scheduled slot in ``local_alxbridge_job``; these tests write
those rows as a scheduler would, relative to the site's fixed clock.
"""

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alxbridge.db.upsert import upsert
from alxbridge.jobs.runner import SCHEDULER_ROW

from .support import PREFIX

KOLKATA = ZoneInfo("Asia/Kolkata")
PAGES = {
    "auto_sync_status.php": "scheduler-health",
    "monitoring_dashboard_new.php": "scheduler-health",
    "unified_monitoring_dashboard.php": "unified-scheduler-health",
    "control_center.php": "scheduler-health",
}


@pytest.fixture(autouse=True)
def site_in_kolkata(site):
    site.core_config("timezone", "Asia/Kolkata")
    yield
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.local_alxbridge_job))
        connection.execute(sa.delete(site.tables.local_alxbridge_sync_run))


def job_row(site, name, **values):
    with site.database.begin() as connection:
        upsert(connection, site.tables.local_alxbridge_job, {"name": name}, values)


def scheduler_started(site, ago, zone="Asia/Kolkata"):
    job_row(site, SCHEDULER_ROW, last_status="started", timestarted=site.now - ago,
            last_message=json.dumps({"timezone": zone, "host": "web1", "pid": 7}))  # fmt: skip


def recent_cli_sync(site):
    site._insert(site.tables.local_alxbridge_sync_run, mode="auto", origin="cli", status="success", host="h",
                 timestarted=site.now - 600, timefinished=site.now - 590, companies=1)  # fmt: skip


def statuses(client):
    """``{page: the scheduler's status it shows}``."""
    found = {}
    for page, element in PAGES.items():
        html = client.get(f"{PREFIX}/{page}").get_data(as_text=True)
        found[page] = re.search(rf'id="{element}" data-status="([^"]+)"', html).group(1)
    return found


def test_a_scheduler_that_never_started_is_not_running_on_every_page(admin_client, site):
    recent_cli_sync(site)  # fresh data from the command line: the "Healthy" beside "never started"
    assert set(statuses(admin_client).values()) == {"Not running"}
    dashboard = admin_client.get(f"{PREFIX}/monitoring_dashboard_new.php").get_data(as_text=True)
    assert re.search(r'id="sync-status">Not scheduled<', dashboard)
    assert "it has never started" in admin_client.get(f"{PREFIX}/auto_sync_status.php").get_data(as_text=True)


def test_a_scheduler_started_before_its_first_slot_is_running(admin_client, site):
    scheduler_started(site, ago=300)
    recent_cli_sync(site)
    assert set(statuses(admin_client).values()) == {"Running"}
    status = admin_client.get(f"{PREFIX}/auto_sync_status.php").get_data(as_text=True)
    states = re.findall(r'<tr id="job-(\w+)">.*?text-bg-\w+">([^<]+)</span>', status, re.S)
    assert states == [("sync", "First run due"), ("alerts", "First run due"), ("retention", "First run due")]
    dashboard = admin_client.get(f"{PREFIX}/monitoring_dashboard_new.php").get_data(as_text=True)
    assert re.search(r'id="sync-status">Healthy<', dashboard)


def test_a_job_that_missed_its_slots_makes_the_scheduler_late(admin_client, site):
    scheduler_started(site, ago=3 * 3600)
    job_row(site, "sync", last_slot=site.now // 3600 * 3600)
    job_row(site, "alerts", last_slot=site.now // 900 * 900 - 3600)  # four quarters missed
    job_row(site, "retention", last_slot=site.now - 3600)
    assert set(statuses(admin_client).values()) == {"Late"}
    assert "alerts: late;" in admin_client.get(f"{PREFIX}/auto_sync_status.php").get_data(as_text=True)


def test_times_and_schedules_are_in_the_site_timezone(admin_client, site):
    scheduler_started(site, ago=300)
    local = datetime.fromtimestamp(site.now, KOLKATA)
    next_hour = local.replace(minute=0, second=0).timestamp() + 3600
    expected = datetime.fromtimestamp(next_hour, KOLKATA).strftime("%H:%M")
    for page in PAGES:
        html = admin_client.get(f"{PREFIX}/{page}").get_data(as_text=True)
        sentence = " ".join(re.sub(r"<[^>]+>", " ", html.split(f'id="{PAGES[page]}"')[1].split("</span>\n")[0]).split())
        assert f"next hourly sync {expected}. Times in Asia/Kolkata." in sentence, page
    status = admin_client.get(f"{PREFIX}/auto_sync_status.php").get_data(as_text=True)
    assert re.search(rf'id="next-sync">{expected}<', status)
    assert "hourly, at minute 0 (Asia/Kolkata)" in status


def test_a_scheduler_started_on_another_zone_is_asked_to_restart(admin_client, site):
    scheduler_started(site, ago=300, zone="UTC")
    html = admin_client.get(f"{PREFIX}/auto_sync_status.php").get_data(as_text=True)
    assert "The scheduler started on UTC time: restart it to follow the site's timezone." in " ".join(html.split())
