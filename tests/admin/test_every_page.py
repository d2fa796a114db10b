"""Rules every admin page obeys, checked on every route the blueprint has (new pages are covered by default).

- a POST without the CSRF token is refused and changes nothing;
- a GET never changes a row of any table;
- names, messages and addresses containing markup render escaped;
- signed-out visitors get the login page (or a 401 JSON), never the page.
"""

import pytest
import sqlalchemy as sa

from alxbridge.sync.runs import run_sync

from .support import PREFIX, XSS

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
OPEN = {"admin.static", "admin.login", "admin.index"}


def admin_rules(app, method):
    return sorted(
        (rule for rule in app.url_map.iter_rules()
         if rule.endpoint.startswith("admin.") and rule.endpoint not in OPEN and method in rule.methods),
        key=lambda rule: rule.rule,
    )  # fmt: skip


@pytest.fixture(scope="module")
def hostile(site):
    """Companies, courses, users, errors, alerts and settings whose text is markup, synced into the reporting table."""
    company = site.company(XSS)
    user = site.user(XSS, XSS, companies=[company], username="hostile", email="x@example.com")
    course = site.course(XSS, companies=[company])
    site.enrol(user, course)
    site.complete_module(user, course.modules[0])
    site.api_service(tokens=1)
    site.api_call(user, error=XSS, company=XSS[:25])
    site.plugin_config("alert_emails", "ops@example.com")
    with site.database.begin() as connection:
        connection.execute(site.tables.local_alx_api_alerts.insert().values(
            alert_type="rate_limit_exceeded", severity="high", message=XSS, alert_data="{}", hostname=XSS,
            timecreated=site.now, resolved=0,
        ))  # fmt: skip
    run_sync(site.database, full=True)
    return {"companyid": company, "userid": user, "courseid": course.id}


def page_urls(app, hostile):
    """Every GET page, plus the views that only show a company's names once it is picked."""
    urls = [rule.rule for rule in admin_rules(app, "GET") if not rule.arguments]
    companyid = hostile["companyid"]
    urls += [
        f"{PREFIX}/control_center.php?tab={tab}&companyid={companyid}"
        for tab in ("overview", "companies", "data", "monitoring", "settings")
    ]
    urls += [
        f"{url}?companyid={companyid}"
        for url in urls
        if url.endswith(("company_settings.php", "view_reporting_data.php"))
    ]
    urls += [f"{PREFIX}/monitoring_dashboard_new.php?tab={tab}" for tab in ("autosync", "performance", "security")]
    return [url for url in urls if app.url_map.bind("localhost").test(url.split("?")[0], method="GET")]


def snapshot(database):
    """Every row of every table, to prove a request wrote nothing."""
    with database.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()), key=repr)
            for table in database.schema.metadata.sorted_tables
        }


def test_every_get_page_renders_escaped_and_writes_nothing(app, site, hostile, admin_client):
    before = snapshot(site.database)
    shown_escaped = []
    for url in page_urls(app, hostile):
        response = admin_client.get(url, follow_redirects=True)  # retired plugin pages redirect to their successor
        assert response.status_code == 200, f"{url}: {response.status_code}"
        body = response.get_data(as_text=True)
        assert XSS not in body, f"{url} prints markup unescaped"
        if ESCAPED in body:
            shown_escaped.append(url)
    assert snapshot(site.database) == before
    assert shown_escaped, "no page showed the hostile names at all"


def test_every_post_without_the_csrf_token_is_refused_and_writes_nothing(app, site, hostile, admin_client):
    before = snapshot(site.database)
    rules = [rule for rule in admin_rules(app, "POST") if not rule.arguments]
    assert rules
    for rule in rules:
        response = admin_client.post(
            rule.rule, data={"action": "save", "confirm": "1", "companyid": hostile["companyid"]}
        )
        assert response.status_code == 400, f"{rule.rule}: {response.status_code}"
        assert "form not accepted" in response.get_data(as_text=True), rule.rule
    assert snapshot(site.database) == before


def test_signed_out_visitors_never_see_a_page(app, site, hostile):
    client = app.test_client()
    for url in page_urls(app, hostile):
        response = client.get(url)
        if response.status_code == 401:
            assert response.is_json, url
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith(f"{PREFIX}/login.php"), url


def test_pages_forbid_third_party_assets_and_framing(app, site, admin_client):
    response = admin_client.get(f"{PREFIX}/control_center.php")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["Cache-Control"] == "no-store"
