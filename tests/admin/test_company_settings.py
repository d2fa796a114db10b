"""``company_settings.php``: a company's fields, courses, sync, cache and limit, saved so the web service follows."""

import itertools
import re

import pytest
import sqlalchemy as sa

from alxbridge.admin.settings_forms.company import FIELD_LABELS
from alxbridge.metrics.limits import DailyLimits
from alxbridge.moodle.plugin_settings import FIELD_NAMES, read_company_settings, read_plugin_settings
from alxbridge.moodle.siteconfig import site_timezone
from alxbridge.moodle.tokens import create_token
from alxbridge.reporting.quota import local_midnight
from alxbridge.sync.runs import run_sync

from .form_support import read_form, submit
from .support import PREFIX, XSS
from .ws_support import PROGRESS, SERVER, enable_web_service, progress_items

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
PAGE = "/company_settings.php"
TICKED, UNTICKED = ["0", "1"], ["0"]


@pytest.fixture(scope="module")
def acme(site):
    """Acme: two visible courses and a hidden one; learners in various states; a token for Alice."""
    enable_web_service(site)
    company = site.company("Acme Learning")
    alice = site.user("Alice", "Able", companies=[company])
    bob = site.user("Bob", "Baker", companies=[company])
    carol = site.user("Carol", "Cole", companies=[company], suspended=1)  # suspended in Moodle
    dave = site.user("Dave", "Dunn")
    site.add_to_company(dave, company, suspended=1)  # suspended in the company
    erin = site.user("Erin", "Eve")  # not a member
    maths = site.course("Maths", companies=[company])
    science = site.course("Science", companies=[company])
    site.course("Hidden Course", companies=[company], visible=0)
    for user in (alice, bob, carol, dave, erin):
        site.enrol(user, maths)
    site.enrol(alice, science, status=1)  # suspended enrolment
    site.enrol(bob, science)
    site.enrol(bob, science, method="self", timeend=site.now - 60)  # an ended second enrolment
    with site.database.begin() as connection:
        token = create_token(connection, site.tables, "alice.able", now=site.now)
    return {"id": company, "maths": maths.id, "science": science.id, "token": token, "alice": alice, "bob": bob}


@pytest.fixture(autouse=True)
def clean_settings(site):
    yield
    site.empty(site.tables.local_alx_api_settings, site.tables.config_plugins)


def stored(site, companyid):
    table = site.tables.local_alx_api_settings
    with site.database.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.setting_name, table.c.setting_value).where(table.c.companyid == companyid)
        )
        return dict(rows.all())


def page(client, companyid):
    response = client.get(f"{PREFIX}{PAGE}?companyid={companyid}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_field_labels_cover_every_api_field():
    assert list(FIELD_LABELS) == [f"field_{name}" for name in FIELD_NAMES]


def test_picker_lists_companies_by_name(admin_client, acme):
    html = admin_client.get(f"{PREFIX}{PAGE}").get_data(as_text=True)
    assert 'id="company-picker"' in html and 'id="company-settings-form"' not in html
    assert f'<option value="{acme["id"]}">Acme Learning</option>' in html


def test_form_shows_defaults_courses_and_enrolled_users(admin_client, acme):
    html = page(admin_client, acme["id"])
    _, data = read_form(html, "company-settings-form")
    assert all(data[name] == TICKED for name in FIELD_LABELS)
    assert data[f"course_{acme['maths']}"] == TICKED and data[f"course_{acme['science']}"] == TICKED
    assert "Hidden Course" not in html  # hidden courses are never exposed
    # Maths: Alice and Bob (Carol is suspended, Dave suspended in the company, Erin not a member).
    # Science: Bob only (Alice's enrolment is suspended; Bob's ended second enrolment does not add a user).
    assert f'id="learners-{acme["maths"]}">2<' in html
    assert f'id="learners-{acme["science"]}">1<' in html
    assert data["sync_mode"] == ["0"] and data["sync_window_hours"] == ["24"] and data["cache_ttl_minutes"] == ["60"]
    assert data["first_sync_hours"] == ["0"] and data["cache_enabled"] == TICKED and data["rate_limit"] == [""]
    assert 'placeholder="Using global limit: 100"' in html
    assert "Historical data required" in html  # no reporting rows yet


def test_saving_an_unchanged_form_writes_nothing(admin_client, site, acme):
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{PAGE}?companyid={acme['id']}")
    assert stored(site, acme["id"]) == {}
    assert "Settings of Acme Learning: nothing changed." in page(admin_client, acme["id"])


def test_field_toggle_changes_the_web_service_response(admin_client, site, acme):
    before = progress_items(admin_client, acme["token"])
    assert before and all("email" in item for item in before)

    response = submit(
        admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"field_email": UNTICKED}
    )
    assert response.status_code == 302
    assert stored(site, acme["id"]) == {"field_email": 0}
    after = progress_items(admin_client, acme["token"])
    assert len(after) == len(before)
    assert all("email" not in item and "firstname" in item for item in after)
    html = page(admin_client, acme["id"])
    assert "Settings of Acme Learning: 1 change saved. Email Address: on → off." in html
    assert read_form(html, "company-settings-form")[1]["field_email"] == UNTICKED


