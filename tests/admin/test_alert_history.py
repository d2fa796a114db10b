"""``alert_history.php``: filters, paging, acknowledge and resolve; "n alerts pending" on the Control Center."""

import re

import pytest
import sqlalchemy as sa

from alxbridge.jobs.retention import run_retention

from .support import PREFIX, XSS, csrf_token

HISTORY = f"{PREFIX}/alert_history.php"
DAY = 86400


@pytest.fixture(autouse=True)
def clean(site):
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.local_alx_api_alerts))
        connection.execute(sa.delete(site.tables.local_alxbridge_alert_handling))


def alert(site, alert_type="performance", severity="medium", age=60, resolved=0, message="Something happened"):
    return site._insert(
        site.tables.local_alx_api_alerts, alert_type=alert_type, severity=severity, message=message,
        alert_data="{}", hostname="https://moodle.example.com", timecreated=site.now - age, resolved=resolved,
    )  # fmt: skip


def shown_ids(html):
    return [int(found) for found in re.findall(r'<tr id="alert-(\d+)"', html)]


def act(client, alertid, action, **filters):
    html = client.get(HISTORY).get_data(as_text=True)
    data = {"alertid": alertid, "action": action, "csrf_token": csrf_token(html), **filters}
    return client.post(HISTORY, data=data)


def test_filters_select_by_type_severity_status_and_period(admin_client, site):
    recent_health = alert(site, "health", "critical")
    recent_sync = alert(site, "sync", "medium")
    old_sync = alert(site, "sync", "medium", age=10 * DAY)
    resolved_sync = alert(site, "sync", "high", resolved=1)
    body = admin_client.get(HISTORY).get_data(as_text=True)  # default: the last 7 days, any type
    assert shown_ids(body) == sorted([recent_health, recent_sync, resolved_sync], reverse=True)
    by_type = admin_client.get(f"{HISTORY}?alert_type=sync&period=all").get_data(as_text=True)
    assert shown_ids(by_type) == [resolved_sync, recent_sync, old_sync]  # newest first; same time: higher id first
    assert shown_ids(admin_client.get(f"{HISTORY}?severity=critical").get_data(as_text=True)) == [recent_health]
    assert shown_ids(admin_client.get(f"{HISTORY}?status=resolved").get_data(as_text=True)) == [resolved_sync]
    body = admin_client.get(f"{HISTORY}?status=nonsense&period=all").get_data(as_text=True)
    assert "Unknown status &#39;nonsense&#39;" in body and len(shown_ids(body)) == 4


def test_pages_hold_25_alerts_newest_first(admin_client, site):
    ids = [alert(site, age=1000 - n) for n in range(30)]
    first = shown_ids(admin_client.get(HISTORY).get_data(as_text=True))
    second = shown_ids(admin_client.get(f"{HISTORY}?page=2").get_data(as_text=True))
    assert first == ids[::-1][:25] and second == ids[::-1][25:]
    assert "30 alerts match; page 2 of 2" in admin_client.get(f"{HISTORY}?page=2").get_data(as_text=True)


def test_acknowledge_then_resolve_records_who_and_when(admin_client, site):
    alertid = alert(site)
    response = act(admin_client, alertid, "acknowledge", status="pending", period="all")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("alert_history.php?page=1&status=pending&period=all")
    body = admin_client.get(f"{HISTORY}?period=all").get_data(as_text=True)
    assert f'<tr id="alert-{alertid}" data-status="acknowledged">' in body and "acknowledged by Ada Admin" in body
    assert act(admin_client, alertid, "resolve").status_code == 302
    table, handling = site.tables.local_alx_api_alerts, site.tables.local_alxbridge_alert_handling
    with site.database.connect() as connection:
        assert connection.execute(sa.select(table.c.resolved).where(table.c.id == alertid)).scalar() == 1
        row = connection.execute(sa.select(handling).where(handling.c.alertid == alertid)).one()
    assert (row.acknowledgedby, row.timeacknowledged, row.resolvedby, row.timeresolved) == (
        site.admin, site.now, site.admin, site.now,
    )  # fmt: skip
    body = admin_client.get(f"{HISTORY}?period=all").get_data(as_text=True)
    assert f'id="resolve-{alertid}"' not in body and "resolved by Ada Admin" in body


