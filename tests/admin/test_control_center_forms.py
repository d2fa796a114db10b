"""The Control Center's tabs: server-side tab bar, Company Management form, links, and the System Configuration form."""

import pytest
import sqlalchemy as sa

from alxbridge.moodle.plugin_settings import PLUGIN, read_plugin_settings
from alxbridge.moodle.plugin_task import PHP_TASKS

from .form_support import read_form, submit
from .support import PREFIX, XSS

CC = "/control_center.php"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
TICKED, UNTICKED = ["0", "1"], ["0"]


@pytest.fixture(scope="module")
def acme(site):
    company = site.company("Acme Learning")
    alice = site.user("Alice", "Able", companies=[company])
    site.enrol(alice, site.course("Maths", companies=[company]))
    return company


@pytest.fixture(autouse=True)
def clean(site):
    yield
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.local_alx_api_settings))
        connection.execute(sa.delete(site.tables.config_plugins))
        connection.execute(sa.delete(site.tables.local_alx_api_logs))


def html_of(client, query):
    response = client.get(f"{PREFIX}{CC}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def plugin_config(site):
    config = site.tables.config_plugins
    with site.database.connect() as connection:
        rows = connection.execute(sa.select(config.c.name, config.c.value).where(config.c.plugin == PLUGIN))
        return dict(rows.all())


def company_rows(site, companyid):
    table = site.tables.local_alx_api_settings
    with site.database.connect() as connection:
        query = sa.select(table.c.setting_name, table.c.setting_value).where(table.c.companyid == companyid)
        return dict(connection.execute(query).all())


# -- tab bar ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tab", "marker"),
    [
        ("overview", None),
        ("companies", "Select Company"),
        ("data", 'href="populate_reporting_table.php"'),
        ("monitoring", 'href="monitoring_dashboard_new.php?tab=security"'),
        ("settings", 'id="config-form"'),
    ],
)
def test_each_tab_is_a_server_side_link(admin_client, tab, marker):
    html = html_of(admin_client, f"?tab={tab}")
    assert f'href="{PREFIX}{CC}?tab={tab}" aria-current="page"' in html
    assert 'id="total-records"' in html  # the header stats stay on every tab
    if marker:
        assert marker in html


def test_an_unknown_tab_shows_the_overview(admin_client):
    html = html_of(admin_client, "?tab=nonsense")
    assert f'href="{PREFIX}{CC}?tab=overview" aria-current="page"' in html


def test_data_and_monitoring_tabs_link_to_their_pages(admin_client):
    data = html_of(admin_client, "?tab=data")
    assert 'href="populate_reporting_table.php"' in data and 'href="sync_reporting_data.php"' in data
    monitoring = html_of(admin_client, "?tab=monitoring")
    for tab in ("autosync", "performance", "security"):
        assert f'href="monitoring_dashboard_new.php?tab={tab}"' in monitoring


def test_quick_actions_link_to_pages_and_moodle(admin_client):
    html = html_of(admin_client, "?tab=settings")
    for href in (
        f"{PREFIX}/company_settings.php", f"{PREFIX}/create_token.php", "test_email_alert.php", "export_data.php",
        "/admin/webservice/tokens.php", "/admin/settings.php?section=externalservices",
        "/admin/settings.php?section=local_alx_report_api",
    ):  # fmt: skip
        assert f'href="{href}"' in html


# -- Company Management -------------------------------------------------------------------------------