def test_field_toggle_changes_the_response_after_a_sync(admin_client, site):
    company = site.company("Synced Co")
    fay = site.user("Fay", "Synced", companies=[company])
    site.enrol(fay, site.course("Geography", companies=[company]))
    run_sync(site.database, full=True, companyid=company)
    with site.database.begin() as connection:
        token = create_token(connection, site.tables, "fay.synced", now=site.now)
    assert [item["lastname"] for item in progress_items(admin_client, token)] == ["Synced"]
    assert "Data Status: Ready." in page(admin_client, company)

    response = submit(
        admin_client, f"{PAGE}?companyid={company}", "company-settings-form", {"field_lastname": UNTICKED}
    )
    assert response.status_code == 302
    items = progress_items(admin_client, token)
    assert len(items) == 1 and "lastname" not in items[0] and items[0]["firstname"] == "Fay"


def test_unticking_a_course_writes_every_course_row(admin_client, site, acme):
    maths, science = f"course_{acme['maths']}", f"course_{acme['science']}"
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {maths: UNTICKED})
    assert response.status_code == 302
    # One course row ends "no rows: every course enabled", so Science gets its row too.
    assert stored(site, acme["id"]) == {maths: 0, science: 1}
    items = progress_items(admin_client, acme["token"])
    assert {item["courseid"] for item in items} == {acme["science"]}
    assert "Course Maths (ID: " in page(admin_client, acme["id"])


def test_out_of_range_values_are_reported_and_nothing_is_saved(admin_client, site, acme):
    changes = {
        "field_email": UNTICKED, "sync_window_hours": "168", "first_sync_hours": "-1", "cache_ttl_minutes": "1440",
        "rate_limit": "10001", "sync_mode": "7",
    }  # fmt: skip
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", changes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was saved" in html
    stores = "(the plugin&#39;s settings table stores at most 127)"
    for message in (
        f"Incremental Window (Hours): 168 is out of range; enter a whole number from 1 to 127 {stores}.",
        f"Initial Response Window (Hours): -1 is out of range; enter a whole number from 0 to 127 {stores}.",
        f"Cache TTL (Minutes): 1440 is out of range; enter a whole number from 1 to 127 {stores}.",
        "Rate Limit (Requests/Day): 10001 is out of range; enter a whole number from 1 to 10000.",
        "Response Mode: choose one of 0 (Auto (Intelligent)), 1 (Always Incremental Response)",
    ):
        assert message in html
    assert stored(site, acme["id"]) == {}
    _, shown = read_form(html, "company-settings-form")  # the admin's input is shown again to correct
    assert shown["sync_window_hours"] == ["168"] and shown["field_email"] == UNTICKED


def test_text_where_a_number_belongs_is_reported(admin_client, site, acme):
    response = submit(
        admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"cache_ttl_minutes": "thirty"}
    )
    assert response.status_code == 400
    assert "Cache TTL (Minutes): enter a whole number from 1 to 127" in response.get_data(as_text=True)
    assert stored(site, acme["id"]) == {}


def test_inputs_a_mode_disables_keep_their_stored_values(admin_client, site, acme):
    for name, value in (("sync_window_hours", 48), ("first_sync_hours", 12), ("cache_enabled", 0)):
        site.company_setting(acme["id"], name, value)
    site.company_setting(acme["id"], "cache_ttl_minutes", 30)
    # Mode 3 (Disabled): the page's script disables the windows and the cache inputs, so they are not posted.
    disabled = ("sync_window_hours", "first_sync_hours", "cache_enabled", "cache_ttl_minutes")
    response = submit(
        admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"sync_mode": "3"}, drop=disabled
    )
    assert response.status_code == 302
    assert stored(site, acme["id"]) == {
        "sync_window_hours": 48, "first_sync_hours": 12, "cache_enabled": 0, "cache_ttl_minutes": 30, "sync_mode": 3,
    }  # fmt: skip
    html = page(admin_client, acme["id"])
    assert '<option value="3" selected>Disabled</option>' in html
    assert "Response Mode: Auto (Intelligent) → Disabled." in html