def test_refused_actions_say_why_and_change_nothing(admin_client, site):
    resolved = alert(site, resolved=1)
    act(admin_client, resolved, "acknowledge")
    assert f"Alert {resolved} is already resolved." in admin_client.get(HISTORY).get_data(as_text=True)
    act(admin_client, 999999, "resolve")
    assert "Alert 999999 does not exist" in admin_client.get(HISTORY).get_data(as_text=True)
    act(admin_client, resolved, "delete")
    assert "Unknown action" in admin_client.get(HISTORY).get_data(as_text=True)
    assert admin_client.post(HISTORY, data={"alertid": resolved, "action": "resolve"}).status_code == 400  # no CSRF


def test_messages_are_escaped(admin_client, site):
    alert(site, message=XSS)
    body = admin_client.get(HISTORY).get_data(as_text=True)
    assert XSS not in body and "&lt;script&gt;" in body


def test_control_center_counts_alerts_neither_resolved_nor_acknowledged(admin_client, site):
    alert(site, severity="critical")
    alert(site, severity="medium")
    alert(site, severity="medium")
    acknowledged = alert(site, severity="high")
    alert(site, severity="high", resolved=1)
    act(admin_client, acknowledged, "acknowledge")
    body = admin_client.get(f"{PREFIX}/control_center.php").get_data(as_text=True)
    summary = re.search(r'id="alerts-pending-summary">([^<]*)<', body).group(1)
    assert summary == "3 alerts pending (1 critical, 2 medium)"
    assert 'href="/local/alx_report_api/alert_history.php?status=pending&amp;period=all"' in body


def test_retention_deletes_who_handled_an_alert_with_the_alert(admin_client, site):
    old, recent = alert(site, age=40 * DAY), alert(site)
    act(admin_client, old, "acknowledge")
    act(admin_client, recent, "acknowledge")
    site.plugin_config("log_retention_days", 30)
    counts = run_retention(site.database)
    assert counts["alerts"] == 1 and counts["alert handling"] == 1
    handling = site.tables.local_alxbridge_alert_handling
    with site.database.connect() as connection:
        assert connection.execute(sa.select(handling.c.alertid)).scalars().all() == [recent]


def test_every_alert_list_shows_the_same_status(admin_client, site):
    acknowledged, resolved, pending = alert(site, age=30), alert(site, age=20, resolved=1), alert(site, age=10)
    act(admin_client, acknowledged, "acknowledge")
    for page, table in (("monitoring_dashboard_new.php?tab=security", "recent-alerts"),
                        ("test_alerts.php", "recent-alerts")):  # fmt: skip
        html = admin_client.get(f"{PREFIX}/{page}").get_data(as_text=True)
        section = html[html.index(f'id="{table}"') :]
        statuses = re.findall(r'<span class="badge text-bg-\w+">(Pending|Acknowledged|Resolved)</span>', section)
        assert statuses[:3] == ["Pending", "Resolved", "Acknowledged"], page  # newest first
    assert pending > resolved > acknowledged


def test_the_unified_dashboards_open_alerts_say_how_many_are_still_pending(admin_client, site):
    alert(site, severity="critical")
    acknowledged = alert(site)
    alert(site, resolved=1)
    assert act(admin_client, acknowledged, "acknowledge").status_code == 302
    body = admin_client.get(f"{PREFIX}/unified_monitoring_dashboard.php").get_data(as_text=True)
    card = body[body.index('id="open-alerts"') :][:400]
    assert ">2<" in card and "1 critical, 1 pending (not acknowledged)" in card