def test_company_tab_saves_with_settings_action_and_returns_to_the_tab(admin_client, site, acme):
    query = f"?tab=companies&companyid={acme}"
    action, data = read_form(html_of(admin_client, query), "company-settings-form")
    assert action == f"{PREFIX}{CC}?tab=companies&companyid={acme}"
    assert data["settings_action"] == ["save"] and "action" not in data
    assert 'id="copy-template-form"' not in html_of(admin_client, query)  # only company_settings.php offers it

    response = submit(
        admin_client, f"{CC}{query}", "company-settings-form", {"field_status": UNTICKED, "rate_limit": "40"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{CC}?tab=companies&companyid={acme}")
    assert company_rows(site, acme) == {"field_status": 0, "rate_limit": 40}
    html = html_of(admin_client, query)
    assert "Settings of Acme Learning: 2 changes saved. Completion Status: on → off; " in html
    assert "Rate Limit (Requests/Day): global limit → 40." in html


def test_company_tab_reports_invalid_values_and_saves_nothing(admin_client, site, acme):
    response = submit(
        admin_client, f"{CC}?tab=companies&companyid={acme}", "company-settings-form",
        {"field_status": UNTICKED, "sync_window_hours": "168"},
    )  # fmt: skip
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Incremental Window (Hours): 168 is out of range; enter a whole number from 1 to 127" in html
    assert f'href="{PREFIX}{CC}?tab=companies" aria-current="page"' in html
    assert company_rows(site, acme) == {}


def test_company_tab_shows_todays_usage_against_the_global_limit(admin_client, site, acme):
    site.plugin_config("rate_limit", "8")
    alice = company_users(site, acme)[0]
    site.api_call(alice)
    site.api_call(alice, error="Invalid limit")
    html = html_of(admin_client, f"?tab=companies&companyid={acme}")
    assert "2 requests by 1 token owner." in html and "Busiest: 2 / 8 (25.0%), OK." in html  # the global 8
    assert 'placeholder="Using global limit: 8"' in html


def company_users(site, companyid):
    members = site.tables.company_users
    with site.database.connect() as connection:
        return connection.execute(sa.select(members.c.userid).where(members.c.companyid == companyid)).scalars().all()


def test_company_tab_escapes_names(admin_client, site):
    company = site.company(XSS)
    site.course(XSS, companies=[company])
    html = html_of(admin_client, f"?tab=companies&companyid={company}")
    assert XSS not in html and f"API Settings for: {ESCAPED}" in html and f">{ESCAPED}</label>" in html


# -- System Configuration -----------------------------------------------------------------------------


def test_configuration_form_shows_the_defaults(admin_client):
    _, data = read_form(html_of(admin_client, "?tab=settings"), "config-form")
    assert data["config_action"] == ["save"]
    expected = {
        "rate_limit": ["100"], "max_records": ["1000"], "allow_get_method": UNTICKED, "enable_alerting": UNTICKED,
        "alert_threshold": ["medium"], "alert_emails": [""], "cache_ttl": ["3600"], "alert_cooldown": ["60"],
        "log_retention_days": ["90"], "high_api_usage_threshold": ["200"], "health_score_threshold": ["70"],
        "db_response_time_threshold": ["200"],
    }  # fmt: skip
    assert {name: data[name] for name in expected} == expected


def test_configuration_round_trip(admin_client, site):
    changes = {
        "rate_limit": "0", "max_records": "500", "allow_get_method": TICKED, "enable_alerting": TICKED,
        "alert_threshold": "high", "alert_emails": "ops@example.com,\n team@example.org , ops@example.com",
        "alert_cooldown": "15", "log_retention_days": "30", "health_score_threshold": "60",
    }  # fmt: skip
    response = submit(admin_client, f"{CC}?tab=settings", "config-form", changes)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{CC}?tab=settings")
    assert plugin_config(site) == {
        "rate_limit": "0", "max_records": "500", "allow_get_method": "1", "enable_alerting": "1",
        "enable_email_alerts": "1", "alert_threshold": "high", "alert_emails": "ops@example.com, team@example.org",
        "alert_cooldown": "15", "log_retention_days": "30", "health_score_threshold": "60",
    }  # fmt: skip
    with site.database.connect() as connection:
        settings = read_plugin_settings(connection, site.tables)
    assert settings.rate_limit is None and settings.alert_emails == ("ops@example.com", "team@example.org")
    assert settings.alert_cooldown_minutes == 15 and settings.enable_email_alerts

    html = html_of(admin_client, "?tab=settings")
    assert "System configuration: 9 changes saved. Global Rate Limit (Requests/Day): 100 → 0 (unlimited); " in html
    _, shown = read_form(html, "config-form")
    assert (
        shown["max_records"] == ["500"] and shown["alert_threshold"] == ["high"] and shown["allow_get_method"] == TICKED
    )

    # Saving the same values again changes nothing; switching alerting off switches e-mail alerts off with it.
    assert submit(admin_client, f"{CC}?tab=settings", "config-form").status_code == 302
    assert "System configuration: nothing changed." in html_of(admin_client, "?tab=settings")
    assert submit(admin_client, f"{CC}?tab=settings", "config-form", {"enable_alerting": UNTICKED}).status_code == 302
    assert plugin_config(site)["enable_alerting"] == "0" and plugin_config(site)["enable_email_alerts"] == "0"


def test_invalid_configuration_is_reported_and_nothing_saved(admin_client, site):
    site.plugin_config("max_records", "2000")
    changes = {
        "rate_limit": "20000", "max_records": "50", "alert_threshold": "urgent", "health_score_threshold": "0",
        "alert_emails": "ops@example.com, not-an-address, x@y, <b>@example.com", "max_records_extra": "1",
    }  # fmt: skip
    response = submit(admin_client, f"{CC}?tab=settings", "config-form", changes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for message in (
        "Global Rate Limit (Requests/Day): 20000 is out of range; enter a whole number from 0 to 10000.",
        "Max Records per Request: 50 is out of range; enter a whole number from 100 to 10000.",
        "Health Score Alert Threshold: 0 is out of range; enter a whole number from 1 to 100.",
        "Alert Severity Threshold: choose one of low (",
        "Alert Email Recipients: not valid e-mail addresses: &#34;not-an-address&#34;, &#34;x@y&#34;, "
        "&#34;&lt;b&gt;@example.com&#34;.",
    ):
        assert message in html
    assert "ops@example.com&#34;" not in html  # the valid address is not reported
    assert plugin_config(site) == {"max_records": "2000"}
    _, shown = read_form(html, "config-form")
    assert shown["rate_limit"] == ["20000"]  # shown again to correct


# -- the PHP plugin's own sync task ----------------------------------------------------------------------


@pytest.fixture
def task_scheduled(site):
    metadata = sa.MetaData()
    table = sa.Table(
        f"{site.database.schema.prefix}task_scheduled", metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("classname", sa.String(255)),
        sa.Column("disabled", sa.Integer),
    )  # fmt: skip
    metadata.create_all(site.database.engine)
    yield table
    metadata.drop_all(site.database.engine)


def test_no_task_table_means_no_warning(admin_client):
    assert 'id="php-sync-task-warning"' not in html_of(admin_client, "")


def test_enabled_php_tasks_are_flagged(admin_client, site, task_scheduled):
    sync_task, alerts_task = PHP_TASKS
    with site.database.begin() as connection:
        connection.execute(task_scheduled.insert().values(classname=sync_task, disabled=0))
        connection.execute(task_scheduled.insert().values(classname=alerts_task.lstrip("\\"), disabled=0))
        connection.execute(task_scheduled.insert().values(classname="\\core\\task\\other_task", disabled=0))
    html = html_of(admin_client, "?tab=settings")
    assert 'id="php-sync-task-warning"' in html
    assert "sync_reporting_data_task</code>" in html and "check_alerts_task</code>" in html
    assert "other_task" not in html
    with site.database.begin() as connection:
        connection.execute(task_scheduled.update().values(disabled=1))
    assert 'id="php-sync-task-warning"' not in html_of(admin_client, "")


def test_unknown_post_is_refused(admin_client):
    token = read_form(html_of(admin_client, "?tab=settings"), "config-form")[1]["csrf_token"]
    response = admin_client.post(f"{PREFIX}{CC}", data={"csrf_token": token, "config_action": "delete"})
    assert response.status_code == 400