def test_rate_limit_set_then_cleared_to_the_global_limit(admin_client, site, acme):
    form = f"{PAGE}?companyid={acme['id']}"
    assert submit(admin_client, form, "company-settings-form", {"rate_limit": "50"}).status_code == 302
    assert stored(site, acme["id"]) == {"rate_limit": 50}
    html = page(admin_client, acme["id"])
    assert read_form(html, "company-settings-form")[1]["rate_limit"] == ["50"]
    assert "Rate Limit (Requests/Day): global limit → 50." in html

    assert submit(admin_client, form, "company-settings-form", {"rate_limit": ""}).status_code == 302
    assert stored(site, acme["id"]) == {}
    assert "Rate Limit (Requests/Day): 50 → global limit." in page(admin_client, acme["id"])


def test_copy_from_global_template(admin_client, site, acme):
    site.plugin_config("field_email", "0")  # the plugin's `?: 1` turned this back on; here it hides the field
    site.plugin_config("field_status", "")  # empty means on
    site.company_setting(acme["id"], "field_userid", 0)
    site.company_setting(acme["id"], f"course_{acme['maths']}", 0)
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "copy-template-form")
    assert response.status_code == 302
    assert stored(site, acme["id"]) == {
        "field_userid": 1, "field_email": 0, f"course_{acme['maths']}": 1, f"course_{acme['science']}": 1,
    }  # fmt: skip
    html = page(admin_client, acme["id"])
    # Science had no row while Maths had one, so the API (and the form) had Science off as well.
    assert (
        f"Global template copied to Acme Learning: 4 changes saved. User ID: off → on; Email Address: on → off; "
        f"Course Maths (ID: {acme['maths']}): off → on; Course Science (ID: {acme['science']}): off → on."
    ) in html
    assert all("email" not in item and "userid" in item for item in progress_items(admin_client, acme["token"]))


def test_todays_usage_counts_the_company_users_calls_since_midnight(admin_client, site):
    company = site.company("Umbrella")
    ann = site.user("Ann", "Umber", companies=[company])
    ben = site.user("Ben", "Umber", companies=[company])
    outsider = site.user("Out", "Sider")
    with site.database.connect() as connection:
        midnight = local_midnight(site.now, site_timezone(connection, site.tables))
    for at in (midnight, midnight + 1, midnight + 2):
        site.api_call(ann, at=at)
    site.api_call(ann, at=midnight - 1)  # yesterday
    site.api_call(ben, at=midnight + 5, error="Invalid limit")  # errors count too
    site.api_call(outsider, at=midnight + 5)
    site.company_setting(company, "rate_limit", 5)
    html = page(admin_client, company)
    # 3 (Ann today) + 1 (Ben) = 4 calls by 2 owners; Ann, the busiest, is at 3 of 5 = 60 %.
    assert "4 requests by 2 token owners." in html and "Busiest: 3 / 5 (60.0%), OK." in html
    assert 'class="alert alert-light border py-2"' in html
    site.api_call(ann, at=midnight + 6)  # Ann: 4 of 5 = 80 %, the warning style
    html = page(admin_client, company)
    assert "Busiest: 4 / 5 (80.0%), Warning." in html


def test_names_are_escaped(admin_client, site):
    company = site.company(XSS)
    site.course(XSS, companies=[company])
    html = page(admin_client, company)
    assert XSS not in html and f"API Settings for: {ESCAPED}" in html
    assert 'for="course_' in html and f">{ESCAPED}</label>" in html
    response = submit(admin_client, f"{PAGE}?companyid={company}", "company-settings-form", {"field_email": UNTICKED})
    assert response.status_code == 302
    html = page(admin_client, company)
    assert XSS not in html and f"Settings of {ESCAPED}: 1 change saved." in html


def test_unknown_company_and_action_are_refused(admin_client, site, acme):
    token = read_form(page(admin_client, acme["id"]), "company-settings-form")[1]["csrf_token"]
    missing = admin_client.post(f"{PREFIX}{PAGE}", data={"csrf_token": token, "companyid": "999", "action": "save"})
    assert missing.status_code == 404 and "There is no company with id 999." in missing.get_data(as_text=True)
    unknown = admin_client.post(
        f"{PREFIX}{PAGE}", data={"csrf_token": token, "companyid": acme["id"], "action": "copytemplate"}
    )
    assert unknown.status_code == 400
    assert stored(site, acme["id"]) == {}


