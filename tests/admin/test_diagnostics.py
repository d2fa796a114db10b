"""``fix_missing_tables.php`` and ``fix_webservice_access.php``: look on GET, change only what the admin asked."""

import pytest
import sqlalchemy as sa

from .support import PREFIX, XSS, csrf_token, post_form

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
TABLES_URL = f"{PREFIX}/fix_missing_tables.php"
WS_URL = f"{PREFIX}/fix_webservice_access.php"
FUNCTION = "local_alx_report_api_get_course_progress"


def table_row(body, name):
    start = body.index(f'id="table-{name}"')
    return body[start : body.index("</tr>", start)]


def check_row(body, key):
    start = body.index(f'id="check-{key}"')
    return body[start : body.index("</tr>", start)]


def test_every_table_present_shows_no_create_button(admin_client, site):
    body = admin_client.get(TABLES_URL).get_data(as_text=True)
    plugin = ("logs", "settings", "reporting", "sync_status", "cache", "alerts")
    for name in [f"local_alx_api_{table}" for table in plugin] + ["local_alxbridge_sync_run"]:
        assert "Present" in table_row(body, name), name
    assert 'id="tables-ok"' in body and 'name="create_tables"' not in body
    assert 'id="system-checks"' in body and "Web services enabled" in body


def test_a_missing_table_is_detected_and_created(admin_client, site):
    cache = site.tables.local_alx_api_cache
    cache.drop(site.database.engine)
    body = admin_client.get(TABLES_URL).get_data(as_text=True)
    assert "Missing" in table_row(body, "local_alx_api_cache") and "missing table (check only)" in body
    assert cache.name not in sa.inspect(site.database.engine).get_table_names()  # the GET only looked

    response = post_form(admin_client, TABLES_URL, {"create_tables": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/fix_missing_tables.php")
    assert cache.name in sa.inspect(site.database.engine).get_table_names()
    body = admin_client.get(TABLES_URL).get_data(as_text=True)
    assert f"{cache.name}: added table" in body and "0 difference(s) left, all tables match install.xml" in body
    assert "Present" in table_row(body, "local_alx_api_cache")


def test_a_dropped_index_is_recreated(admin_client, site):
    logs = site.tables.local_alx_api_logs
    [index] = [i for i in logs.indexes if [c.name for c in i.columns] == ["timeaccessed"]]
    index.drop(site.database.engine)
    body = admin_client.get(TABLES_URL).get_data(as_text=True)
    assert "Differs" in table_row(body, "local_alx_api_logs")
    assert f"missing index {index.name} (timeaccessed) (check only)" in body

    post_form(admin_client, TABLES_URL, {"create_tables": "1"})
    present = {tuple(i["column_names"]) for i in sa.inspect(site.database.engine).get_indexes(logs.name)}
    assert ("timeaccessed",) in present
    assert f"added index {index.name} (timeaccessed)" in admin_client.get(TABLES_URL).get_data(as_text=True)


def test_a_column_the_plugin_does_not_declare_is_reported_and_left_alone(admin_client, site):
    alerts = site.tables.local_alx_api_alerts.name
    with site.database.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE {alerts} ADD COLUMN extra_note VARCHAR(10)"))
    try:
        body = admin_client.get(TABLES_URL).get_data(as_text=True)
        assert "column extra_note is not in install.xml; left unchanged" in table_row(body, "local_alx_api_alerts")
        assert 'name="create_tables"' not in body  # nothing a repair would add
        post_form(admin_client, TABLES_URL, {"create_tables": "1"})
        columns = {c["name"] for c in sa.inspect(site.database.engine).get_columns(alerts)}
        assert "extra_note" in columns
    finally:
        with site.database.begin() as connection:
            connection.execute(sa.text(f"ALTER TABLE {alerts} DROP COLUMN extra_note"))


def test_an_unknown_table_action_changes_nothing(admin_client, site):
    response = post_form(admin_client, TABLES_URL, {"create_tables": "yes"})
    assert response.status_code == 302
    assert "Unknown action: nothing was changed." in admin_client.get(TABLES_URL).get_data(as_text=True)


# ---- fix_webservice_access.php


@pytest.fixture
def broken_site(site):
    """Web services off, only SOAP, no service, no function: every check fails."""
    tables = site.tables
    site.empty(tables.external_tokens, tables.external_services_functions, tables.external_services,
               tables.external_functions, tables.external_services_users)  # fmt: skip
    site.core_config("enablewebservices", 0)
    site.core_config("webserviceprotocols", "soap")
    return site


def state(site):
    tables = site.tables
    with site.database.connect() as connection:
        config = dict(connection.execute(sa.select(tables.config.c.name, tables.config.c.value)).all())
        services = connection.execute(
            sa.select(tables.external_services.c.shortname, tables.external_services.c.enabled,
                      tables.external_services.c.restrictedusers)
        ).all()  # fmt: skip
        functions = connection.execute(sa.select(tables.external_functions.c.name)).scalars().all()
        mapped = connection.execute(sa.select(tables.external_services_functions.c.functionname)).scalars().all()
    return {
        "enablewebservices": config.get("enablewebservices"),
        "protocols": config.get("webserviceprotocols"),
        "services": [tuple(s) for s in services],
        "functions": functions,
        "mapped": mapped,
    }


def fix(client, *keys):
    html = client.get(WS_URL).get_data(as_text=True)
    return client.post(WS_URL, data={"fix_issues": "1", "fix": list(keys), "csrf_token": csrf_token(html)})


def test_every_problem_is_shown_with_its_own_checkbox(admin_client, broken_site):
    body = admin_client.get(WS_URL).get_data(as_text=True)
    assert 'id="webservice-problems"' in body
    for key in ("enable_webservices", "enable_rest", "create_service", "register_function", "map_function"):
        assert f'name="fix" value="{key}"' in check_row(body, key), key
    assert 'name="fix" value="tokens"' not in body and "Create an API token" in check_row(body, "tokens")
    assert "restrictedusers = 0" in body and 'id="restricted-users-note"' in body


def test_only_the_ticked_fixes_are_applied(admin_client, broken_site):
    response = fix(admin_client, "enable_rest", "create_service")
    assert response.status_code == 302 and response.headers["Location"].endswith("/fix_webservice_access.php")
    assert state(broken_site) == {
        "enablewebservices": "0",
        "protocols": "soap,rest",
        "services": [("alx_report_api_custom", 1, 0)],
        "functions": [],
        "mapped": [],
    }
    body = admin_client.get(WS_URL).get_data(as_text=True)
    assert "Fixed: Add rest to webserviceprotocols." in body
    assert "Fixed: Create the service alx_report_api_custom (enabled, restrictedusers = 0)." in body
    assert "Fixed: Set enablewebservices" not in body

    fix(admin_client, "register_function", "map_function", "enable_webservices")
    after = state(broken_site)
    assert after["enablewebservices"] == "1" and after["functions"] == [FUNCTION] and after["mapped"] == [FUNCTION]
    body = admin_client.get(WS_URL).get_data(as_text=True)
    assert "Purge caches" in body
    assert 'name="fix"' not in body  # everything fixable is fixed; only the missing token is left
    assert "Problem" in check_row(body, "tokens")


def test_fixes_that_cannot_work_together_change_nothing(admin_client, broken_site):
    before = state(broken_site)
    fix(admin_client, "enable_rest", "map_function")  # the mapping needs the service, which is not ticked
    assert state(broken_site) == before
    assert "tick “Create the service” too. Nothing was changed." in admin_client.get(WS_URL).get_data(as_text=True)
    fix(admin_client, "enable_rest", "drop_database")
    assert state(broken_site) == before
    assert "An unknown fix was requested" in admin_client.get(WS_URL).get_data(as_text=True)
    fix(admin_client)
    assert "Tick at least one fix to apply." in admin_client.get(WS_URL).get_data(as_text=True)


def test_a_disabled_legacy_service_is_enabled_and_reported_as_legacy(admin_client, broken_site):
    broken_site.api_service(shortname="alx_report_api", enabled=0, tokens=1)
    body = admin_client.get(WS_URL).get_data(as_text=True)
    assert "alx_report_api (the legacy shortname)" in check_row(body, "create_service")
    assert 'value="create_service"' not in body and 'value="enable_service"' in body
    fix(admin_client, "enable_service", "map_function")
    assert state(broken_site)["services"] == [("alx_report_api", 1, 0)]
    assert state(broken_site)["mapped"] == [FUNCTION]
    assert "1 active token(s)" in admin_client.get(WS_URL).get_data(as_text=True)


def test_the_token_check_never_echoes_the_token(admin_client, broken_site):
    owner = broken_site.user(XSS, "Owner", username="owner")
    service = broken_site.api_service(tokens=0)
    token = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    broken_site._insert(broken_site.tables.external_tokens, token=token, tokentype=0, userid=owner,
                        externalserviceid=service, contextid=1, validuntil=broken_site.now - 60,
                        timecreated=broken_site.now)  # fmt: skip
    html = admin_client.get(WS_URL).get_data(as_text=True)
    response = admin_client.post(WS_URL, data={"check_token": "1", "token": token, "csrf_token": csrf_token(html)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and token not in body and token[8:] not in body
    assert "<code>a1b2c3d4…</code>" in body and "will be refused" in body
    assert "expired on" in body and "the service does not offer" in body
    assert ESCAPED in body and XSS not in body

    unknown = "ffffeeeeddddccccbbbbaaaa99998888"
    response = admin_client.post(WS_URL, data={"check_token": "1", "token": unknown, "csrf_token": csrf_token(html)})
    body = response.get_data(as_text=True)
    assert unknown not in body and "no token of this site matches" in body and "ffffeeee…" in body


def test_the_archived_service_tools_lead_to_the_new_page(admin_client):
    for page in ("fix_service.php", "service_verification.php"):
        response = admin_client.get(f"{PREFIX}/{page}")
        assert response.status_code == 302 and response.headers["Location"].endswith("/fix_webservice_access.php")