REPORTED = itertools.count(1)
POWER_QUERY_AGENT = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"


def call_as(client, token, user_agent):
    """One get_course_progress call with ``user_agent``, as that client sends it (logged with its agent)."""
    response = client.post(
        SERVER, data={"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json"},
        headers={"User-Agent": user_agent},
    )  # fmt: skip
    assert isinstance(response.get_json(), list), response.get_data(as_text=True)


@pytest.fixture
def reported(site):
    """A company whose report owner has a token; ``(companyid, token)``."""
    name = f"Reported {next(REPORTED)}"
    company = site.company(name)
    owner = site.user("Rita", f"Reporter{company}", companies=[company])
    site.enrol(owner, site.course(f"{name} course", companies=[company]))
    with site.database.begin() as connection:
        return company, create_token(connection, site.tables, f"rita.reporter{company}", now=site.now)


def test_clients_card_counts_the_calls_of_each_kind_of_client(admin_client, reported):
    company, token = reported
    assert "No calls in the last 7 days." in page(admin_client, company)
    for agent in (POWER_QUERY_AGENT, POWER_QUERY_AGENT, "PostmanRuntime/7.39.0", "python-requests/2.32.3", ""):
        call_as(admin_client, token, agent)
    html = page(admin_client, company)
    table = html[html.index('id="company-clients-table"') : html.index("</table>", html.index("company-clients"))]
    assert re.findall(r'<th scope="row">([^<]+)</th><td class="text-end">(\d+)</td>', table) == [
        ("Power Query (Power BI, Excel)", "2"), ("Postman / newman", "1"),
        ("Scripts (curl, Python, PowerShell, …)", "1"), ("Other or none", "1"),
    ]  # fmt: skip
    assert 'id="power-query-warning"' not in html  # Auto mode answers Power Query in full


def test_always_incremental_read_by_power_query_is_warned_about(admin_client, site, reported):
    company, token = reported
    call_as(admin_client, token, "python-requests/2.32.3")
    site.company_setting(company, "sync_mode", 1)
    assert 'id="power-query-warning"' not in page(admin_client, company)  # only scripts, which merge
    call_as(admin_client, token, POWER_QUERY_AGENT)
    html = page(admin_client, company)
    assert "Power BI will show only the changes." in html
    assert "1 call of the last 7 days came from Power Query" in " ".join(html.split())
    site.company_setting(company, "sync_mode", 2)
    assert 'id="power-query-warning"' not in page(admin_client, company)


def test_a_daily_limit_above_127_is_kept_in_the_bridges_table_and_applies(admin_client, site, acme):
    """The plugin's TINYINT keeps 127; the bridge's table keeps 500, which every reader of the limit sees."""
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"rate_limit": "500"})
    assert response.status_code == 302
    plugin, wide = site.tables.local_alx_api_settings, site.tables.local_alxbridge_company_setting
    with site.database.connect() as connection:
        stored = connection.execute(
            sa.select(plugin.c.setting_value).where(
                plugin.c.companyid == acme["id"], plugin.c.setting_name == "rate_limit"
            )
        ).scalar()
        kept = connection.execute(sa.select(wide.c.setting_value).where(wide.c.companyid == acme["id"])).scalar()
        limits = DailyLimits(connection, site.tables, read_plugin_settings(connection, site.tables))
        assert (stored, kept, limits.of_company(acme["id"])) == (127, 500, 500)
    html = admin_client.get(f"{PREFIX}{PAGE}?companyid={acme['id']}").get_data(as_text=True)
    assert 'name="rate_limit"' in html and 'value="500"' in html
    # Back to a value the plugin's table holds: the bridge's row goes; then back to the global limit.
    submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"rate_limit": "90"})
    with site.database.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(wide)).scalar() == 0
        assert read_company_settings(connection, site.tables, acme["id"]).rate_limit == 90
    submit(admin_client, f"{PAGE}?companyid={acme['id']}", "company-settings-form", {"rate_limit": ""})
    with site.database.connect() as connection:
        assert read_company_settings(connection, site.tables, acme["id"]).rate_limit is None


def test_an_unknown_company_id_is_said_not_silently_dropped(admin_client):
    response = admin_client.get(f"{PREFIX}{PAGE}?companyid=999")
    assert response.status_code == 404
    assert "There is no company with ID 999" in response.get_data(as_text=True)
